/**
 * The resource model (DESIGN §3): what users apply (ModelProvider, Provider, Agent) and the fully
 * defaulted shapes the injector works from (InjectionTarget, ResolvedAgent). Types only.
 */

export const API_VERSION = 'pai/v1';

export const MODEL_PROVIDER_TYPES = ['openai', 'anthropic', 'gemini', 'azure-openai', 'bedrock', 'openai-compatible'] as const;
export type ModelProviderType = (typeof MODEL_PROVIDER_TYPES)[number];

export const PROVIDER_TYPES = ['github', 'http', 'aws', 'telegram', 'azure', 'gcp'] as const;
export type ProviderType = (typeof PROVIDER_TYPES)[number];

export type ResourceKind = 'ModelProvider' | 'Provider' | 'Agent';

/** URL path segment and store document kind of each resource kind. */
export const KIND_PLURAL = {
  ModelProvider: 'modelproviders',
  Provider: 'providers',
  Agent: 'agents',
} as const satisfies Record<ResourceKind, string>;
export type ResourcePlural = (typeof KIND_PLURAL)[ResourceKind];

export interface ObjectMeta {
  readonly name: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface SecretKeyRef {
  readonly name: string;
  readonly key: string;
}

export interface ModelProviderSpec {
  readonly type: ModelProviderType;
  /** Optional: defaults per type; required for azure-openai and openai-compatible. */
  readonly baseUrl?: string;
  /** bedrock: the AWS region (default us-east-1) when baseUrl is not given. */
  readonly region?: string;
  /** `key` is omitted for bedrock (the secret holds access_key_id / secret_access_key). */
  readonly apiKeySecretRef: { readonly name: string; readonly key?: string };
}

export interface ProviderAuth {
  readonly secretRef: string;
  /** Default "token". */
  readonly secretKey?: string;
  /** http only: the header to set (default Authorization). */
  readonly header?: string;
  /** http only: text before the value (default "Bearer " for Authorization, "" otherwise). */
  readonly prefix?: string;
  /** http only: header (default), basic (keys username and password), or query (with `param`). */
  readonly scheme?: 'header' | 'basic' | 'query';
  /** http query scheme: the query parameter name. */
  readonly param?: string;
  /** azure and gcp: the OAuth scope. */
  readonly scope?: string;
  /** azure and gcp: override of the token endpoint (tests, sovereign clouds). */
  readonly tokenUrl?: string;
}

export interface ProviderSpec {
  readonly type: ProviderType;
  /** Exact host names or "*.suffix"; optional, default per type (required for http). */
  readonly hosts?: readonly string[];
  readonly auth: ProviderAuth;
}

export interface EnvVarRef {
  readonly name: string;
  readonly secretRef: SecretKeyRef;
}

export interface AgentSpec {
  readonly modelProviders?: readonly string[];
  readonly providers?: readonly string[];
  readonly env?: readonly EnvVarRef[];
  /** allow (default): unmatched hosts pass without a credential; deny: only matched hosts pass. */
  readonly egress?: 'allow' | 'deny';
}

interface ResourceBase<K extends ResourceKind, S> {
  readonly apiVersion: typeof API_VERSION;
  readonly kind: K;
  readonly metadata: ObjectMeta;
  readonly spec: S;
}

export type ModelProvider = ResourceBase<'ModelProvider', ModelProviderSpec>;
export type Provider = ResourceBase<'Provider', ProviderSpec>;
export type Agent = ResourceBase<'Agent', AgentSpec>;
export type Resource = ModelProvider | Provider | Agent;

/**
 * How a credential is put on a request; one variant per injection strategy. `header` names are
 * lower-case (as targetOf produces them); `key`, `usernameKey`, `passwordKey` are secret keys.
 */
export type AuthStrategy =
  | { readonly strategy: 'header'; readonly header: string; readonly prefix: string; readonly key: string }
  | { readonly strategy: 'basic'; readonly usernameKey: string; readonly passwordKey: string }
  | { readonly strategy: 'query'; readonly param: string; readonly key: string }
  | { readonly strategy: 'telegram'; readonly key: string }
  | { readonly strategy: 'sigv4'; readonly service?: string; readonly region?: string }
  | { readonly strategy: 'azure'; readonly scope: string; readonly tokenUrl?: string }
  | { readonly strategy: 'gcp'; readonly scope: string; readonly tokenUrl?: string };

/** One credential target of an agent, fully defaulted: where it applies and what it injects. */
export interface InjectionTarget {
  readonly kind: 'ModelProvider' | 'Provider';
  readonly name: string;
  readonly type: ModelProviderType | ProviderType;
  /** Canonical (lower-case, no port) exact host names or "*.suffix" wildcards. */
  readonly hosts: readonly string[];
  /** The secret this target reads. */
  readonly secret: string;
  /** The keys of that secret it needs (required), and may use (optional). */
  readonly requiredKeys: readonly string[];
  readonly optionalKeys: readonly string[];
  readonly auth: AuthStrategy;
}

/** An agent with its bindings resolved to injection targets. */
export interface ResolvedAgent {
  readonly name: string;
  readonly egress: 'allow' | 'deny';
  readonly targets: readonly InjectionTarget[];
  readonly env: readonly EnvVarRef[];
}

/** How a resource refers to a secret (for the reference index and delete protection). */
export type ReferenceVia = 'apiKeySecretRef' | 'auth.secretRef' | 'env[].secretRef';

export interface SecretReference {
  readonly kind: ResourceKind;
  readonly name: string;
  readonly via: ReferenceVia;
  readonly secret: string;
  /** The keys of the secret this reference needs. */
  readonly keys: readonly string[];
}

/** A reference that does not resolve; `message` names what is missing. */
export interface BrokenReference {
  readonly kind: ResourceKind;
  readonly name: string;
  /** Field path, e.g. spec.auth.secretRef or spec.env[2].secretRef.key. */
  readonly field: string;
  readonly message: string;
}
