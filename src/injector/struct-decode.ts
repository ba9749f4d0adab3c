/**
 * google.protobuf.Struct, Value and ListValue, read by hand over wire.ts's Reader into the object
 * form protobufjs's toObject gives them with the generated types' options (camelCase member names,
 * the enum as its name, the virtual oneof field `kind`, no defaults), so that a hand-written
 * decoder (sds-codec.ts: Envoy's node metadata) needs no protobuf descriptors.
 *
 * Nesting is bounded as protobufjs's decoder bounds it: a message more than 100 levels below the
 * top-level one is refused (callers pass each message's depth, the top-level message being 0), so
 * a hostile message of nested structs cannot exhaust the stack, and both decoders accept the same
 * messages.
 *
 * Two deliberate departures from protobufjs, both on messages no protobuf encoder writes:
 * - a Value carrying several members of its oneof keeps the last one read (protobuf's rule);
 *   protobufjs keeps them all, with `kind` naming the one declared last;
 * - a Struct entry without a value maps its key to an empty Value (protobuf's default); protobufjs
 *   stores null there and its toObject then throws a TypeError.
 */
import type { ListValue__Output } from '../generated/google/protobuf/ListValue.js';
import type { NullValue__Output } from '../generated/google/protobuf/NullValue.js';
import type { Struct__Output } from '../generated/google/protobuf/Struct.js';
import type { Value__Output } from '../generated/google/protobuf/Value.js';
import { LENGTH, ProtoWireError, type Reader, VARINT, putEntry } from './wire.js';

/** protobufjs's Reader.recursionLimit: the deepest message level it decodes (the top level is 0). */
export const MAX_MESSAGE_DEPTH = 100;
const FIXED64 = 1;

function enter(depth: number, what: string): void {
  if (depth > MAX_MESSAGE_DEPTH) throw new ProtoWireError(`${what} nested deeper than ${MAX_MESSAGE_DEPTH} messages`);
}

/** A double (fixed64 wire type), little-endian. */
function double(r: Reader): number {
  if (r.pos + 8 > r.end) throw new ProtoWireError('truncated fixed-width field');
  const n = r.buf.readDoubleLE(r.pos);
  r.pos += 8;
  return n;
}

/**
 * NullValue as toObject names it: the only value, 0, by its name; any other number stays a number
 * (protobufjs's rule for enum values it does not know; the generated type does not admit it).
 */
function nullValue(n: number): NullValue__Output {
  return n === 0 ? 'NULL_VALUE' : (n as unknown as NullValue__Output);
}

/**
 * google.protobuf.Value at message depth `depth`: null_value 1, number_value 2, string_value 3,
 * bool_value 4, struct_value 5, list_value 6 (one oneof, `kind`). Throws ProtoWireError.
 */
export function decodeValue(r: Reader, depth: number): Value__Output {
  enter(depth, 'google.protobuf.Value');
  let value: Value__Output = {};
  while (r.pos < r.end) {
    const tag = r.uint32();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === 1 && wireType === VARINT) value = { nullValue: nullValue(r.uint32() | 0), kind: 'nullValue' };
    else if (field === 2 && wireType === FIXED64) value = { numberValue: double(r), kind: 'numberValue' };
    else if (field === 3 && wireType === LENGTH) value = { stringValue: r.string(), kind: 'stringValue' };
    else if (field === 4 && wireType === VARINT) value = { boolValue: r.uint32() !== 0, kind: 'boolValue' };
    else if (field === 5 && wireType === LENGTH) value = { structValue: decodeStruct(r.sub(), depth + 1), kind: 'structValue' };
    else if (field === 6 && wireType === LENGTH) value = { listValue: decodeListValue(r.sub(), depth + 1), kind: 'listValue' };
    else r.skip(wireType);
  }
  return value;
}

/** google.protobuf.ListValue at message depth `depth`: repeated Value values = 1. Throws ProtoWireError. */
export function decodeListValue(r: Reader, depth: number): ListValue__Output {
  enter(depth, 'google.protobuf.ListValue');
  const list: ListValue__Output = {};
  while (r.pos < r.end) {
    const tag = r.uint32();
    if (tag >>> 3 === 1 && (tag & 7) === LENGTH) (list.values ??= []).push(decodeValue(r.sub(), depth + 1));
    else r.skip(tag & 7);
  }
  return list;
}

/**
 * google.protobuf.Struct at message depth `depth`: map<string, Value> fields = 1 (the Values one
 * level deeper, as protobufjs counts: the map entry is not a level). Throws ProtoWireError.
 */
export function decodeStruct(r: Reader, depth: number): Struct__Output {
  enter(depth, 'google.protobuf.Struct');
  const struct: Struct__Output = {};
  while (r.pos < r.end) {
    const tag = r.uint32();
    if (tag >>> 3 === 1 && (tag & 7) === LENGTH) structEntry(r.sub(), (struct.fields ??= {}), depth + 1);
    else r.skip(tag & 7);
  }
  return struct;
}

/** One Struct entry (key 1, value 2) into `into`; the last entry of a key wins. */
function structEntry(r: Reader, into: Record<string, Value__Output>, valueDepth: number): void {
  let key = '';
  let value: Value__Output | undefined;
  while (r.pos < r.end) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1 && (tag & 7) === LENGTH) key = r.string();
    else if (field === 2 && (tag & 7) === LENGTH) value = decodeValue(r.sub(), valueDepth);
    else r.skip(tag & 7);
  }
  putEntry(into, key, value ?? {});
}
