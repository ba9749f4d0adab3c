/**
 * The injector's ProcessingResponse encoder (re-exported by ext-proc-codec.ts, whose module
 * comment says why ext_proc is coded by hand): every field of ProcessingResponse but
 * dynamic_metadata, which the injector never sends (a Struct would need doubles written).
 *
 * The bytes are those of protobufjs's encode(fromObject(x)), which envoy-grpc.ts serves with, for
 * the same object (test/ext-proc-codec.test.ts checks it): fields in field-number order (which is
 * also the order the .proto declares them in), a field written whenever it is present (neither
 * undefined nor null), even at its default, so `status: 'CONTINUE'` and `append: { value: false }`
 * are on the wire, every member of a oneof given written, and the virtual oneof fields ignored.
 *
 * Where fromObject would coerce or drop a value, this throws ExtProcEncodeError instead, so that
 * nothing is sent but what was meant: an unknown enum name (fromObject leaves the field out), a
 * name for HttpStatus.code (the injector gives statuses as numbers), a number that is not an
 * integer in its field's range, bytes given as base64 text, a value of the wrong type. Messages
 * name the field, never a value: header values carry credentials.
 */
import type { HeaderMap } from '../generated/envoy/config/core/v3/HeaderMap.js';
import type { HeaderValue } from '../generated/envoy/config/core/v3/HeaderValue.js';
import type { HeaderValueOption } from '../generated/envoy/config/core/v3/HeaderValueOption.js';
import type { ProcessingMode } from '../generated/envoy/extensions/filters/http/ext_proc/v3/ProcessingMode.js';
import type { BodyMutation } from '../generated/envoy/service/ext_proc/v3/BodyMutation.js';
import type { BodyResponse } from '../generated/envoy/service/ext_proc/v3/BodyResponse.js';
import type { CommonResponse } from '../generated/envoy/service/ext_proc/v3/CommonResponse.js';
import type { HeaderMutation } from '../generated/envoy/service/ext_proc/v3/HeaderMutation.js';
import type { HeadersResponse } from '../generated/envoy/service/ext_proc/v3/HeadersResponse.js';
import type { ImmediateResponse } from '../generated/envoy/service/ext_proc/v3/ImmediateResponse.js';
import type { ProcessingResponse } from '../generated/envoy/service/ext_proc/v3/ProcessingResponse.js';
import type { TrailersResponse } from '../generated/envoy/service/ext_proc/v3/TrailersResponse.js';
import type { Duration } from '../generated/google/protobuf/Duration.js';
import { Writer } from './wire.js';

/** A ProcessingResponse that cannot be written as given; the message names the field, never its value. */
export class ExtProcEncodeError extends Error {
  override readonly name = 'ExtProcEncodeError';
}

// Enum values by name, from the .protos (external_processor.proto, base.proto, processing_mode.proto).
const RESPONSE_STATUS: Readonly<Record<string, number>> = { CONTINUE: 0, CONTINUE_AND_REPLACE: 1 };
const APPEND_ACTION: Readonly<Record<string, number>> = {
  APPEND_IF_EXISTS_OR_ADD: 0,
  ADD_IF_ABSENT: 1,
  OVERWRITE_IF_EXISTS_OR_ADD: 2,
  OVERWRITE_IF_EXISTS: 3,
};
const HEADER_SEND_MODE: Readonly<Record<string, number>> = { DEFAULT: 0, SEND: 1, SKIP: 2 };
const BODY_SEND_MODE: Readonly<Record<string, number>> = { NONE: 0, STREAMED: 1, BUFFERED: 2, BUFFERED_PARTIAL: 3 };
/** HttpStatus.code's names are not taken: none (a number is passed through, as fromObject does). */
const NO_NAMES: Readonly<Record<string, number>> = {};

function fail(field: string, what: string): never {
  throw new ExtProcEncodeError(`ProcessingResponse: ${field} ${what}`);
}

const absent = (v: unknown): v is undefined | null => v === undefined || v === null;
const isInt32 = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= -(2 ** 31) && (n as number) < 2 ** 31;

function message<T>(w: Writer, field: number, value: T | null | undefined, name: string, fill: (w: Writer, v: T) => void): void {
  if (absent(value)) return;
  if (typeof value !== 'object') fail(name, 'is not a message');
  w.message(field, (sub) => fill(sub, value));
}

