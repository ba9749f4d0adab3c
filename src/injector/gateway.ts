/**
 * Gateway mode (the shared LLM gateway Envoy, envoy/gateway.yaml, docs/GATEWAY.md): the route names
 * the ModelProvider (`pai.modelprovider`), and the caller is identified, strongest first, by
 *   1. its mTLS identity (`attributes.source.principal` = `spiffe://<trust domain>/agent/<name>`), or
 *   2. an agent token (`pai_…`, role agent) sent where its SDK sends an API key.
 * When both are present the certificate wins and the token is not looked at. The agent must list
 * the ModelProvider in spec.modelProviders. On success every header a token or key may travel in is
 * removed and the ModelProvider's real key is set, so the token never reaches the provider.
 *
 * Token records, agents and secrets are cached (no store read per request once warm); a revocation
 * made through this process's admin API takes effect at once, one made elsewhere within the cache TTL.
 */
import type { Principal, TokenService } from '../auth/tokens.js';
import { PaiError, isPaiError, toPaiError } from '../errors.js';
import type { CheckRequest__Output } from '../generated/envoy/service/auth/v3/CheckRequest.js';
import { refusedMethodError } from '../inject/method.js';
import type { HeaderMutation, InjectRequest } from '../inject/mutation.js';
import { mutationFor, needsExtProc, needsExtProcError } from '../inject/strategies.js';
import type { Metrics } from '../metrics.js';
import type { CounterChild } from '../metrics-fast.js';
import { quoteName } from '../resources/names.js';
import type { SecretRecord } from '../store/types.js';
import { type AgentDirectory, type AgentId, type AgentView, agentLabel } from './agents.js';
import { type Decision, type DecisionInput, secretKey } from './decide.js';
import { agentIdentity } from './identity.js';
import type { LoadingCache } from './loading-cache.js';

/** The context extension that selects the injector's mode; absent means sidecar mode. */
export const MODE_EXTENSION = 'pai.mode';
export const GATEWAY_MODE = 'gateway';
/** The context extension naming the ModelProvider of a gateway route. */
export const MODEL_PROVIDER_EXTENSION = 'pai.modelprovider';

/**
 * Headers where LLM SDKs send their API key (OpenAI and Azure-AD style `Authorization: Bearer`,
 * Anthropic `x-api-key`, Gemini `x-goog-api-key`, Azure OpenAI `api-key`): an agent token is looked
 * for here, and all of them are removed from every forwarded request.
 */
export const TOKEN_HEADERS: readonly string[] = Object.freeze(['authorization', 'x-api-key', 'x-goog-api-key', 'api-key']);

const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const BEARER = /^bearer\s+/i;

export interface GatewayInput {
  /** context_extensions['pai.modelprovider'] of the route. */
  readonly modelProvider: string | undefined;
  /** attributes.source.principal as Envoy reports it (empty without a client certificate). */
  readonly principal: string | undefined;
  readonly headers: readonly (readonly [string, string])[];
  readonly method: string;
  readonly path: string;
}

/** The gateway input of a CheckRequest whose common part `base` was already parsed (ext-authz.ts checkInput). */
export function gatewayInputOf(req: CheckRequest__Output, base: DecisionInput): GatewayInput {
  const attrs = req.attributes;
  return {
    modelProvider: attrs?.context_extensions?.[MODEL_PROVIDER_EXTENSION] || undefined,
    principal: attrs?.source?.principal || undefined,
    headers: base.headers,
    method: base.method,
    path: base.path,
  };
}

export interface GatewayDeps {
  readonly tokens: Pick<TokenService, 'verify'>;
  readonly agents: AgentDirectory;
  readonly secrets: LoadingCache<SecretRecord>;
  /** The SPIFFE trust domain whose `/agent/<name>` identities are accepted (config PAI_SPIFFE_TRUST_DOMAIN). */
  readonly trustDomain: string;
  /** Counts pai_gateway_requests_total{modelprovider,outcome}. */
  readonly metrics?: Pick<Metrics, 'gatewayRequests'>;
}

