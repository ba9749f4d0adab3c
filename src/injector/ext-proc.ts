/**
 * envoy.service.ext_proc.v3.ExternalProcessor/Process: one bidirectional stream per HTTP request.
 *
 * Protocol, as Envoy's ext_proc filter drives it (external_processor.proto, ext_proc.cc):
 * - The first message is request_headers, with the route's identity in `attributes`
 *   (ext-proc-identity.ts). The injector decides and answers with exactly one response of the
 *   matching type: a HeadersResponse carrying the header mutation (and a `:path` rewrite for
 *   telegram and query credentials), or an ImmediateResponse denial with the same JSON body,
 *   status and x-pai-deny-reason header as a Check denial.
 * - SigV4 needs the body: the headers answer carries `mode_override` with request_body_mode
 *   BUFFERED (Envoy must set allow_mode_override), Envoy then sends the whole body in one
 *   request_body message, and the BodyResponse carries the signature headers. The body is never
 *   changed, so content-length stays as the agent sent it: with BUFFERED body and SENT headers
 *   Envoy keeps content-length and leaves it to the processor to match a *mutated* body, which
 *   does not happen here (processing_mode.proto, BodySendMode). A request whose headers end the
 *   stream (no body) is signed at once over the empty body, since Envoy will send no body message.
 *   A body over `maxSignedBodyBytes` (PAI_MAX_SIGNED_BODY) is denied 413 `body_too_large`, from the
 *   declared content-length already at the headers when possible; a query over the bounds of
 *   inject/sigv4-query.ts is denied 400 `bad_request` at the headers.
 * - Messages the injector never asks for (response headers or bodies, trailers, a body it did not
 *   request) get an empty response of the matching type; a second request_headers or a message
 *   with no content is a protocol error and is denied. A stream that ends early is dropped quietly.
 * - When a decision is slow (a cold store read, an OAuth token exchange), the injector asks Envoy
 *   once per message to wait longer (override_message_timeout, bounded by the filter's
 *   max_message_timeout: 5 s in envoy/sidecar-ext-proc.yaml).
 * Nothing here throws into grpc-js: every failure becomes a denial.
 */
import type * as grpc from '@grpc/grpc-js';
import { PaiError, toPaiError } from '../errors.js';
import { awsScopeFromHost } from '../inject/aws-scope.js';
import type { HeaderMutation } from '../inject/mutation.js';
import { sigv4Mutation } from '../inject/sigv4.js';
import { assertPathQueryBounds } from '../inject/sigv4-query.js';
import type { InjectionTarget } from '../resources/types.js';
import type { ProcessingRequest__Output } from '../generated/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse } from '../generated/envoy/service/ext_proc/v3/ProcessingResponse.js';
import type { Decision, DecisionInput, Decider } from './decide.js';
import type { CompiledPolicy } from '../policy/compile.js';
import { filterToolsList } from '../policy/mcp-filter.js';
import { agentFromAttributes, namedInAttributes } from './ext-proc-identity.js';
import {
  type HeaderPairs,
  bodyResponse,
  bufferBodyResponse,
  declaredLength,
  emptyResponseFor,
  extendTimeout,
  headerPairs,
  headersResponse,
  immediateDenial,
  processInput,
  rawAuthority,
  responseBodyResponse,
  responseHeadersResponse,
} from './ext-proc-messages.js';
import { decodeProcessingRequest, encodeProcessingResponse } from './ext-proc-codec.js';
import type { DecisionObserver } from './observe.js';
import type { PeerIdentity } from './peer-identity.js';
import type { InjectorParts, ServiceRegistrar } from './server.js';
import { servedService } from './service-shapes.js';

export interface ExtProcOptions {
  /** Largest request body signed (PAI_MAX_SIGNED_BODY); a larger one is denied 413. */
  readonly maxSignedBodyBytes: number;
  /** The signing clock. */
  readonly now?: () => Date;
  /** After this long without an answer, ask Envoy to wait `extendedTimeoutMs` (default 250 ms). */
  readonly slowAfterMs?: number;
  /** The extension asked for; at most the filter's max_message_timeout (default 5 s). */
  readonly extendedTimeoutMs?: number;
}

type Call = grpc.ServerDuplexStream<ProcessingRequest__Output, ProcessingResponse>;
type SignDecision = Extract<Decision, { kind: 'sign' }>;

