/**
 * The ext_proc filter of the sidecar simulator, plus the scripted-stream client the conformance
 * suite uses: what Envoy's envoy.filters.http.ext_proc does with our injector, written down from
 * Envoy's own API docs and source (external_processor.proto, processing_mode.proto,
 * source/extensions/filters/http/ext_proc/{ext_proc,processor_state,mutation_utils}.cc), configured
 * as envoy/sidecar-ext-proc.yaml configures it.
 *
 * - One Process stream per HTTP request. The first message is request_headers: every header as its
 *   own entry with lower-case key and `raw_value` bytes (send_header_raw_value, on by default),
 *   pseudo-headers first; end_of_stream when there is no body; `attributes["envoy.filters.http.
 *   ext_proc"]` holding the route's request_attributes (see routeAttributes).
 * - Each message waits for its answer (message_timeout), which must be of the matching type or an
 *   ImmediateResponse; a response holding only override_message_timeout extends the wait once. A
 *   wrong type, a gRPC error or a timeout fails the request (failure_mode_allow: false): 500, or
 *   504 for a timeout, with an empty body.
 * - HeaderMutation: remove_headers first, then set_headers in order (mutation_utils.cc). Values
 *   come from `raw_value` (a `value` alone sets an empty header, as Envoy does with raw values on;
 *   both set is an error). The legacy `append` wins when set (false overwrites, true adds an
 *   entry); otherwise append_action; neither means overwrite. Mutation rules as shipped
 *   (allow_all_routing false, allow_envoy false, disallow_is_error true): touching host,
 *   :authority, :scheme, :method or x-envoy-*, removing a ":" header, or an invalid name or value
 *   (CR, LF, NUL) is a 500.
 * - mode_override in the headers answer (allow_mode_override: true): request_body_mode BUFFERED
 *   makes the filter send the whole body in one request_body message with end_of_stream true, and
 *   apply the body answer's header mutation (headers are still held in BUFFERED mode). A body
 *   mutation is applied too; with a content-length present that does not match the new body, Envoy
 *   rejects it (500). content-length is otherwise left as it is.
 * - ImmediateResponse: its status (type.v3.StatusCode), headers (set_headers) and body become the
 *   agent's answer.
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { HeaderMutation__Output } from '../../src/generated/envoy/service/ext_proc/v3/HeaderMutation.js';
import type { HeaderValueOption__Output } from '../../src/generated/envoy/config/core/v3/HeaderValueOption.js';
import type { ExternalProcessorClient } from '../../src/generated/envoy/service/ext_proc/v3/ExternalProcessor.js';
import type { ProcessingRequest } from '../../src/generated/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse__Output } from '../../src/generated/envoy/service/ext_proc/v3/ProcessingResponse.js';
import type { Struct } from '../../src/generated/google/protobuf/Struct.js';
import {
  AGENT_ATTRIBUTE,
  EXT_PROC_FILTER_NAME,
  NAMESPACE_ATTRIBUTE,
  ROUTE_METADATA_ATTRIBUTE,
} from '../../src/injector/ext-proc-identity.js';
import { loadEnvoyServices } from '../../src/injector/protos.js';
import type { FilterResult, SidecarFilter, SimRequest } from './sidecar-sim.js';

type Header = [string, string];

/** A grpc-js ExternalProcessor client for `target` (`unix:/path`). */
export function extProcClient(target: string): ExternalProcessorClient {
  const { extProc } = loadEnvoyServices();
  return new extProc.envoy.service.ext_proc.v3.ExternalProcessor(target, grpc.credentials.createInsecure(), {
    'grpc.max_send_message_length': 16 * 1024 * 1024,
  });
}

/** How the route's identity reaches the injector: both request_attributes (as shipped), one of them, or none. */
export type IdentityForm = 'both' | 'direct' | 'text' | 'none';

/** The route metadata of an agent as Envoy prints it (ShortDebugString of envoy.config.core.v3.Metadata). */
export function routeMetadataText(agent: string): string {
  return `filter_metadata { key: "pai" value { fields { key: "agent" value { string_value: ${JSON.stringify(agent)} } } } }`;
}

