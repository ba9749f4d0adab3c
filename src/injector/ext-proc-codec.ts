/**
 * The injector's ext_proc codec (envoy.service.ext_proc.v3.ExternalProcessor/Process), written by
 * hand over wire.ts so that a per-pod injector loads neither protobufjs nor a .proto file: the
 * shared Root of envoy-grpc.ts costs 4-5 MiB of heap per pod (docs/PERFORMANCE.md). envoy-grpc.ts
 * stays the generic codec of the clients (tests, the benchmark), and test/ext-proc-codec.test.ts
 * compares the two.
 *
 * Reading a ProcessingRequest decodes only what the injector reads (ext-proc.ts, headerPairs in
 * ext-proc-messages.ts, ext-proc-identity.ts), into the objects protobufjs's decode + toObject
 * builds with the generated types' options (keepCase, enums as names, virtual oneof fields, no
 * defaults):
 *
 *   request (oneof), request_headers / response_headers: headers.headers[].{key, value, raw_value}, end_of_stream
 *                    request_body / response_body: body, end_of_stream
 *                    request_trailers / response_trailers: {} (their content is not read)
 *   attributes: map<string, google.protobuf.Struct>, every Struct, Value and ListValue in it
 *   observability_mode
 *
 * metadata_context, HttpHeaders.attributes and the trailers are skipped unread. Wire rules as in
 * check-decode.ts: the last occurrence of a singular field wins (a message is replaced, not
 * merged), a field with an unexpected wire type is unknown, unknown fields and groups are skipped,
 * a `__proto__` map key is an own property, and malformed bytes throw ProtoWireError. The Structs
 * are read by struct-decode.ts (shared with SDS's node metadata), at most as deep as protobufjs
 * decodes messages (100 levels), so a hostile nesting is a ProtoWireError, never a stack overflow. Two departures from protobufjs, both
 * protobuf's own rules, for messages Envoy never sends:
 * - a oneof (ProcessingRequest.request, Value.kind) holds the last member on the wire; protobufjs
 *   keeps every member sent and names the one with the highest field number;
 * - a map entry without its value holds an empty message; protobufjs's toObject throws a TypeError.
 *
 * Writing a ProcessingResponse: see ext-proc-encode.ts.
 */
import type { HeaderValue__Output } from '../generated/envoy/config/core/v3/HeaderValue.js';
import type { HttpBody__Output } from '../generated/envoy/service/ext_proc/v3/HttpBody.js';
import type { HttpHeaders__Output } from '../generated/envoy/service/ext_proc/v3/HttpHeaders.js';
import type { ProcessingRequest__Output } from '../generated/envoy/service/ext_proc/v3/ProcessingRequest.js';
import { headerMap } from './check-decode.js';
import { decodeStruct } from './struct-decode.js';
import { LENGTH, Reader, VARINT, putEntry } from './wire.js';

export { encodeProcessingResponse, ExtProcEncodeError } from './ext-proc-encode.js';

type RequestMember = NonNullable<ProcessingRequest__Output['request']>;
/** ProcessingRequest.request's members by field number (2 to 7). */
const REQUEST_MEMBERS: readonly (RequestMember | undefined)[] = [
  undefined,
  undefined,
  'request_headers',
  'response_headers',
  'request_body',
  'response_body',
  'request_trailers',
  'response_trailers',
];

/** A map<string, message> entry (key 1, value 2) into `into`; a missing key is "", a missing value an empty message. */
function messageEntry<V>(r: Reader, into: Record<string, V>, read: (r: Reader) => V): void {
  let key = '';
  let value: V | undefined;
  while (r.pos < r.end) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1 && (tag & 7) === LENGTH) key = r.string();
    else if (field === 2 && (tag & 7) === LENGTH) value = read(r.sub());
    else r.skip(tag & 7);
  }
  putEntry(into, key, value ?? read(new Reader(r.buf, 0, 0)));
}

/** HttpHeaders: headers 1 (HeaderMap), end_of_stream 3; attributes 2 (deprecated) is skipped. */
function httpHeaders(r: Reader): HttpHeaders__Output {
  const h: { headers?: { headers: HeaderValue__Output[] }; end_of_stream?: boolean } = {};
  while (r.pos < r.end) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1 && (tag & 7) === LENGTH) h.headers = headerMap(r.sub());
    else if (field === 3 && (tag & 7) === VARINT) h.end_of_stream = r.uint32() !== 0;
    else r.skip(tag & 7);
  }
  return h;
}

/** HttpBody: body 1, end_of_stream 2. */
function httpBody(r: Reader): HttpBody__Output {
  const b: { body?: Buffer; end_of_stream?: boolean } = {};
  while (r.pos < r.end) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1 && (tag & 7) === LENGTH) b.body = r.bytes();
    else if (field === 2 && (tag & 7) === VARINT) b.end_of_stream = r.uint32() !== 0;
    else r.skip(tag & 7);
  }
  return b;
}

/** Sets ProcessingRequest.request to `member`, dropping the member set before (the last one on the wire wins). */
function setRequest(req: ProcessingRequest__Output, member: RequestMember, r: Reader): void {
  if (req.request !== undefined && req.request !== member) delete req[req.request];
  switch (member) {
    case 'request_headers':
    case 'response_headers':
      req[member] = httpHeaders(r);
      break;
    case 'request_body':
    case 'response_body':
      req[member] = httpBody(r);
      break;
    default:
      req[member] = {};
  }
  req.request = member;
}

/**
 * Decodes the fields of a ProcessingRequest the injector reads (see the module comment); throws
 * ProtoWireError on malformed bytes (grpc-js then ends the stream with INTERNAL).
 */
export function decodeProcessingRequest(bytes: Buffer): ProcessingRequest__Output {
  const r = new Reader(bytes, 0, bytes.length);
  const req: ProcessingRequest__Output = {};
  while (r.pos < r.end) {
    const tag = r.uint32();
    const field = tag >>> 3;
    const member = REQUEST_MEMBERS[field];
    if (member !== undefined && (tag & 7) === LENGTH) setRequest(req, member, r.sub());
    else if (field === 9 && (tag & 7) === LENGTH) messageEntry(r.sub(), (req.attributes ??= {}), (s) => decodeStruct(s, 1));
    else if (field === 10 && (tag & 7) === VARINT) req.observability_mode = r.uint32() !== 0;
    else r.skip(tag & 7);
  }
  return req;
}
