/**
 * The injector's CheckResponse encoder: the protobuf bytes of the CheckResponses ext-authz.ts
 * builds, written by hand over wire.ts's Writer, so that serving Check loads no .proto file and
 * no protobufjs (service-shapes.ts). Fields are written in the .proto's declaration order with
 * protobufjs's presence rule (a field is written when it is set, even to its default), so the
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
    w.message(1, (h) => {
      if (set(header.key)) h.string(1, header.key);
      if (set(header.value)) h.string(2, header.value);
      if (set(header.raw_value)) {
        const raw = header.raw_value;
        h.bytes(3, typeof raw === 'string' ? Buffer.from(raw, 'base64') : raw);
      }
    });
  }
  const append = o.append;
  if (set(append)) w.message(2, (b) => (set(append.value) ? b.bool(1, append.value) : undefined));
  if (set(o.append_action)) w.uint32(3, enumNumber(o.append_action, 'append_action', APPEND_ACTIONS));
  if (set(o.keep_empty_value)) w.bool(4, o.keep_empty_value);
}

function headerOptions(w: Writer, field: number, list: readonly HeaderValueOption[] | undefined): void {
  for (const o of list ?? []) w.message(field, (m) => headerValueOption(m, o));
}

function queryParameters(w: Writer, field: number, list: readonly QueryParameter[] | undefined): void {
  for (const q of list ?? []) {
    w.message(field, (m) => {
      if (set(q.key)) m.string(1, q.key);
      if (set(q.value)) m.string(2, q.value);
    });
  }
}

function denied(w: Writer, d: DeniedHttpResponse): void {
  const status = d.status;
  if (set(status))
    w.message(1, (s) => (set(status.code) ? s.uint32(1, enumNumber(status.code, 'denied_response.status.code')) : undefined));
  headerOptions(w, 2, d.headers);
  if (set(d.body)) w.string(3, d.body);
}

function ok(w: Writer, o: OkHttpResponse): void {
  headerOptions(w, 2, o.headers);
  for (const name of o.headers_to_remove ?? []) w.string(5, name);
  if (set(o.dynamic_metadata)) throw unsupported('ok_response.dynamic_metadata');
  headerOptions(w, 6, o.response_headers_to_add);
  queryParameters(w, 7, o.query_parameters_to_set);
  for (const name of o.query_parameters_to_remove ?? []) w.string(8, name);
}

/** The protobuf bytes of `res`; throws on a field the encoder does not cover (see the header). */
export function encodeCheckResponse(res: CheckResponse): Buffer {
  const w = new Writer(256);
  const status = res.status;
  if (set(status)) {
    if (set(status.details) && status.details.length > 0) throw unsupported('status.details');
    w.message(1, (s) => {
      if (set(status.code)) s.uint32(1, status.code);
      if (set(status.message)) s.string(2, status.message);
    });
  }
  const deniedResponse = res.denied_response;
  const okResponse = res.ok_response;
  // A oneof: protobufjs's fromObject keeps both when both are given and writes both; the injector
  // never builds that, so it is refused rather than guessed.
  if (set(deniedResponse) && set(okResponse)) throw unsupported('both denied_response and ok_response');
  if (set(deniedResponse)) w.message(2, (d) => denied(d, deniedResponse));
  if (set(okResponse)) w.message(3, (o) => ok(o, okResponse));
  if (set(res.dynamic_metadata)) throw unsupported('dynamic_metadata');
  return w.finish();
}
