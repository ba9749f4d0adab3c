/**
 * The injection decision shared by ext_authz Check and ext_proc Process (DESIGN §6): identity from
 * the sidecar config, the agent's targets, the canonical host, the matched target, the secret
 * (cached), and the strategy's mutation. Every failure is a `deny` carrying a PaiError whose code
 * gives the status and the metric reason; nothing here ever puts a value in a message.
 */
import { PaiError, isPaiError, toPaiError } from '../errors.js';
import { formatAuthority, requestHost } from '../inject/host.js';
import type { HeaderMutation, InjectRequest } from '../inject/mutation.js';
import { withDefaultQuery } from '../inject/default-query.js';
import { refusedMethodError } from '../inject/method.js';
import { mutationFor, needsExtProc, needsExtProcError } from '../inject/strategies.js';
import { quoteName } from '../resources/names.js';
import type { InjectionTarget } from '../resources/types.js';
import type { SecretRecord } from '../store/types.js';
import { type AgentDirectory, type AgentId, type AgentView, agentLabel } from './agents.js';
import type { LoadingCache } from './loading-cache.js';
import type { PolicyVerdict } from '../policy/evaluate.js';
import { policyStep } from './policy-step.js';

export type InjectorApi = 'check' | 'process';

export interface DecisionInput {
  readonly api: InjectorApi;
  /** The agent named by the sidecar's config (namespace and name); undefined when the request carries none. */
  readonly agent: AgentId | undefined;
  /** Request headers as (name, value) pairs, pseudo-headers included. */
  readonly headers: readonly (readonly [string, string])[];
  readonly method: string;
  /** `:path`: path and query. */
  readonly path: string;
  readonly scheme: 'http' | 'https';
  /** The request body, when ext_proc buffered it because the Provider's policy reads it. */
  readonly body?: Buffer | undefined;
}

export type Decision =
  | { readonly kind: 'pass'; readonly agent: string; readonly host: string }
  | {
      readonly kind: 'inject';
      readonly agent: string;
      readonly host: string;
      readonly target: InjectionTarget;
      readonly mutation: HeaderMutation;
      readonly values: ReadonlyMap<string, Buffer>;
      /** The policy's verdict (allow, or audit-deny in audit mode); absent without a policy. */
      readonly verdict?: PolicyVerdict;
    }
  | {
      /** SigV4: the body is needed before the request can be signed (ext_proc only). */
      readonly kind: 'sign';
      readonly agent: string;
      readonly host: string;
      readonly target: InjectionTarget;
      readonly values: ReadonlyMap<string, Buffer>;
      readonly request: InjectRequest;
      readonly verdict?: PolicyVerdict;
    }
  | {
      /** The Provider's policy reads the body: ext_proc buffers it and decides again with it. */
      readonly kind: 'body';
      readonly agent: string;
      readonly host: string;
      readonly target: InjectionTarget;
    }
  | {
      readonly kind: 'deny';
      readonly error: PaiError;
      readonly agent?: string;
      readonly host?: string;
      readonly target?: InjectionTarget;
      readonly verdict?: PolicyVerdict;
    };

/**
 * Fetches OAuth access tokens (azure, gcp) for a target; cached by the implementation, with the
 * secret's version in the cache key (a rotated secret gets a new token). Throws PaiError.
 */
export interface AccessTokenSource {
  get(target: InjectionTarget, values: ReadonlyMap<string, Buffer>, secretVersion: number): Promise<string>;
}

export interface DeciderDeps {
  /**
   * The most one decision waits for the store, all reads together (default 150 ms, inside Envoy's
   * default 200 ms ext_authz timeout): the agent read may use all but MIN_READ_MS of it, the secret
   * read what is left (at least MIN_READ_MS), so that a hanging store still gets a stale-if-error
   * or 503 answer in time.
   */
  readonly storeBudgetMs?: number;
  readonly agents: AgentDirectory;
  /** Secret records keyed by secretKey(namespace, name). */
  readonly secrets: LoadingCache<SecretRecord>;
  readonly accessTokens?: AccessTokenSource;
}

/** The key of a secret in the injector's cache: namespace and name (names hold no "/"). */
export function secretKey(ns: string, name: string): string {
  return `${ns}/${name}`;
}

/** The namespace and name of a secret cache key. */
export function secretOfKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** `d` (or the decision it resolves to) carrying the policy's verdict when it injects or signs. */
function withVerdict(d: Decision | Promise<Decision>, verdict: PolicyVerdict | undefined): Decision | Promise<Decision> {
  if (verdict === undefined) return d;
  const add = (x: Decision): Decision => (x.kind === 'inject' || x.kind === 'sign' ? { ...x, verdict } : x);
  return d instanceof Promise ? d.then(add) : add(d);
}

function secretMissing(target: InjectionTarget): PaiError {
  return new PaiError(
    'secret_missing',
    `secret ${quoteName(target.secret)} used by ${target.kind} ${quoteName(target.name)} does not exist`,
    { details: { secret: target.secret, kind: target.kind, name: target.name } },
  );
}

const denyFrom = (err: unknown, agent?: string, host?: string, target?: InjectionTarget): Decision => ({
  kind: 'deny',
  error: toPaiError(err),
  ...(agent === undefined ? {} : { agent }),
  ...(host === undefined ? {} : { host }),
  ...(target === undefined ? {} : { target }),
});

/**
 * Decides requests. When everything a decision needs is cached (the common case), it is made
 * synchronously and returned as a value; otherwise as a promise. Callers `await` either.
 */
/** The least time the secret read of a decision is given, however long the agent read took. */
const MIN_READ_MS = 40;