/** ProcessingRequest.attributes as Envoy sends them for a route naming `agent` (and its `namespace`; docs/ENVOY.md §2). */
export function routeAttributes(
  agent: string | undefined,
  form: IdentityForm = 'both',
  namespace?: string,
): Record<string, Struct> {
  if (agent === undefined || form === 'none') return {};
  const fields: Struct['fields'] = {};
  if (form === 'both' || form === 'direct') {
    fields[AGENT_ATTRIBUTE] = { stringValue: agent };
    if (namespace !== undefined) fields[NAMESPACE_ATTRIBUTE] = { stringValue: namespace };
  }
  if (form === 'both' || form === 'text') {
    const ns = namespace === undefined ? '' : ` fields { key: "namespace" value { string_value: ${JSON.stringify(namespace)} } }`;
    fields[ROUTE_METADATA_ATTRIBUTE] = { stringValue: routeMetadataText(agent).replace(/ } }$/, `${ns} } }`) };
  }
  return { [EXT_PROC_FILTER_NAME]: { fields } };
}

export interface ExtProcHeadersSpec {
  readonly method?: string;
  readonly path?: string;
  readonly authority: string;
  readonly scheme?: 'http' | 'https';
  /** Regular headers, in order, duplicates kept as separate entries. */
  readonly headers?: readonly (readonly [string, string])[];
  /** Replaces the whole header list (pseudo-headers included) when given. */
  readonly rawHeaders?: readonly (readonly [string, string])[];
  readonly agent?: string | undefined;
  /** The agent's namespace on the route (absent: none sent, i.e. default). */
  readonly namespace?: string;
  readonly identity?: IdentityForm;
  /** Overrides the attributes map entirely. */
  readonly attributes?: Record<string, Struct>;
  readonly endOfStream?: boolean;
}

function isLatin1(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return false;
  return true;
}

/** The request_headers message Envoy sends first on a stream. */
export function headersMessage(r: ExtProcHeadersSpec): ProcessingRequest {
  const list: readonly (readonly [string, string])[] = r.rawHeaders ?? [
    [':authority', r.authority],
    [':path', r.path ?? '/'],
    [':method', r.method ?? 'GET'],
    [':scheme', r.scheme ?? 'http'],
    ...(r.headers ?? []).map(([n, v]): [string, string] => [n.toLowerCase(), v]),
  ];
  return {
    request_headers: {
      // Bytes as received: latin1 for text that came off the wire, UTF-8 for characters beyond it.
      headers: {
        headers: list.map(([key, value]) => ({
          key,
          raw_value: Buffer.from(value, isLatin1(value) ? 'latin1' : 'utf8'),
        })),
      },
      end_of_stream: r.endOfStream ?? true,
    },
    attributes: r.attributes ?? routeAttributes(r.agent, r.identity ?? 'both', r.namespace),
  };
}

/** One Process stream driven message by message, as Envoy drives it. */
export class ScriptedStream {
  private readonly call: grpc.ClientDuplexStream<ProcessingRequest, ProcessingResponse__Output>;
  private readonly queue: ProcessingResponse__Output[] = [];
  private waiters: ((r: ProcessingResponse__Output | Error) => void)[] = [];
  private failure: Error | undefined;
  /** Resolves with the stream's final gRPC status. */
  readonly status: Promise<grpc.StatusObject>;

  constructor(client: ExternalProcessorClient, deadlineMs = 10_000) {
    this.call = client.Process({ deadline: Date.now() + deadlineMs });
    this.call.on('data', (r: ProcessingResponse__Output) => {
      const waiter = this.waiters.shift();
      if (waiter) waiter(r);
      else this.queue.push(r);
    });
    this.call.on('error', (err: Error) => {
      this.failure = err;
      for (const w of this.waiters.splice(0)) w(err);
    });
    this.status = new Promise((resolve) => this.call.on('status', resolve));
  }

  /** Sends `msg` without waiting. */
  write(msg: ProcessingRequest): void {
    this.call.write(msg);
  }

  /** Sends `msg` and resolves with the next response (rejects on a stream error or after `timeoutMs`). */
  send(msg: ProcessingRequest, timeoutMs = 5000): Promise<ProcessingResponse__Output> {
    this.write(msg);
    return this.next(timeoutMs);
  }

  /** The next response. */
  next(timeoutMs = 5000): Promise<ProcessingResponse__Output> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== settle);
        reject(new Error(`no ext_proc response within ${timeoutMs} ms`));
      }, timeoutMs);
      const settle = (r: ProcessingResponse__Output | Error): void => {
        clearTimeout(timer);
        if (r instanceof Error) reject(r);
        else resolve(r);
      };
      this.waiters.push(settle);
    });
  }

  /** Half-closes the stream (Envoy is done with the request). */
  end(): void {
    this.call.end();
  }

  /** Resets the stream (Envoy destroyed the request). */
  cancel(): void {
    this.call.cancel();
  }
}