function repeated<T>(
  w: Writer,
  field: number,
  values: readonly T[] | null | undefined,
  name: string,
  fill: (w: Writer, v: T) => void,
): void {
  if (absent(values)) return;
  if (!Array.isArray(values)) fail(name, 'is not an array');
  // (Array.isArray narrows to any[]: the element type is put back.)
  for (const v of values as readonly T[]) {
    if (typeof v !== 'object' || v === null) fail(name, 'holds an element that is not a message');
    w.message(field, (sub) => fill(sub, v));
  }
}

function string(w: Writer, field: number, v: unknown, name: string): void {
  if (absent(v)) return;
  if (typeof v !== 'string') fail(name, 'is not a string');
  w.string(field, v);
}

function bool(w: Writer, field: number, v: unknown, name: string): void {
  if (absent(v)) return;
  if (typeof v !== 'boolean') fail(name, 'is not a boolean');
  w.bool(field, v);
}

function bytes(w: Writer, field: number, v: unknown, name: string): void {
  if (absent(v)) return;
  if (!(v instanceof Uint8Array)) fail(name, 'is not a Buffer or Uint8Array (base64 text is not taken)');
  w.bytes(field, v);
}

function int32(w: Writer, field: number, v: unknown, name: string): void {
  if (absent(v)) return;
  if (!isInt32(v)) fail(name, 'is not an int32');
  w.uint32(field, v);
}

function uint32(w: Writer, field: number, v: unknown, name: string): void {
  if (absent(v)) return;
  if (!Number.isInteger(v) || (v as number) < 0 || (v as number) >= 2 ** 32) fail(name, 'is not a uint32');
  w.uint32(field, v as number);
}

/** An enum given by a name of `names` or as an int32 number (written as is, as fromObject passes numbers through). */
function enumValue(w: Writer, field: number, v: unknown, names: Readonly<Record<string, number>>, name: string): void {
  if (absent(v)) return;
  const n = typeof v === 'string' ? (Object.hasOwn(names, v) ? names[v] : fail(name, 'is not a known enum name')) : v;
  if (!isInt32(n)) fail(name, 'is not an int32 enum number');
  w.uint32(field, n);
}

/**
 * An int64 the Writer's 32-bit varints can write exactly: from -2^31 to 2^32 - 1, a number or
 * decimal text (a Duration's seconds: the injector's are under a minute).
 */
function int64(w: Writer, field: number, v: unknown, name: string): void {
  if (absent(v)) return;
  const n = typeof v === 'string' && /^-?\d{1,10}$/.test(v) ? Number(v) : v;
  if (!Number.isInteger(n) || (n as number) < -(2 ** 31) || (n as number) >= 2 ** 32) {
    fail(name, 'is not an integer from -2^31 to 2^32 - 1 (a number or decimal text)');
  }
  w.uint32(field, n as number);
}

/** envoy.config.core.v3.HeaderValue: key 1, value 2, raw_value 3. */
function headerValue(w: Writer, h: HeaderValue): void {
  string(w, 1, h.key, 'HeaderValue.key');
  string(w, 2, h.value, 'HeaderValue.value');
  bytes(w, 3, h.raw_value, 'HeaderValue.raw_value');
}

/** envoy.config.core.v3.HeaderValueOption: header 1, append 2 (a BoolValue), append_action 3, keep_empty_value 4. */
function headerValueOption(w: Writer, o: HeaderValueOption): void {
  message(w, 1, o.header, 'HeaderValueOption.header', headerValue);
  message(w, 2, o.append, 'HeaderValueOption.append', (sub, b) => bool(sub, 1, b.value, 'HeaderValueOption.append.value'));
  enumValue(w, 3, o.append_action, APPEND_ACTION, 'HeaderValueOption.append_action');
  bool(w, 4, o.keep_empty_value, 'HeaderValueOption.keep_empty_value');
}

/** HeaderMutation: set_headers 1, remove_headers 2. */
function headerMutation(w: Writer, m: HeaderMutation): void {
  repeated(w, 1, m.set_headers, 'HeaderMutation.set_headers', headerValueOption);
  const remove: unknown = m.remove_headers;
  if (absent(remove)) return;
  if (!Array.isArray(remove)) fail('HeaderMutation.remove_headers', 'is not an array');
  for (const name of remove as unknown[]) {
    if (typeof name !== 'string') fail('HeaderMutation.remove_headers', 'holds an element that is not a string');
    w.string(2, name);
  }
}

/** envoy.config.core.v3.HeaderMap: headers 1. */
function headerMap(w: Writer, m: HeaderMap): void {
  repeated(w, 1, m.headers, 'HeaderMap.headers', headerValue);
}