function tooLarge(bytes: number, limit: number, verb: 'signs' | 'reads'): PaiError {
  return new PaiError(
    'body_too_large',
    `the request body (${bytes} bytes) is larger than the ${limit} bytes the injector ${verb} (PAI_MAX_SIGNED_BODY)`,
    { details: { limit } },
  );
}

/** The target with SigV4 service and region filled in from the canonical host when it names none. */
function scoped(target: InjectionTarget, host: string): InjectionTarget {
  const auth = target.auth;
  if (auth.strategy !== 'sigv4' || (auth.service !== undefined && auth.region !== undefined)) return target;
  // Derived from the canonical (lower-case, port-free) host, while the raw authority is what gets signed.
  const derived = awsScopeFromHost(host);
  return {
    ...target,
    auth: { strategy: 'sigv4', service: auth.service ?? derived.service, region: auth.region ?? derived.region },
  };
}

/** What a stream waits for after its request headers. */
type Pending =
  | { readonly kind: 'sign'; readonly decision: SignDecision; readonly pairs: HeaderPairs }
  /** The Provider's policy reads the body: decide again once it is here. */
  | { readonly kind: 'policy'; readonly input: DecisionInput; readonly pairs: HeaderPairs };

/** The state of one Process stream: one HTTP request (and its response, when a tools/list answer is filtered). */
class ProcessStream {
  private state: 'headers' | 'body' | 'response' | 'done' = 'headers';
  private closed = false;
  private queue: Promise<void> = Promise.resolve();
  private started = process.hrtime.bigint();
  private pending: Pending | undefined;
  /** The request's method and `:path`, for the request log. */
  private request: { readonly method: string; readonly path: string } | undefined;
  /** Set when the response must pass the Provider's tools/list filter. */
  private filter: { readonly policy: CompiledPolicy; readonly contentType?: string; readonly decision: Decision } | undefined;

  constructor(
    private readonly call: Call,
    private readonly decider: Decider,
    private readonly observer: DecisionObserver,
    private readonly options: Required<ExtProcOptions>,
    /** Shared mode: the agent is the mTLS client certificate's SPIFFE ID (peer-identity.ts). */
    private readonly peer: PeerIdentity | undefined,
  ) {
    call.on('data', (msg: ProcessingRequest__Output) => {
      this.queue = this.queue.then(() => this.handle(msg)).catch((err: unknown) => this.deny(toPaiError(err)));
    });
    call.on('end', () => {
      this.queue = this.queue.finally(() => {
        this.closed = true;
        call.end();
      });
    });
    call.on('error', () => {
      this.closed = true;
    });
    call.on('cancelled', () => {
      this.closed = true;
    });
  }

  private write(response: ProcessingResponse): void {
    if (this.closed) return;
    try {
      this.call.write(response);
    } catch {
      this.closed = true;
    }
  }

  private observe(d: Decision): void {
    this.observer.observe('process', d, this.started, this.request);
  }

  /** Answers with an ImmediateResponse denial; `about` is the decision it concerns (for metrics and logs). */
  private deny(error: PaiError, about?: Partial<Omit<Extract<Decision, { kind: 'deny' }>, 'kind' | 'error'>>): void {
    this.state = 'done';
    this.pending = undefined;
    const d: Decision = {
      kind: 'deny',
      error,
      ...(about?.agent === undefined ? {} : { agent: about.agent }),
      ...(about?.host === undefined ? {} : { host: about.host }),
      ...(about?.target === undefined ? {} : { target: about.target }),
      ...(about?.verdict === undefined ? {} : { verdict: about.verdict }),
    };
    this.observe(d);
    this.write(immediateDenial(error));
  }

  private async handle(msg: ProcessingRequest__Output): Promise<void> {
    if (this.closed || msg.observability_mode === true) return;
    switch (msg.request) {
      case 'request_headers':
        if (this.state !== 'headers') return this.deny(new PaiError('bad_request', 'ext_proc stream sent request_headers twice'));
        return this.onHeaders(msg);
      case 'request_body':
        if (this.state !== 'body') return this.write(bodyResponse());
        return this.onBody(msg.request_body?.body ?? Buffer.alloc(0));
      case 'response_headers':
        if (this.filter === undefined) return this.write(emptyResponseFor(msg.request));
        return this.onResponseHeaders(headerPairs(msg.response_headers));
      case 'response_body':
        if (this.filter === undefined) return this.write(emptyResponseFor(msg.request));
        return this.onResponseBody(msg.response_body?.body ?? Buffer.alloc(0));
      case 'request_trailers':
      case 'response_trailers':
        return this.write(emptyResponseFor(msg.request));
      default:
        return this.deny(new PaiError('bad_request', 'ext_proc message carries neither headers, body nor trailers'));
    }
  }

