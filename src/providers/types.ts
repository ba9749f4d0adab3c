/**
 * The shape of one Provider type's entry in the type registry (fly.io tokenizer habit: everything
 * about a type lives on the type): which `auth` and `config` fields it takes, its `auth.type`
 * words, its default hosts, the keys of its secret, how its credential goes on the wire, and the
 * endpoints that mint credentials and so never get one unless named. Pure: no I/O.
 */
import type { PolicyTraits } from '../policy/compile.js';
import type { Problems } from '../resources/fields.js';
import type { RequestGate } from './gate.js';
import type { AuthStrategy, AuthType, Provider, ProviderSpec, ProviderType } from '../resources/types.js';

/** `auth` fields a type may take beyond type, secretRef and agentEnvVar. */
export type AuthOption = 'secretKey' | 'header' | 'prefix' | 'param' | 'scheme' | 'scope' | 'tokenUrl';
/** `config` fields a type may take. */
export type ConfigField = 'region' | 'project' | 'tenantId' | 'services';

/** `scope` lists. */
export type ScopeField = 'repositories' | 'channels' | 'resources';

/** The keys of a Provider's secret: needed, and used when present. */
export interface KeySet {
  readonly requiredKeys: readonly string[];
  readonly optionalKeys: readonly string[];
}

/** One thing a Provider injects: host patterns and the strategy that puts the credential on them. */
export interface TargetPart {
  readonly hosts: readonly string[];
  readonly auth: AuthStrategy;
  /** The part's own keys, when they differ from the Provider's (several parts of one secret). */
  readonly keys?: KeySet;
  /** Per-request reasons to withhold the credential (see gate.ts). */
  readonly gate?: RequestGate;
  /** Requests this part passes without any credential (github.com web pages): the policy does not govern them. */
  readonly credentialFree?: (host: string, path: string) => boolean;
}

export interface ProviderTypeDef {
  readonly type: ProviderType;
  /** Accepted `auth.type` words; the first is the default when `auth.type` is absent. */
  readonly authTypes: readonly AuthType[];
  readonly authOptions: readonly AuthOption[];
  readonly configFields: readonly ConfigField[];
  /** The key read when `auth.secretKey` is absent (types with fixed key names ignore it). */
  readonly defaultSecretKey: string;
  /** Why the type takes no `auth.secretKey` (its secret has fixed key names), if so. */
  readonly fixedKeys?: string;
  /** Hosts covered when the Provider names none; empty: `host` is required. */
  readonly defaultHosts: readonly string[];
  /** Whether `auth` may be absent (an mcp stdio server has no credential). */
  readonly authOptional?: (spec: ProviderSpec) => boolean;
  /** Why a word in `policy.allow/deny` is not one of this type's action words, or undefined. Absent: only "*". */
  readonly actionWordProblem?: (word: string) => string | undefined;
  /** The `scope` lists this type takes. */
  readonly scopeFields: readonly ScopeField[];
  /** What the type brings to its Provider's policy: action resolver, case and scope rules (src/policy). */
  readonly policy: PolicyTraits;
  /** Cross-field rules checked at parse time, reported under field paths. */
  readonly check?: (spec: ProviderSpec, problems: Problems) => void;
  /** The keys of the Provider's secret. Never throws (the reference index reads stored documents). */
  readonly secretKeys: (spec: ProviderSpec) => KeySet;
  /** What the Provider injects, and where. Throws PaiError `invalid` for an unusable stored resource. */
  readonly targets: (p: Provider) => readonly TargetPart[];
}
