/**
 * Envoy ext_proc message mapping (envoy/service/ext_proc/v3/external_processor.proto): the request
 * headers of a ProcessingRequest become a DecisionInput, and a HeaderMutation, a body request or a
 * denial become ProcessingResponses. No stream state here (see ext-proc.ts).
 *
 * Header values are written as `raw_value` bytes, never `value`: Envoy reads set_headers from
 * raw_value whenever `envoy.reloadable_features.send_header_raw_value` is on, the default since
 * Envoy 1.27 (mutation_utils.cc), would set an empty header from a `value`, and rejects a
 * HeaderValue with both. Each set_headers entry carries both the legacy `append: false` (the only
 * field older ext_proc filters read) and `append_action: OVERWRITE_IF_EXISTS_OR_ADD` (newer
 * ones); both mean overwrite, and the header was removed first anyway.
 */
import { PaiError, errorBody } from '../errors.js';
import type { HeaderMutation } from '../inject/mutation.js';
import type { HeaderValueOption } from '../generated/envoy/config/core/v3/HeaderValueOption.js';
import type { ProcessingMode } from '../generated/envoy/extensions/filters/http/ext_proc/v3/ProcessingMode.js';
import type { CommonResponse } from '../generated/envoy/service/ext_proc/v3/CommonResponse.js';
import type { HeaderMutation as ExtProcHeaderMutation } from '../generated/envoy/service/ext_proc/v3/HeaderMutation.js';
import type { HttpHeaders__Output } from '../generated/envoy/service/ext_proc/v3/HttpHeaders.js';
import type { ProcessingResponse } from '../generated/envoy/service/ext_proc/v3/ProcessingResponse.js';
import type { DecisionInput } from './decide.js';
import type { AgentId } from './agents.js';

/** The request headers as (name, value) pairs, pseudo-headers included, in Envoy's order. */
export type HeaderPairs = readonly (readonly [string, string])[];

/**
 * The processing mode the injector asks for when it needs the body (SigV4): the whole mode is
 * spelled out because older Envoys replace the filter's mode with the override wholesale, and an
 * unset response_header_mode would then mean SEND. Equal to envoy/sidecar-ext-proc.yaml's
 * processing_mode but for request_body_mode, so it can be listed in allowed_override_modes.
 */
export const BUFFER_BODY_MODE: ProcessingMode = Object.freeze({
  request_header_mode: 'SEND',
  response_header_mode: 'SKIP',
  request_body_mode: 'BUFFERED',
  response_body_mode: 'NONE',
  request_trailer_mode: 'SKIP',
  response_trailer_mode: 'SKIP',
});

/**
 * The mode asked for when a tools/list answer must be filtered (MCP Providers with tool lists):
 * the response headers and the whole response body come to the injector.
 */
export const FILTER_RESPONSE_MODE: ProcessingMode = Object.freeze({
  request_header_mode: 'SEND',
  response_header_mode: 'SEND',
  request_body_mode: 'NONE',
  response_body_mode: 'BUFFERED',
  request_trailer_mode: 'SKIP',
  response_trailer_mode: 'SKIP',
});

/** Header pairs of an HttpHeaders message: `raw_value` bytes (latin1) when present, else `value`. */
export function headerPairs(headers: HttpHeaders__Output | undefined): [string, string][] {
  const out: [string, string][] = [];
  for (const h of headers?.headers?.headers ?? []) {
    const raw = h.raw_value;
    out.push([(h.key ?? '').toLowerCase(), raw !== undefined && raw.length > 0 ? raw.toString('latin1') : (h.value ?? '')]);
  }
  return out;
}

/** The one value of pseudo-header `name`; throws `bad_request` when it is missing or repeated. */
function pseudo(pairs: HeaderPairs, name: string): string {
  let value: string | undefined;
  for (const [n, v] of pairs) {
    if (n !== name) continue;
    if (value !== undefined) throw new PaiError('bad_request', `request headers repeat ${name}`);
    value = v;
  }
  if (value === undefined || value.length === 0) throw new PaiError('bad_request', `request headers have no ${name}`);
  return value;
}

/**
 * The decision input of a request_headers message, for `agent` (read from the stream's attributes).
 * Throws PaiError `bad_request` when :method or :path is missing or repeated.
 */
export function processInput(pairs: HeaderPairs, agent: AgentId | undefined): DecisionInput {
  const method = pseudo(pairs, ':method');
  const path = pseudo(pairs, ':path');
  let scheme: 'http' | 'https' = 'http';
  for (const [n, v] of pairs) if (n === ':scheme' && v.toLowerCase() === 'https') scheme = 'https';
  return { api: 'process', agent, headers: pairs, method, path, scheme };
}

