/**
 * The resource model: what users apply (ModelProvider, Provider, Agent in Pai's `pai.io/v1` form,
 * PAI.md; the earlier `pai/v1` dialect of DESIGN §3 is read and converted to it) and the fully
 * defaulted shapes the injector works from (InjectionTarget, ResolvedAgent). Types only.
 */
import type { PaiError } from '../errors.js';
import type { CompiledPolicy } from '../policy/compile.js';
import type { ProviderAudit, ProviderPolicy, ProviderScope } from '../policy/spec.js';

export type { HttpRule, McpToolPolicy, ProviderAudit, ProviderPolicy, ProviderScope } from '../policy/spec.js';

/** Pai's apiVersion: the primary form, and the one every resource is stored and printed in. */
export const API_VERSION = 'pai.io/v1';
/** The earlier dialect (DESIGN §3), still read. */
export const LEGACY_API_VERSION = 'pai/v1';
export const API_VERSIONS = [API_VERSION, LEGACY_API_VERSION] as const;

/** The namespace of a resource that names none (PAI.md, decided). */
export const DEFAULT_NAMESPACE = 'default';

/** `spec.provider` of a ModelProvider: Pai's words, and our bedrock. */
export const MODEL_PROVIDER_KINDS = ['anthropic', 'openai', 'gemini', 'openrouter', 'azure-openai', 'vllm', 'bedrock'] as const;
export type ModelProviderKind = (typeof MODEL_PROVIDER_KINDS)[number];

/** `spec.type` of a Provider (Pai's words). */
export const PROVIDER_TYPES = ['github', 'telegram', 'slack', 'aws', 'gcp', 'azure', 'http-token', 'mcp'] as const;
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
  /** Absent on a document that names none; every stored resource has one. */
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface SecretKeyRef {
  readonly name: string;
  readonly key: string;
}

/** Fields that belong to other Pai components: kept, stored and returned as written, never acted on. */
export type KeptFields = Readonly<Record<string, unknown>>;

export interface ModelProviderSpec {
  readonly provider: ModelProviderKind;
  /** Base URL; required for azure-openai and vllm, else the provider's default. */
  readonly endpoint?: string;
  /** bedrock: the AWS region when no endpoint names one (default us-east-1). */
  readonly region?: string;
  /** azure-openai: Azure's `api-version` query parameter, added when the agent sent none. */
  readonly apiVersion?: string;
  /**
   * The key's secret. Optional for vllm (an open server); `key` is omitted for bedrock (the secret
   * holds access_key_id / secret_access_key).
   */
  readonly apiKeySecretRef?: { readonly name: string; readonly key?: string };
  /** allowedModels, deniedModels, maxTokensPerDay, …: the gateway's concerns, kept. */
  readonly kept?: KeptFields;
}

/** Pai's `auth.type` words. */
export const AUTH_TYPES = [
  'pat',
  'bot-token',
  'token',
  'aws-sigv4',
  'gcp-service-account',
  'azure-client-credentials',
  'api-key',
] as const;
export type AuthType = (typeof AUTH_TYPES)[number];

export interface ProviderAuth {
  /** Defaulted per type when absent. */
  readonly type?: AuthType;
  readonly secretRef: string;
  /** Default "token" (gcp: key.json). */
  readonly secretKey?: string;
  /** http-token: the header to set (default Authorization). */
  readonly header?: string;
  /** http-token: text before the value (default "Bearer "; "" for none). */
  readonly prefix?: string;
  /** http-token: a query parameter instead of a header. */
  readonly param?: string;
  /** An env var every attaching agent gets, holding a placeholder (never the value). */
  readonly agentEnvVar?: string;
  /** Extension (earlier dialect): http-token with Basic auth from keys username and password. */
  readonly scheme?: 'basic';
  /** Extension: azure and gcp OAuth scope. */
  readonly scope?: string;
  /** Extension: azure and gcp token endpoint outside the cloud's documented ones (tests, sovereign clouds). */
  readonly tokenUrl?: string;
}

export interface ProviderConfig {
  readonly region?: string;
  readonly project?: string;
  readonly tenantId?: string;
  /** Cloud services the Provider covers (aws: endpoint prefixes such as s3, sqs); absent = all. */
  readonly services?: readonly string[];
}

export interface McpServer {
  readonly transport?: 'sse' | 'stdio';
  readonly url?: string;
  readonly command?: readonly string[];
}

export interface ExternalAccess {
  readonly enabled?: boolean;
  readonly maxRequestsPerDay?: number;
}

