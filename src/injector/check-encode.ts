/**
 * The injector's CheckResponse encoder: the protobuf bytes of the CheckResponses ext-authz.ts
 * builds, written by hand over wire.ts's Writer, so that serving Check loads no .proto file and
 * no protobufjs (service-shapes.ts). Fields are written in field-number order with protobufjs's
 * presence rule (a field is written when it is set, even to its default), so the
 * bytes equal protobufjs's encode(fromObject(x)) (test/check-encode.test.ts).
 *
 * Covered: status (code, message), denied_response (status, headers, body), ok_response (headers,
 * headers_to_remove, response_headers_to_add, query_parameters_to_set, query_parameters_to_remove),
 * HeaderValueOption (header {key, value, raw_value}, append, append_action, keep_empty_value).
 * Anything else the type allows (status details, dynamic_metadata, an enum given by name where a
 * number is expected) throws: the injector never builds it, and a silent drop would send Envoy a
 * different answer than the code meant.
 */
import type { CheckResponse } from '../generated/envoy/service/auth/v3/CheckResponse.js';
import type { DeniedHttpResponse } from '../generated/envoy/service/auth/v3/DeniedHttpResponse.js';
import type { OkHttpResponse } from '../generated/envoy/service/auth/v3/OkHttpResponse.js';
import type { HeaderValueOption } from '../generated/envoy/config/core/v3/HeaderValueOption.js';
import type { QueryParameter } from '../generated/envoy/config/core/v3/QueryParameter.js';
import { Writer } from './wire.js';

/** envoy.config.core.v3.HeaderValueOption.HeaderAppendAction. */
const APPEND_ACTIONS: Readonly<Record<string, number>> = {
  APPEND_IF_EXISTS_OR_ADD: 0,
  ADD_IF_ABSENT: 1,
  OVERWRITE_IF_EXISTS_OR_ADD: 2,
  OVERWRITE_IF_EXISTS: 3,
};

const set = <T>(x: T | null | undefined): x is T => x !== undefined && x !== null;

function unsupported(field: string): Error {
  return new Error(`CheckResponse encoder: ${field} is not supported (the injector never sends it)`);
}

/** An enum value given as its number (or, for append_action, its name). */
function enumNumber(value: unknown, field: string, names?: Readonly<Record<string, number>>): number {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && names !== undefined && Object.hasOwn(names, value)) return names[value] as number;
  throw unsupported(`${field} = ${JSON.stringify(value)}`);
}

function headerValueOption(w: Writer, o: HeaderValueOption): void {
  const header = o.header;
  if (set(header)) {
    const h = w.begin(1);
    if (set(header.key)) w.string(1, header.key);
    if (set(header.value)) w.string(2, header.value);
    if (set(header.raw_value)) {
      const raw = header.raw_value;
      w.bytes(3, typeof raw === 'string' ? Buffer.from(raw, 'base64') : raw);
    }
    w.end(h);
  }
  const append = o.append;
  if (set(append)) {
    const a = w.begin(2);
    if (set(append.value)) w.bool(1, append.value);
    w.end(a);
  }
  if (set(o.append_action)) w.uint32(3, enumNumber(o.append_action, 'append_action', APPEND_ACTIONS));
  if (set(o.keep_empty_value)) w.bool(4, o.keep_empty_value);
}

function headerOptions(w: Writer, field: number, list: readonly HeaderValueOption[] | undefined): void {
  if (list === undefined) return;
  for (const o of list) {
    const m = w.begin(field);
    headerValueOption(w, o);
    w.end(m);
  }
}

function queryParameters(w: Writer, field: number, list: readonly QueryParameter[] | undefined): void {
  if (list === undefined) return;
  for (const q of list) {
    const m = w.begin(field);
    if (set(q.key)) w.string(1, q.key);
    if (set(q.value)) w.string(2, q.value);
    w.end(m);
  }
}

function denied(w: Writer, d: DeniedHttpResponse): void {
  const status = d.status;
  if (set(status)) {
    const s = w.begin(1);
    if (set(status.code)) w.uint32(1, enumNumber(status.code, 'denied_response.status.code'));
    w.end(s);
  }
  headerOptions(w, 2, d.headers);
  if (set(d.body)) w.string(3, d.body);
}

function ok(w: Writer, o: OkHttpResponse): void {
  headerOptions(w, 2, o.headers);
  if (o.headers_to_remove !== undefined) for (const name of o.headers_to_remove) w.string(5, name);
  if (set(o.dynamic_metadata)) throw unsupported('ok_response.dynamic_metadata');
  headerOptions(w, 6, o.response_headers_to_add);
  queryParameters(w, 7, o.query_parameters_to_set);
  if (o.query_parameters_to_remove !== undefined) for (const name of o.query_parameters_to_remove) w.string(8, name);
}

/** The protobuf bytes of `res`; throws on a field the encoder does not cover (see the header). */
export function encodeCheckResponse(res: CheckResponse): Buffer {
  const w = new Writer(256);
  const status = res.status;
  if (set(status)) {
    if (set(status.details) && status.details.length > 0) throw unsupported('status.details');
    const s = w.begin(1);
    if (set(status.code)) w.uint32(1, status.code);
    if (set(status.message)) w.string(2, status.message);
    w.end(s);
  }
  const deniedResponse = res.denied_response;
  const okResponse = res.ok_response;
  // A oneof: protobufjs's fromObject keeps both when both are given and writes both; the injector
  // never builds that, so it is refused rather than guessed.
  if (set(deniedResponse) && set(okResponse)) throw unsupported('both denied_response and ok_response');
  if (set(deniedResponse)) {
    const d = w.begin(2);
    denied(w, deniedResponse);
    w.end(d);
  }
  if (set(okResponse)) {
    const o = w.begin(3);
    ok(w, okResponse);
    w.end(o);
  }
  if (set(res.dynamic_metadata)) throw unsupported('dynamic_metadata');
  // The writer is this call's own: its bytes are returned without a copy.
  return w.view();
}