/** One headers-only exchange: request_headers, then the first real answer (past any timeout extension). */
export async function processHeaders(
  client: ExternalProcessorClient,
  spec: ExtProcHeadersSpec,
): Promise<ProcessingResponse__Output> {
  const stream = new ScriptedStream(client);
  try {
    let r = await stream.send(headersMessage(spec));
    while (r.response === undefined && r.override_message_timeout) r = await stream.next();
    return r;
  } finally {
    stream.end();
  }
}

/** The header list (pseudo-headers included) that headersMessage(spec) sends, as (name, value) pairs. */
export function headerPairsOf(spec: ExtProcHeadersSpec): [string, string][] {
  return (headersMessage(spec).request_headers?.headers?.headers ?? []).map((h): [string, string] => [
    h.key ?? '',
    Buffer.from(h.raw_value ?? '').toString('latin1'),
  ]);
}

/** type.v3.StatusCode names → numbers, from Envoy's proto. */
let statusCodes: Map<string, number> | undefined;
export function httpStatus(code: string | number | undefined): number | undefined {
  if (typeof code === 'number') return code;
  if (code === undefined) return undefined;
  if (!statusCodes) {
    const def = loadEnvoyServices().extProc.envoy.type.v3.StatusCode as unknown as {
      type: { value: { name: string; number: number }[] };
    };
    statusCodes = new Map(def.type.value.map((v) => [v.name, v.number]));
  }
  return statusCodes.get(code);
}

/** A mutation Envoy would refuse (disallow_is_error) or a protocol violation: the request fails. */
export class ExtProcFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
const ROUTING = new Set(['host', ':authority', ':scheme', ':method']);

function checkName(name: string, op: 'set' | 'remove'): void {
  const bare = name.startsWith(':') ? name.slice(1) : name;
  if (!TOKEN.test(bare)) throw new ExtProcFailure(500, `invalid header name ${JSON.stringify(name)}`);
  if (ROUTING.has(name) || name.startsWith('x-envoy-')) throw new ExtProcFailure(500, `mutation of ${name} is not allowed`);
  if (op === 'remove' && name.startsWith(':')) throw new ExtProcFailure(500, `removal of ${name} is not allowed`);
}

function optionValue(option: HeaderValueOption__Output): Header {
  const key = (option.header?.key ?? '').toLowerCase();
  const raw = option.header?.raw_value;
  const value = option.header?.value ?? '';
  if (raw !== undefined && raw.length > 0 && value.length > 0) throw new ExtProcFailure(500, 'both value and raw_value set');
  // send_header_raw_value is on: Envoy reads raw_value only.
  return [key, raw === undefined ? '' : Buffer.from(raw).toString('latin1')];
}

/** Applies an ext_proc HeaderMutation to `headers` in place, as Envoy does (see the file comment). */
export function applyExtProcMutation(headers: Header[], mutation: HeaderMutation__Output | undefined): void {
  for (const raw of mutation?.remove_headers ?? []) {
    const name = raw.toLowerCase();
    checkName(name, 'remove');
    for (let i = headers.length - 1; i >= 0; i--) if (headers[i]?.[0] === name) headers.splice(i, 1);
  }
  for (const option of mutation?.set_headers ?? []) {
    const [key, value] = optionValue(option);
    checkName(key, 'set');
    if (/[\r\n\0]/.test(value)) throw new ExtProcFailure(500, `invalid value for header ${key}`);
    const overwrite = (): void => {
      const at = headers.findIndex(([n]) => n === key);
      for (let i = headers.length - 1; i >= 0; i--) if (headers[i]?.[0] === key) headers.splice(i, 1);
      // setCopy keeps the position of the first entry for an existing header.
      headers.splice(at === -1 ? headers.length : at, 0, [key, value]);
    };
    const present = headers.some(([n]) => n === key);
    const append = option.append?.value;
    if (append !== undefined) {
      if (append) headers.push([key, value]);
      else overwrite();
      continue;
    }
    switch (option.append_action) {
      case 'APPEND_IF_EXISTS_OR_ADD':
        headers.push([key, value]);
        break;
      case 'ADD_IF_ABSENT':
        if (!present) headers.push([key, value]);
        break;
      case 'OVERWRITE_IF_EXISTS':
        if (present) overwrite();
        break;
      default:
        overwrite();
    }
  }
}