  /** Runs `work`; if it takes longer than slowAfterMs, asks Envoy once to extend its message timeout. */
  private async patiently<T>(work: Promise<T>): Promise<T> {
    const timer = setTimeout(() => this.write(extendTimeout(this.options.extendedTimeoutMs)), this.options.slowAfterMs);
    try {
      return await work;
    } finally {
      clearTimeout(timer);
    }
  }

  private async decide(input: DecisionInput): Promise<Decision | undefined> {
    try {
      const decided = this.decider.decide(input);
      return decided instanceof Promise ? await this.patiently(decided) : decided;
    } catch (err) {
      this.deny(toPaiError(err));
      return undefined;
    }
  }

  private async onHeaders(msg: ProcessingRequest__Output): Promise<void> {
    this.started = process.hrtime.bigint();
    const pairs = headerPairs(msg.request_headers);
    const agent = this.peer
      ? this.peer.agentOf(this.call, namedInAttributes(msg.attributes))
      : agentFromAttributes(msg.attributes);
    if (agent instanceof PaiError) return this.deny(agent);
    const input = processInput(pairs, agent);
    this.request = { method: input.method, path: input.path };
    const d = await this.decide(input);
    if (d === undefined || this.closed) return;
    const endOfStream = msg.request_headers?.end_of_stream === true;
    if (d.kind === 'body') {
      if (endOfStream) return this.answer(await this.decide({ ...input, body: Buffer.alloc(0) }), pairs, 'headers', true);
      const declared = declaredLength(pairs);
      const limit = this.options.maxSignedBodyBytes;
      if (declared !== undefined && declared > limit) return this.deny(tooLarge(declared, limit, 'reads'), d);
      this.state = 'body';
      this.pending = { kind: 'policy', input, pairs };
      return this.write(bufferBodyResponse());
    }
    return this.answer(d, pairs, 'headers', endOfStream);
  }

  /** Answers `d` in the response to the current message (request headers, or the buffered body). */
  private async answer(d: Decision | undefined, pairs: HeaderPairs, at: 'headers' | 'body', endOfStream = false): Promise<void> {
    if (d === undefined || this.closed) return;
    const respond = (m?: HeaderMutation) =>
      at === 'headers' ? headersResponse(m, this.responseMode(d)) : bodyResponse(m, this.responseMode(d));
    switch (d.kind) {
      case 'pass':
      case 'inject':
        this.state = this.filter === undefined ? 'done' : 'response';
        this.observe(d);
        return this.write(respond(d.kind === 'inject' ? d.mutation : undefined));
      case 'deny':
        return this.deny(d.error, d);
      case 'body':
        return this.deny(new PaiError('internal', 'the policy asked for the body twice'), d);
      case 'sign':
        if (at === 'body') {
          const body = this.pending?.kind === 'policy' ? (this.pending.input.body ?? Buffer.alloc(0)) : Buffer.alloc(0);
          const m = await this.patiently(this.sign(d, pairs, body));
          if (m) this.write(respond(m));
          return;
        }
        return this.onSign(d, pairs, endOfStream);
    }
  }

  /** The response processing to ask for: the tools/list filter needs the response headers and body. */
  private responseMode(d: Decision): 'filter' | undefined {
    const verdict = d.kind === 'inject' || d.kind === 'sign' ? d.verdict : undefined;
    const policy = d.kind === 'inject' || d.kind === 'sign' ? d.target.policy : undefined;
    if (verdict?.filterResponse !== 'tools/list' || policy === undefined) return undefined;
    this.filter = { policy, decision: d };
    return 'filter';
  }