/**
 * The agent named by a SPIFFE principal in `trustDomain`: `spiffe://<trustDomain>/ns/<namespace>/agent/<name>`,
 * or `spiffe://<trustDomain>/agent/<name>` for the default namespace (names DNS-1123 labels,
 * nothing after them); undefined for anything else.
 */
export function agentFromPrincipal(principal: string | undefined, trustDomain: string): AgentId | undefined {
  if (!principal) return undefined;
  const root = `spiffe://${trustDomain}/`;
  if (!principal.startsWith(root)) return undefined;
  const parts = principal.slice(root.length).split('/');
  if (parts.length === 2 && parts[0] === 'agent') return agentIdentity(parts[1], undefined);
  if (parts.length === 4 && parts[0] === 'ns' && parts[2] === 'agent' && parts[1] !== '')
    return agentIdentity(parts[3], parts[1]);
  return undefined;
}

/**
 * The distinct agent tokens (`pai_…`) the request carries in the SDK key headers, in header order.
 * `Authorization` is read as `Bearer <token>`; the others hold the token alone.
 */
export function presentedTokens(headers: readonly (readonly [string, string])[]): string[] {
  const found: string[] = [];
  for (const [rawName, rawValue] of headers) {
    const name = rawName.toLowerCase();
    if (!TOKEN_HEADERS.includes(name)) continue;
    const value = (name === 'authorization' ? rawValue.replace(BEARER, '') : rawValue).trim();
    if (value.startsWith('pai_') && !found.includes(value)) found.push(value);
  }
  return found;
}

// The removal list per strategy list, computed once: the ext_authz mapper caches by array identity.
const withTokenRemovals = new WeakMap<readonly string[], readonly string[]>();

/** `m` with every SDK key header removed too (the token must never reach the provider). */
function withTokenHeadersRemoved(m: HeaderMutation): HeaderMutation {
  let remove = withTokenRemovals.get(m.remove);
  if (remove === undefined) {
    const missing = TOKEN_HEADERS.filter((name) => !m.remove.includes(name));
    // Every ModelProvider strategy already removes all of them (CREDENTIAL_HEADERS): keep its array.
    remove = missing.length === 0 ? m.remove : Object.freeze([...m.remove, ...missing]);
    withTokenRemovals.set(m.remove, remove);
  }
  return remove === m.remove ? m : { ...m, remove };
}

const NO_CREDENTIAL =
  "no agent identity: send the agent's token (pai_…) where the SDK sends its API key, or connect with the agent's client certificate";

const BAD_TOKEN = 'invalid, expired or revoked agent token';

export class GatewayDecider {
  // pai_gateway_requests_total label sets, resolved once each (not hashed per request).
  private readonly counters = new Map<string, CounterChild>();

  constructor(private readonly deps: GatewayDeps) {}

  /** Decides one gateway request and counts it; never throws (failures are `deny` decisions). */
  async decide(input: GatewayInput): Promise<Decision> {
    const d = await this.decideUncounted(input);
    this.count(input.modelProvider, d.kind === 'deny' ? d.error.code : d.kind);
    return d;
  }

  private count(modelProvider: string | undefined, outcome: string): void {
    const metric = this.deps.metrics?.gatewayRequests;
    if (!metric) return;
    // The label comes from the gateway's Envoy config, not from the agent; still, only names.
    const mp = modelProvider !== undefined && NAME.test(modelProvider) ? modelProvider : 'none';
    const key = `${mp}\u0000${outcome}`;
    let child = this.counters.get(key);
    if (!child) {
      child = metric.child({ modelprovider: mp, outcome });
      this.counters.set(key, child);
    }
    child.inc();
  }