export interface ExtProcFilterOptions {
  readonly client: ExternalProcessorClient;
  /** The agent on the route's metadata (the rendered sidecar config); undefined: no identity. */
  readonly agent: string | undefined;
  readonly identity?: IdentityForm;
  /** message_timeout; generous by default so that a loaded test machine does not flake. */
  readonly messageTimeoutMs?: number;
  /** strip_any_host_port in the sidecar's HCM (true as shipped). */
  readonly stripPort?: boolean;
}

function immediate(r: ProcessingResponse__Output): FilterResult {
  const im = r.immediate_response;
  const headers: Header[] = [];
  applyExtProcMutation(headers, im?.headers);
  return { kind: 'deny', status: httpStatus(im?.status?.code) ?? 500, headers, body: Buffer.from(im?.body ?? Buffer.alloc(0)) };
}

function stripPort(authority: string): string {
  if (authority.startsWith('[')) return authority.slice(0, authority.indexOf(']') + 1) || authority;
  const colon = authority.lastIndexOf(':');
  return colon === -1 ? authority : authority.slice(0, colon);
}

/** The ext_proc SidecarFilter: one Process stream per request. */
export class ExtProcFilter implements SidecarFilter {
  /** Every response received, in order (for assertions on what crossed the wire). */
  readonly responses: ProcessingResponse__Output[] = [];

  constructor(private readonly options: ExtProcFilterOptions) {}

  async onRequest(req: SimRequest): Promise<FilterResult> {
    const stream = new ScriptedStream(this.options.client);
    try {
      return await this.run(stream, req);
    } catch (err) {
      if (err instanceof ExtProcFailure) return { kind: 'deny', status: err.status, headers: [], body: Buffer.alloc(0) };
      return { kind: 'deny', status: /within/.test(String(err)) ? 504 : 500, headers: [], body: Buffer.alloc(0) };
    } finally {
      stream.end();
    }
  }

  /** Waits for the answer to the last message, honouring one override_message_timeout. */
  private async answer(stream: ScriptedStream, expect: 'request_headers' | 'request_body'): Promise<ProcessingResponse__Output> {
    const timeout = this.options.messageTimeoutMs ?? 5000;
    let r = await stream.next(timeout);
    this.responses.push(r);
    if (r.override_message_timeout && r.response === undefined) {
      const s = Number(r.override_message_timeout.seconds ?? 0) * 1000 + (r.override_message_timeout.nanos ?? 0) / 1e6;
      r = await stream.next(Math.max(s, timeout));
      this.responses.push(r);
    }
    if (r.response !== expect && r.response !== 'immediate_response')
      throw new ExtProcFailure(500, `spurious ${r.response ?? 'empty'} message`);
    return r;
  }

  private async run(stream: ScriptedStream, req: SimRequest): Promise<FilterResult> {
    const authority = this.options.stripPort === false ? req.authority : stripPort(req.authority);
    const headers: Header[] = [
      [':authority', authority],
      [':path', req.path],
      [':method', req.method],
      [':scheme', 'http'],
      ...req.headers.map(([n, v]): Header => [n.toLowerCase(), v]),
      ['x-forwarded-proto', 'http'],
      ['x-request-id', randomUUID()],
    ];
    const noBody = req.body.length === 0;
    stream.write(
      headersMessage({
        authority,
        rawHeaders: headers,
        agent: this.options.agent,
        identity: this.options.identity ?? 'both',
        endOfStream: noBody,
      }),
    );
    const first = await this.answer(stream, 'request_headers');
    if (first.response === 'immediate_response') return immediate(first);
    applyExtProcMutation(headers, first.request_headers?.response?.header_mutation);
    let body = req.body;
    if (first.mode_override?.request_body_mode === 'BUFFERED' && !noBody) {
      stream.write({ request_body: { body, end_of_stream: true } });
      const second = await this.answer(stream, 'request_body');
      if (second.response === 'immediate_response') return immediate(second);
      const common = second.request_body?.response;
      applyExtProcMutation(headers, common?.header_mutation);
      const replaced = common?.body_mutation?.body;
      if (replaced !== undefined) {
        const declared = headers.find(([n]) => n === 'content-length')?.[1];
        if (declared !== undefined && Number(declared) !== replaced.length) {
          throw new ExtProcFailure(500, 'mismatch between content length and the length of the mutated body');
        }
        body = Buffer.from(replaced);
      }
    }
    return {
      kind: 'forward',
      request: {
        method: headers.find(([n]) => n === ':method')?.[1] ?? req.method,
        path: headers.find(([n]) => n === ':path')?.[1] ?? req.path,
        authority,
        headers: headers.filter(([n]) => !n.startsWith(':')),
        body,
      },
    };
  }
}