  private async onSign(d: SignDecision, pairs: HeaderPairs, endOfStream: boolean): Promise<void> {
    const limit = this.options.maxSignedBodyBytes;
    const declared = declaredLength(pairs);
    if (declared !== undefined && declared > limit) return this.deny(tooLarge(declared, limit, 'signs'), d);
    // A query too large to sign is refused now, before Envoy is asked to buffer a body for it.
    try {
      assertPathQueryBounds(d.request.path);
    } catch (err) {
      return this.deny(toPaiError(err), d);
    }
    if (endOfStream) {
      // No body will follow: sign the empty body now, in the headers answer.
      const m = await this.sign(d, pairs, Buffer.alloc(0));
      if (m) this.write(headersResponse(m, this.responseMode(d)));
      return;
    }
    this.state = 'body';
    this.pending = { kind: 'sign', decision: d, pairs };
    this.write(bufferBodyResponse());
  }

  private async onBody(body: Buffer): Promise<void> {
    const pending = this.pending;
    if (!pending) return this.write(bodyResponse());
    const limit = this.options.maxSignedBodyBytes;
    if (body.length > limit) {
      return this.deny(
        tooLarge(body.length, limit, pending.kind === 'sign' ? 'signs' : 'reads'),
        pending.kind === 'sign' ? pending.decision : {},
      );
    }
    if (pending.kind === 'sign') {
      const m = await this.patiently(this.sign(pending.decision, pending.pairs, body));
      if (m) this.write(bodyResponse(m, this.responseMode(pending.decision)));
      return;
    }
    const input = { ...pending.input, body };
    this.pending = { ...pending, input };
    await this.answer(await this.decide(input), pending.pairs, 'body');
  }

  /** Signs and records the outcome; undefined after a denial was sent instead. */
  private async sign(d: SignDecision, pairs: HeaderPairs, body: Buffer): Promise<HeaderMutation | undefined> {
    this.state = this.filter === undefined ? 'done' : 'response';
    this.pending = undefined;
    let mutation: HeaderMutation;
    try {
      const request = { ...d.request, host: rawAuthority(pairs) ?? d.request.host };
      mutation = await sigv4Mutation(scoped(d.target, d.host), d.values, request, body, this.options.now());
    } catch (err) {
      this.deny(toPaiError(err), d);
      return undefined;
    }
    const injected: Decision = { kind: 'inject', agent: d.agent, host: d.host, target: d.target, mutation, values: d.values };
    this.observe(d.verdict === undefined ? injected : { ...injected, verdict: d.verdict });
    return mutation;
  }

  /** The response headers of a filtered tools/list answer: note the content type, drop the length (the body may shrink). */
  private onResponseHeaders(pairs: HeaderPairs): void {
    const contentType = pairs.find(([n]) => n === 'content-type')?.[1];
    if (this.filter !== undefined) this.filter = { ...this.filter, ...(contentType === undefined ? {} : { contentType }) };
    this.write(responseHeadersResponse());
  }

  /** The buffered tools/list answer, with the tools the Provider's policy denies removed (fail closed). */
  private onResponseBody(body: Buffer): void {
    const filter = this.filter;
    this.filter = undefined;
    this.state = 'done';
    if (filter === undefined) return this.write(emptyResponseFor('response_body'));
    const filtered = filterToolsList(filter.policy, body, filter.contentType ?? '');
    if (!filtered.ok) {
      const error = new PaiError(
        'policy_denied',
        `the tools/list answer could not be filtered (${filtered.why}); it is withheld`,
        {
          details: { reason: 'bad_body' },
        },
      );
      return this.deny(
        error,
        filter.decision.kind === 'deny' ? {} : { agent: filter.decision.agent, host: filter.decision.host },
      );
    }
    this.write(responseBodyResponse(filtered.body));
  }
}

/** The ExternalProcessor service, mounted on the injector's server through InjectorServer's registrars. */
export class ExtProcService implements ServiceRegistrar {
  private readonly options: Required<ExtProcOptions>;

  constructor(options: ExtProcOptions) {
    this.options = {
      maxSignedBodyBytes: options.maxSignedBodyBytes,
      now: options.now ?? (() => new Date()),
      slowAfterMs: options.slowAfterMs ?? 250,
      extendedTimeoutMs: options.extendedTimeoutMs ?? 5000,
    };
  }

  /** Registers Process on `server` with the hand-written codec (ext-proc-codec.ts), deciding with the shared parts. */
  addToServer(server: grpc.Server, parts: InjectorParts): void {
    const codec = { requestDeserialize: decodeProcessingRequest, responseSerialize: encodeProcessingResponse };
    server.addService(servedService('extProc', { Process: codec }), {
      Process: (call: Call) => {
        new ProcessStream(call, parts.decider, parts.observer, this.options, parts.peer);
      },
    });
  }
}
