/**
 * The SecretStore interface: one contract, two implementations (local SQLite, Vault KV v2),
 * exercised by one shared contract suite (test/store-contract.ts).
 *
 * Secrets hold values (bytes) that only `readSecret` returns. Documents hold the resources
 * (agents, providers, modelproviders) and tokens as JSON; they are not secret, but they live in
 * the same store so that one backend serves a whole deployment.
 *
 * Every method throws PaiError: `invalid` for bad names or data, `not_found`, `already_exists`,
 * `conflict` (compare-and-set lost), `too_large`, `integrity` (a sealed record failed to open),
 * `store_unavailable` (backend down, sealed, timed out).
 */

/** Secret data: key → value bytes. */
export type SecretData = ReadonlyMap<string, Buffer>;

export interface KeyInfo {
  readonly name: string;
  /** Value length in bytes. */
  readonly size: number;
}

export interface SecretMeta {
  readonly name: string;
  /** Sorted by name. */
  readonly keys: readonly KeyInfo[];
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** Increases on every write of this secret. */
  readonly version: number;
}

export interface SecretRecord {
  readonly meta: SecretMeta;
  readonly data: SecretData;
}

/**
 * Kinds of JSON documents kept in the store. Resources (agents, providers, modelproviders) live in
 * a namespace, as secrets do, and so do the injectors' usage counts (`usage`, src/usage). Cluster-wide documents do not: `tokens` are the admin API's tokens
 * (admin, viewer, renderer); `agenttokens` are the agents' gateway tokens, kept apart so that an
 * injector can be allowed to read these and not those.
 */
export const RESOURCE_DOC_KINDS = ['agents', 'providers', 'modelproviders', 'usage'] as const;
export type ResourceDocKind = (typeof RESOURCE_DOC_KINDS)[number];
export const CLUSTER_DOC_KINDS = ['tokens', 'agenttokens'] as const;
export type ClusterDocKind = (typeof CLUSTER_DOC_KINDS)[number];
export const DOC_KINDS = [...RESOURCE_DOC_KINDS, ...CLUSTER_DOC_KINDS] as const;
export type DocKind = ResourceDocKind | ClusterDocKind;

export interface DocRecord {
  readonly kind: DocKind;
  /** The namespace of a resource document; absent for cluster-wide documents. */
  readonly namespace?: string;
  readonly name: string;
  /** The JSON body as stored (a plain object). */
  readonly body: Readonly<Record<string, unknown>>;
  readonly version: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface WriteOptions {
  /**
   * Compare-and-set: the write succeeds only if the current version equals this
   * (0 = must not exist). A mismatch throws `conflict`.
   */
  readonly ifVersion?: number;
  /**
   * With ifVersion: write with that compare-and-set version without reading the document first
   * (its only writer knows the version it wrote). Vault then needs no read capability on the path.
   */
  readonly blind?: boolean;
}

export interface SecretPatch {
  readonly set: SecretData;
  readonly remove: readonly string[];
}

/**
 * A store: secrets and resource documents per namespace (every method takes the namespace
 * first), and cluster-wide documents (tokens). Names and namespaces are validated before they
 * reach a file, a SQL statement or a Vault path.
 */
export interface SecretStore {
  readonly backend: 'local' | 'vault';

  /** Creates a secret; throws `already_exists` if the name is taken in the namespace. */
  createSecret(ns: string, name: string, data: SecretData): Promise<SecretMeta>;
  /** Replaces all keys of an existing secret; throws `not_found` if it does not exist. */
  replaceSecret(ns: string, name: string, data: SecretData, opts?: WriteOptions): Promise<SecretMeta>;
  /** Sets and removes keys; `not_found` if missing, `invalid` if a removed key is absent or nothing remains. */
  patchSecret(ns: string, name: string, patch: SecretPatch, opts?: WriteOptions): Promise<SecretMeta>;
  /** Metadata of one secret (key names and sizes, no values). */
  getSecretMeta(ns: string, name: string): Promise<SecretMeta>;
  /** Metadata of every secret of the namespace, sorted by name. */
  listSecrets(ns: string): Promise<SecretMeta[]>;
  /** The values: the injector's and the env renderer's path only. */
  readSecret(ns: string, name: string): Promise<SecretRecord>;
  /** Deletes a secret and all its versions; `not_found` if missing. */
  deleteSecret(ns: string, name: string): Promise<void>;

  /** Creates or replaces a resource document; returns the stored record. */
  putDoc(
    kind: ResourceDocKind,
    ns: string,
    name: string,
    body: Readonly<Record<string, unknown>>,
    opts?: WriteOptions,
  ): Promise<DocRecord>;
  /** One resource document; `not_found` if missing. */
  getDoc(kind: ResourceDocKind, ns: string, name: string): Promise<DocRecord>;
  /** Every resource document of a kind in the namespace, sorted by name. */
  listDocs(kind: ResourceDocKind, ns: string): Promise<DocRecord[]>;
  /** Deletes a resource document; `not_found` if missing. */
  deleteDoc(kind: ResourceDocKind, ns: string, name: string): Promise<void>;

  /** Creates or replaces a cluster-wide document (tokens). */
  putClusterDoc(
    kind: ClusterDocKind,
    name: string,
    body: Readonly<Record<string, unknown>>,
    opts?: WriteOptions,
  ): Promise<DocRecord>;
  getClusterDoc(kind: ClusterDocKind, name: string): Promise<DocRecord>;
  listClusterDocs(kind: ClusterDocKind): Promise<DocRecord[]>;
  deleteClusterDoc(kind: ClusterDocKind, name: string): Promise<void>;

  /**
   * The namespaces that hold a secret or a resource, sorted (`default` always included; the reserved
   * SYSTEM_NAMESPACE, where pai keeps its CA, never).
   */
  listNamespaces(): Promise<string[]>;

  /** Resolves when the backend answers; throws `store_unavailable` otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