export interface ProviderSpec {
  readonly type: ProviderType;
  /** The one host intercepted (an exact name or "*.suffix"); default per type. */
  readonly host?: string;
  /** Extension (earlier dialect): several hosts. Never given together with `host`. */
  readonly hosts?: readonly string[];
  /** Absent only for an mcp stdio server (no credential). */
  readonly auth?: ProviderAuth;
  readonly config?: ProviderConfig;
  readonly mcp?: McpServer;
  readonly policy?: ProviderPolicy;
  readonly scope?: ProviderScope;
  readonly audit?: ProviderAudit;
  readonly externalAccess?: ExternalAccess;
}

/** `env[]` of an Agent: a literal value, or a value from a secret (the audited exposure). */
export type EnvVar =
  { readonly name: string; readonly value: string } | { readonly name: string; readonly secretRef: SecretKeyRef };

/** An `env[]` entry that reads a secret. */
export type EnvVarRef = Extract<EnvVar, { secretRef: SecretKeyRef }>;

export interface AgentSpec {
  readonly providers?: readonly string[];
  /** `<ModelProvider name>/<model id>`, split on the first "/". */
  readonly models?: readonly string[];
  /** Extension (earlier dialect): ModelProviders bound without naming a model. */
  readonly modelProviders?: readonly string[];
  readonly env?: readonly EnvVar[];
  /** Extension: allow (default): unmatched hosts pass without a credential; deny: only matched hosts pass. */
  readonly egress?: 'allow' | 'deny';
  /** Fields owned by other Pai components (image, guards, triggers, …): kept, not acted on. */
  readonly kept?: KeptFields;
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

/** A resource's identity: namespace and name. */
export interface ResourceId {
  readonly namespace: string;
  readonly name: string;
}

/**
 * How a credential is put on a request; one variant per injection strategy. `header` names are
 * lower-case (as targetOf produces them); `key`, `usernameKey`, `passwordKey` are secret keys.
 */
export type AuthStrategy =
  | { readonly strategy: 'header'; readonly header: string; readonly prefix: string; readonly key: string }
  | { readonly strategy: 'basic'; readonly usernameKey: string; readonly passwordKey: string }
  /** GitHub: Basic x-access-token:<token> on git smart-HTTP paths, Bearer elsewhere (none on gitOnlyHosts' other paths). */
  | { readonly strategy: 'github'; readonly key: string; readonly gitOnlyHosts: readonly string[] }
  | { readonly strategy: 'query'; readonly param: string; readonly key: string }
  | { readonly strategy: 'telegram'; readonly key: string; readonly placeholder?: string }
  | {
      readonly strategy: 'sigv4';
      readonly service?: string;
      readonly region?: string;
      /** Endpoint prefixes the signature is limited to (config.services); absent = every service not withheld. */
      readonly services?: readonly string[];
    }
  | { readonly strategy: 'azure'; readonly scope: string; readonly tokenUrl?: string; readonly tenantId?: string }
  | { readonly strategy: 'gcp'; readonly scope: string; readonly tokenUrl?: string };

/** One credential target of an agent, fully defaulted: where it applies and what it injects. */
export interface InjectionTarget {
  readonly kind: 'ModelProvider' | 'Provider';
  readonly name: string;
  readonly type: ModelProviderKind | ProviderType;
  /** Canonical (lower-case, no port) exact host names or "*.suffix" wildcards. */
  readonly hosts: readonly string[];
  /** The secret this target reads (in the agent's namespace). */
  readonly secret: string;
  /** The keys of that secret it needs (required), and may use (optional). */
  readonly requiredKeys: readonly string[];
  readonly optionalKeys: readonly string[];
  readonly auth: AuthStrategy;
  /** Query parameters added when the agent sent none of that name (azure-openai api-version). */
  readonly defaultQuery?: Readonly<Record<string, string>>;
  /**
   * Per-request reasons the credential is withheld although the host matched (credential-minting
   * endpoints, services or regions outside the Provider's config): an error, or undefined to inject.
   */
  readonly gate?: (request: { readonly host: string; readonly method: string; readonly path: string }) => PaiError | undefined;
  /**
   * Requests that get no credential at all from this target (github.com web pages): they pass
   * without one, and the policy, which governs what the credential may do, is not applied to them.
   */
  readonly credentialFree?: (host: string, path: string) => boolean;
  /** The Provider's policy, compiled once per resource version; absent: no policy block (behaves as before). */
  readonly policy?: CompiledPolicy;
  /** The Provider's audit.logRequests (default true): one request record per request. */
  readonly logRequests?: boolean;
}

/** An agent with its bindings resolved to injection targets. */
export interface ResolvedAgent {
  readonly namespace: string;
  readonly name: string;
  readonly egress: 'allow' | 'deny';
  readonly targets: readonly InjectionTarget[];
  readonly env: readonly EnvVar[];
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