/**
 * The authority the upstream receives, exactly as Envoy forwards it (`:authority`, else `host`),
 * for SigV4, which signs the Host header verbatim. Undefined when there is none.
 */
export function rawAuthority(pairs: HeaderPairs): string | undefined {
  let host: string | undefined;
  for (const [n, v] of pairs) {
    if (n === ':authority') return v;
    if (n === 'host' && host === undefined) host = v;
  }
  return host;
}

/** The declared content-length, or undefined when absent or not a plain decimal number. */
export function declaredLength(pairs: HeaderPairs): number | undefined {
  for (const [n, v] of pairs) if (n === 'content-length' && /^\d{1,15}$/.test(v)) return Number(v);
  return undefined;
}

function overwrite(key: string, value: string): HeaderValueOption {
  return {
    header: { key, raw_value: Buffer.from(value, 'latin1') },
    append: { value: false },
    append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
  };
}

/**
 * The ext_proc HeaderMutation of a neutral one. Envoy applies remove_headers before set_headers
 * (mutation_utils.cc), which is exactly HeaderMutation's order, so every removal is sent; a new
 * `:path` is set first and the credential stays last.
 */
export function extProcMutation(m: HeaderMutation): ExtProcHeaderMutation {
  const set = m.set.map((e) => overwrite(e.name, e.value));
  if (m.path !== undefined) set.unshift(overwrite(':path', m.path));
  return { remove_headers: [...m.remove], set_headers: set };
}

function common(m: HeaderMutation | undefined): CommonResponse {
  return m === undefined ? { status: 'CONTINUE' } : { status: 'CONTINUE', header_mutation: extProcMutation(m) };
}

/** The answer to request_headers: continue, with the mutation when there is one (and the filter mode when asked). */
export function headersResponse(m?: HeaderMutation, mode?: 'filter'): ProcessingResponse {
  return { request_headers: { response: common(m) }, ...(mode === 'filter' ? { mode_override: FILTER_RESPONSE_MODE } : {}) };
}

/** The answer to request_headers that asks Envoy for the buffered request body (mode_override). */
export function bufferBodyResponse(): ProcessingResponse {
  return { request_headers: { response: { status: 'CONTINUE' } }, mode_override: BUFFER_BODY_MODE };
}

/** The answer to request_body: continue, with the mutation (the body itself is never changed). */
export function bodyResponse(m?: HeaderMutation, mode?: 'filter'): ProcessingResponse {
  return {
    request_body: { response: common(m) },
    ...(mode === 'filter' ? { mode_override: { ...FILTER_RESPONSE_MODE, request_body_mode: 'BUFFERED' } } : {}),
  };
}

/** The answer to the response headers of a filtered answer: its length goes, since the body may shrink. */
export function responseHeadersResponse(): ProcessingResponse {
  return { response_headers: { response: { status: 'CONTINUE', header_mutation: { remove_headers: ['content-length'] } } } };
}

/** The answer to a buffered response body: replaced by `body` (the filtered tools/list answer). */
export function responseBodyResponse(body: Buffer): ProcessingResponse {
  return { response_body: { response: { status: 'CONTINUE', body_mutation: { body } } } };
}

/** An empty answer of the type that matches an unexpected message (Envoy requires one per message). */
export function emptyResponseFor(
  kind: 'response_headers' | 'response_body' | 'request_trailers' | 'response_trailers',
): ProcessingResponse {
  switch (kind) {
    case 'response_headers':
      return { response_headers: {} };
    case 'response_body':
      return { response_body: {} };
    case 'request_trailers':
      return { request_trailers: {} };
    case 'response_trailers':
      return { response_trailers: {} };
  }
}

/** Asks Envoy to wait longer for the answer to the current message (one extension per message). */
export function extendTimeout(ms: number): ProcessingResponse {
  return { override_message_timeout: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 } };
}

/**
 * A denial as an ImmediateResponse: the status from the error code's table, the same JSON body
 * as a Check denial, content-type application/json and x-pai-deny-reason.
 */
export function immediateDenial(error: PaiError): ProcessingResponse {
  return {
    immediate_response: {
      status: { code: error.status as never },
      headers: { set_headers: [overwrite('content-type', 'application/json'), overwrite('x-pai-deny-reason', error.code)] },
      body: Buffer.from(JSON.stringify(errorBody(error)), 'utf8'),
      details: `pai_${error.code}`,
    },
  };
}