export class Decider {
  private readonly budgetMs: number;
  private readonly secretKeys = new WeakMap<InjectionTarget, { readonly namespace: string; readonly key: string }>();

  constructor(private readonly deps: DeciderDeps) {
    this.budgetMs = deps.storeBudgetMs ?? 150;
  }

  /** The cache key of `target`'s secret, built once per target (and namespace), not per request. */
  private secretKeyOf(namespace: string, target: InjectionTarget): string {
    const known = this.secretKeys.get(target);
    if (known !== undefined && known.namespace === namespace) return known.key;
    const key = secretKey(namespace, target.secret);
    this.secretKeys.set(target, { namespace, key });
    return key;
  }

  /** How long a read may still wait, given the decision's deadline. */
  private remaining(deadline: number): number {
    return Math.max(MIN_READ_MS, Math.ceil(deadline - performance.now()));
  }

  /** Decides one request; never throws or rejects (failures are `deny` decisions). */
  decide(input: DecisionInput): Decision | Promise<Decision> {
    const agentId = input.agent;
    if (!agentId) {
      return {
        kind: 'deny',
        error: new PaiError(
          'no_identity',
          'the request carries no agent identity: the sidecar route must name the agent (pai.agent)',
        ),
      };
    }
    const agentName = agentLabel(agentId);
    const deadline = performance.now() + this.budgetMs;
    let view: AgentView | Promise<AgentView>;
    try {
      view = this.deps.agents.get(agentId, Math.max(MIN_READ_MS, this.budgetMs - MIN_READ_MS));
    } catch (err) {
      return denyFrom(err, agentName);
    }
    if (view instanceof Promise) {
      return view.then(
        (v) => this.forAgent(input, agentName, v, deadline),
        (err: unknown) => denyFrom(err, agentName),
      );
    }
    return this.forAgent(input, agentName, view, deadline);
  }

  private forAgent(input: DecisionInput, agentName: string, view: AgentView, deadline: number): Decision | Promise<Decision> {
    let host: string;
    let authority: string;
    try {
      const canonical = requestHost(input.headers, input.scheme);
      host = canonical.host;
      authority = formatAuthority(canonical);
    } catch (err) {
      return denyFrom(err, agentName);
    }
    const target = view.match(host);
    if (!target) {
      if (view.agent.egress === 'deny') {
        const error = new PaiError(
          'egress_denied',
          `agent ${quoteName(agentName)} may reach only its providers' hosts; ${host} is not one`,
          {
            details: { host },
          },
        );
        return { kind: 'deny', error, agent: agentName, host };
      }
      return { kind: 'pass', agent: agentName, host };
    }
    if (target.gate !== undefined) {
      const withheld = target.gate({ host, method: input.method, path: input.path });
      if (withheld !== undefined) return denyFrom(withheld, agentName, host, target);
    }
    const refused = refusedMethodError(input.method, target);
    if (refused) return denyFrom(refused, agentName, host, target);
    const step = policyStep(input, target, host);
    if (step.kind === 'body') return { kind: 'body', agent: agentName, host, target };
    if (step.kind === 'deny') {
      return {
        kind: 'deny',
        error: step.error,
        agent: agentName,
        host,
        target,
        ...(step.verdict ? { verdict: step.verdict } : {}),
      };
    }
    const verdict = step.verdict;
    if (input.api === 'check' && needsExtProc(target)) return denyFrom(needsExtProcError(target), agentName, host, target);
    const key = this.secretKeyOf(view.agent.namespace, target);
    const cached = this.deps.secrets.peek(key);
    if (cached) return withVerdict(this.withRecord(input, agentName, host, authority, target, cached), verdict);
    return this.deps.secrets.get(key, this.remaining(deadline)).then(
      (record) => withVerdict(this.withRecord(input, agentName, host, authority, target, record), verdict),
      (err: unknown) => denyFrom(isPaiError(err, 'not_found') ? secretMissing(target) : err, agentName, host, target),
    );
  }

  private withRecord(
    input: DecisionInput,
    agent: string,
    host: string,
    authority: string,
    target: InjectionTarget,
    record: SecretRecord,
  ): Decision | Promise<Decision> {
    try {
      const values = record.data;
      for (const key of target.requiredKeys) {
        if (!values.has(key)) {
          throw new PaiError(
            'key_missing',
            `secret ${quoteName(target.secret)} has no key ${quoteName(key)} (needed by ${target.kind} ${quoteName(target.name)})`,
            { details: { secret: target.secret, key } },
          );
        }
      }
      const request: InjectRequest = { method: input.method, path: input.path, headers: input.headers, host: authority };
      const strategy = target.auth.strategy;
      if (strategy === 'sigv4') return { kind: 'sign', agent, host, target, values, request };
      if (strategy === 'azure' || strategy === 'gcp') {
        const tokens = this.deps.accessTokens;
        if (!tokens) throw new PaiError('internal', `${strategy} token exchange is not configured in this injector`);
        return tokens.get(target, values, record.meta.version).then(
          (accessToken): Decision => ({
            kind: 'inject',
            agent,
            host,
            target,
            mutation: withDefaultQuery(target, request, mutationFor(target, values, request, accessToken)),
            values,
          }),
          (err: unknown) => denyFrom(err, agent, host, target),
        );
      }
      return {
        kind: 'inject',
        agent,
        host,
        target,
        mutation: withDefaultQuery(target, request, mutationFor(target, values, request)),
        values,
      };
    } catch (err) {
      return denyFrom(err, agent, host, target);
    }
  }
}