  private async decideUncounted(input: GatewayInput): Promise<Decision> {
    let agent: string | undefined;
    try {
      const mp = input.modelProvider;
      if (!mp) {
        throw new PaiError('no_identity', 'the gateway route names no model provider (context extension pai.modelprovider)');
      }
      const caller = await this.caller(input);
      agent = agentLabel(caller.agent);
      const v = this.deps.agents.get(caller.agent);
      const view = v instanceof Promise ? await v : v;
      // A token issued for an earlier agent of this name (deleted, then re-created) is not this one's.
      if (caller.agentCreatedAt !== undefined && caller.agentCreatedAt !== view.createdAt) {
        throw new PaiError('unauthenticated', BAD_TOKEN);
      }
      return await this.inject(input, mp, agent, view);
    } catch (err) {
      return { kind: 'deny', error: toPaiError(err), ...(agent ? { agent } : {}) };
    }
  }

  /** The calling agent: the certificate's identity, else the one agent token's. Throws `unauthenticated`. */
  private async caller(input: GatewayInput): Promise<{ agent: AgentId; agentCreatedAt?: string }> {
    const fromCert = agentFromPrincipal(input.principal, this.deps.trustDomain);
    if (fromCert) return { agent: fromCert };
    const tokens = presentedTokens(input.headers);
    const token = tokens[0];
    if (token === undefined) throw new PaiError('unauthenticated', NO_CREDENTIAL);
    if (tokens.length > 1) {
      throw new PaiError('unauthenticated', 'the request carries more than one agent token; send exactly one');
    }
    let principal: Principal;
    try {
      // role: an admin, viewer or renderer token is refused exactly like an unknown one.
      principal = await this.deps.tokens.verify(token, { role: 'agent', surface: 'gateway' });
    } catch (err) {
      if (isPaiError(err, 'unauthenticated')) throw new PaiError('unauthenticated', BAD_TOKEN);
      throw err;
    }
    // verify() already refused other roles; an agent token without its agent is a corrupt record.
    const id = principal.role === 'agent' ? agentIdentity(principal.agent, principal.agentNamespace) : undefined;
    if (id === undefined) throw new PaiError('unauthenticated', BAD_TOKEN);
    return {
      agent: id,
      ...(principal.agentCreatedAt === undefined ? {} : { agentCreatedAt: principal.agentCreatedAt }),
    };
  }

  private async inject(input: GatewayInput, mp: string, agent: string, view: AgentView): Promise<Decision> {
    if (!view.modelProviders.has(mp)) {
      throw new PaiError(
        'not_bound',
        `agent ${quoteName(agent)} may not use model provider ${quoteName(mp)} (not in its spec.models)`,
        { details: { agent, modelProvider: mp } },
      );
    }
    const target = view.agent.targets.find((t) => t.kind === 'ModelProvider' && t.name === mp);
    if (!target) {
      throw new PaiError(
        'not_bound',
        `model provider ${quoteName(mp)} in spec.models of agent ${quoteName(agent)} does not exist`,
        { details: { agent, modelProvider: mp } },
      );
    }
    const refused = refusedMethodError(input.method, target);
    if (refused) throw refused;
    if (needsExtProc(target)) throw needsExtProcError(target);
    let record: SecretRecord;
    try {
      record = await this.deps.secrets.get(secretKey(view.agent.namespace, target.secret));
    } catch (err) {
      if (!isPaiError(err, 'not_found')) throw err;
      throw new PaiError(
        'secret_missing',
        `secret ${quoteName(target.secret)} used by ModelProvider ${quoteName(mp)} does not exist`,
        {
          details: { secret: target.secret, kind: target.kind, name: target.name },
        },
      );
    }
    const host = target.hosts[0] ?? '';
    const request: InjectRequest = { method: input.method, path: input.path, headers: input.headers, host };
    // ModelProviders use header strategies only (bedrock's SigV4 is refused above): no token exchange.
    const mutation = withTokenHeadersRemoved(mutationFor(target, record.data, request));
    return { kind: 'inject', agent, host, target, mutation, values: record.data };
  }
}