/** BodyMutation: oneof mutation { body 1, clear_body 2 }. */
function bodyMutation(w: Writer, m: BodyMutation): void {
  bytes(w, 1, m.body, 'BodyMutation.body');
  bool(w, 2, m.clear_body, 'BodyMutation.clear_body');
}

/** CommonResponse: status 1, header_mutation 2, body_mutation 3, trailers 4, clear_route_cache 5. */
function commonResponse(w: Writer, c: CommonResponse): void {
  enumValue(w, 1, c.status, RESPONSE_STATUS, 'CommonResponse.status');
  message(w, 2, c.header_mutation, 'CommonResponse.header_mutation', headerMutation);
  message(w, 3, c.body_mutation, 'CommonResponse.body_mutation', bodyMutation);
  message(w, 4, c.trailers, 'CommonResponse.trailers', headerMap);
  bool(w, 5, c.clear_route_cache, 'CommonResponse.clear_route_cache');
}

/** HeadersResponse: response 1. */
function headersResponse(w: Writer, r: HeadersResponse): void {
  message(w, 1, r.response, 'HeadersResponse.response', commonResponse);
}

/** BodyResponse: response 1. */
function bodyResponse(w: Writer, r: BodyResponse): void {
  message(w, 1, r.response, 'BodyResponse.response', commonResponse);
}

/** TrailersResponse: header_mutation 1. */
function trailersResponse(w: Writer, r: TrailersResponse): void {
  message(w, 1, r.header_mutation, 'TrailersResponse.header_mutation', headerMutation);
}

/** ImmediateResponse: status 1 (HttpStatus: code 1), headers 2, body 3, grpc_status 4 (GrpcStatus: status 1), details 5. */
function immediateResponse(w: Writer, r: ImmediateResponse): void {
  message(w, 1, r.status, 'ImmediateResponse.status', (sub, s) =>
    enumValue(sub, 1, s.code, NO_NAMES, 'ImmediateResponse.status.code'),
  );
  message(w, 2, r.headers, 'ImmediateResponse.headers', headerMutation);
  bytes(w, 3, r.body, 'ImmediateResponse.body');
  message(w, 4, r.grpc_status, 'ImmediateResponse.grpc_status', (sub, g) => uint32(sub, 1, g.status, 'GrpcStatus.status'));
  string(w, 5, r.details, 'ImmediateResponse.details');
}

/** envoy.extensions.filters.http.ext_proc.v3.ProcessingMode: six enums, 1 to 6. */
function processingMode(w: Writer, m: ProcessingMode): void {
  enumValue(w, 1, m.request_header_mode, HEADER_SEND_MODE, 'ProcessingMode.request_header_mode');
  enumValue(w, 2, m.response_header_mode, HEADER_SEND_MODE, 'ProcessingMode.response_header_mode');
  enumValue(w, 3, m.request_body_mode, BODY_SEND_MODE, 'ProcessingMode.request_body_mode');
  enumValue(w, 4, m.response_body_mode, BODY_SEND_MODE, 'ProcessingMode.response_body_mode');
  enumValue(w, 5, m.request_trailer_mode, HEADER_SEND_MODE, 'ProcessingMode.request_trailer_mode');
  enumValue(w, 6, m.response_trailer_mode, HEADER_SEND_MODE, 'ProcessingMode.response_trailer_mode');
}

/** google.protobuf.Duration: seconds 1 (int64), nanos 2. */
function duration(w: Writer, d: Duration): void {
  int64(w, 1, d.seconds, 'Duration.seconds');
  int32(w, 2, d.nanos, 'Duration.nanos');
}

/**
 * The wire bytes of `res`, equal to protobufjs's encode(fromObject(res)). Throws
 * ExtProcEncodeError for dynamic_metadata and for a value fromObject would coerce or drop.
 */
export function encodeProcessingResponse(res: ProcessingResponse): Buffer {
  const w = new Writer();
  message(w, 1, res.request_headers, 'request_headers', headersResponse);
  message(w, 2, res.response_headers, 'response_headers', headersResponse);
  message(w, 3, res.request_body, 'request_body', bodyResponse);
  message(w, 4, res.response_body, 'response_body', bodyResponse);
  message(w, 5, res.request_trailers, 'request_trailers', trailersResponse);
  message(w, 6, res.response_trailers, 'response_trailers', trailersResponse);
  message(w, 7, res.immediate_response, 'immediate_response', immediateResponse);
  if (!absent(res.dynamic_metadata)) fail('dynamic_metadata', 'is not supported (the injector sends none)');
  message(w, 9, res.mode_override, 'mode_override', processingMode);
  message(w, 10, res.override_message_timeout, 'override_message_timeout', duration);
  return w.finish();
}
