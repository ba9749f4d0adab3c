/**
 * The protobuf Writer of src/injector/wire.ts against protobufjs's writer: the same bytes for
 * varints (int32 negatives sign-extended to 10 bytes), bools, UTF-8 strings, bytes and nested
 * messages, and what it writes reads back through the Reader.
 */
import test from 'ava';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { LENGTH, Reader, Writer } from '../src/injector/wire.js';

type Field =
  | { kind: 'uint32'; field: number; n: number }
  | { kind: 'int32'; field: number; n: number }
  | { kind: 'bool'; field: number; b: boolean }
  | { kind: 'string'; field: number; s: string }
  | { kind: 'bytes'; field: number; b: Uint8Array }
  | { kind: 'message'; field: number; inner: Field[] };

const fieldNumber = fc.integer({ min: 1, max: 536_870_911 });
const leaf: fc.Arbitrary<Field> = fc.oneof(
  fc.record({ kind: fc.constant('uint32' as const), field: fieldNumber, n: fc.nat({ max: 0xffffffff }) }),
  fc.record({ kind: fc.constant('int32' as const), field: fieldNumber, n: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) }),
  fc.record({ kind: fc.constant('bool' as const), field: fieldNumber, b: fc.boolean() }),
  fc.record({ kind: fc.constant('string' as const), field: fieldNumber, s: fc.string({ unit: 'grapheme', maxLength: 40 }) }),
  // Past the short-ASCII path (127 units) and past a one-byte nested length.
  fc.record({ kind: fc.constant('string' as const), field: fieldNumber, s: fc.string({ minLength: 120, maxLength: 300 }) }),
  fc.record({ kind: fc.constant('bytes' as const), field: fieldNumber, b: fc.uint8Array({ maxLength: 300 }) }),
);
const fields: fc.Arbitrary<Field[]> = fc.array(
  fc.oneof(
    leaf,
    fc.record({ kind: fc.constant('message' as const), field: fieldNumber, inner: fc.array(leaf, { maxLength: 4 }) }),
  ),
  { maxLength: 8 },
);

function ours(w: Writer, list: Field[]): void {
  for (const f of list) {
    if (f.kind === 'uint32' || f.kind === 'int32') w.uint32(f.field, f.n);
    else if (f.kind === 'bool') w.bool(f.field, f.b);
    else if (f.kind === 'string') w.string(f.field, f.s);
    else if (f.kind === 'bytes') w.bytes(f.field, f.b);
    else w.message(f.field, (sub) => ours(sub, f.inner));
  }
}

function theirs(w: protobuf.Writer, list: Field[]): protobuf.Writer {
  for (const f of list) {
    if (f.kind === 'uint32') w.uint32((f.field << 3) >>> 0).uint32(f.n);
    else if (f.kind === 'int32') w.uint32((f.field << 3) >>> 0).int32(f.n);
    else if (f.kind === 'bool') w.uint32((f.field << 3) >>> 0).bool(f.b);
    else if (f.kind === 'string') w.uint32(((f.field << 3) | LENGTH) >>> 0).string(f.s);
    else if (f.kind === 'bytes') w.uint32(((f.field << 3) | LENGTH) >>> 0).bytes(f.b);
    else theirs(w.uint32(((f.field << 3) | LENGTH) >>> 0).fork(), f.inner).ldelim();
  }
  return w;
}

test('the same bytes as protobufjs for generated fields (small initial buffer: growth is exercised)', (t) => {
  fc.assert(
    fc.property(fields, (list) => {
      const w = new Writer(1);
      ours(w, list);
      t.deepEqual(w.finish(), Buffer.from(theirs(protobuf.Writer.create(), list).finish()));
    }),
    { numRuns: 600 },
  );
});

test('a negative int32 is ten bytes and reads back as its low 32 bits', (t) => {
  const bytes = new Writer().uint32(1, -1).finish();
  t.is(bytes.length, 11);
  const r = new Reader(bytes, 0, bytes.length);
  t.is(r.uint32(), 8);
  t.is(r.uint32(), 0xffffffff);
});

test('strings and nested messages read back through the Reader', (t) => {
  const bytes = new Writer()
    .string(1, 'héllo ✓ 𝄞')
    .message(2, (w) => w.string(3, 'inner').bytes(4, Buffer.from([0, 255])))
    .message(5, () => undefined)
    .finish();
  const r = new Reader(bytes, 0, bytes.length);
  t.is(r.uint32(), (1 << 3) | LENGTH);
  t.is(r.string(), 'héllo ✓ 𝄞');
  t.is(r.uint32(), (2 << 3) | LENGTH);
  const sub = r.sub();
  t.is(sub.uint32(), (3 << 3) | LENGTH);
  t.is(sub.string(), 'inner');
  t.is(sub.uint32(), (4 << 3) | LENGTH);
  t.deepEqual(sub.bytes(), Buffer.from([0, 255]));
  t.is(r.uint32(), (5 << 3) | LENGTH);
  t.is(r.uint32(), 0, 'an empty message is written with length 0');
  t.is(r.pos, bytes.length);
});
