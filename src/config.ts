/**
 * The only reader of process.env. `loadConfig` turns the environment into a validated, defaulted,
 * frozen Config; contradictions throw a ConfigError naming the variable, and `pai serve` stops.
 */
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export type StoreBackend = 'local' | 'vault';
export type VaultAuthMethod = 'token' | 'kubernetes' | 'approle';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

/** A listen address: a TCP host and port, or a unix socket path. */
export type ListenAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export interface VaultConfig {
  readonly addr: string;
  readonly namespace: string | undefined;
  readonly caCertFile: string | undefined;
  readonly mount: string;
  readonly auth: VaultAuthMethod;
  readonly token: string | undefined;
  readonly role: string | undefined;
  readonly kubernetesJwtPath: string;
  readonly kubernetesAuthMount: string;
  readonly approleRoleId: string | undefined;
  readonly approleSecretIdFile: string | undefined;
  readonly approleAuthMount: string;
  /** Per-call timeout. */
  readonly requestTimeoutMs: number;
  /** Total budget for one logical operation, retries included. */
  readonly retryBudgetMs: number;
}

/** TLS of the admin API (PAI_ADMIN_TLS_*): certificate and key, and the CA of client certificates when they are required. */
export interface AdminTlsConfig {
  readonly certFile: string;
  readonly keyFile: string;
  /** When set, every client must present a certificate signed by this CA (PAI_ADMIN_TLS_CLIENT_CA). */
  readonly clientCaFile: string | undefined;
}

export interface InjectorTlsConfig {
  readonly certFile: string;
  readonly keyFile: string;
  readonly clientCaFile: string;
}

/** How the injector names the agent of a call: the route's `pai.agent`, or the mTLS peer's SPIFFE ID. */
export type InjectorIdentity = 'route' | 'peer-certificate';

export interface Config {
  readonly dataDir: string;
  readonly store: StoreBackend;
  readonly masterKeyFile: string;
  /** True when the master key file path was given explicitly (PAI_MASTER_KEY_FILE). */
  readonly masterKeyFileGiven: boolean;
  readonly adminListen: ListenAddress;
  /** TLS for the admin API; undefined serves plain HTTP (loopback or a unix socket, or with the insecure switch). */
  readonly adminTls: AdminTlsConfig | undefined;
  /**
   * Host header names the admin API answers to besides its listen host, IP literals and (on a
   * loopback or wildcard listen) `localhost` (PAI_ADMIN_ALLOWED_HOSTS, lower case).
   */
  readonly adminAllowedHosts: readonly string[];
  /** Plain HTTP on a non-loopback admin listen, explicitly allowed (PAI_ADMIN_INSECURE_PLAIN_HTTP_ON_NETWORK). */
  readonly adminInsecurePlainHttp: boolean;
  readonly injectorListen: ListenAddress;
  readonly injectorTls: InjectorTlsConfig | undefined;
  /**
   * Where the injector takes the agent from (PAI_INJECTOR_IDENTITY): `route` (the sidecar's
   * `pai.agent`, the unix-socket default) or `peer-certificate` (the SPIFFE ID of the mTLS client
   * certificate: shared mode, the default whenever the injector listens with mTLS).
   */
  readonly injectorIdentity: InjectorIdentity;
  /** Benchmark-only escape hatch: plain TCP on 127.0.0.1. Never for a pod. */
  readonly injectorInsecureLoopbackTcp: boolean;
  readonly cacheTtlMs: number;
  /** Lifetime of the agents' TLS leaves served over SDS (PAI_LEAF_TTL); renewed at about 2/3 of it. */
  readonly leafTtlMs: number;
  /** How often an injector re-reads the pai CA and the agents' hosts for changes made by another process (PAI_TLS_REFRESH). */
  readonly tlsRefreshMs: number;
  readonly logLevel: LogLevel;
  readonly auditLogFile: string;
  readonly configFile: string;
  /** Largest request body the ext_proc path buffers for signing, in bytes. */
  readonly maxSignedBodyBytes: number;
  /** Timeout of one OAuth token request (azure, gcp), the answer included (PAI_TOKEN_TIMEOUT). */
  readonly tokenTimeoutMs: number;
  /**
   * PAI_ALLOWED_TOKEN_URLS: OAuth token endpoints outside the clouds' documented ones that the
   * injector may send a credential to (exact URLs, comma-separated; tests and sovereign clouds).
   */
  readonly allowedTokenUrls: readonly string[];
  /** PAI_REQUEST_LOG: the request log (JSON lines, one per request through a Provider); undefined when "off". */
  readonly requestLogFile: string | undefined;
  /** PAI_REQUEST_LOG_MAX: size at which the request log is rotated to `<file>.1`. */
  readonly requestLogMaxBytes: number;
  /** PAI_USAGE_FLUSH: how often each injector writes its usage counts. */
  readonly usageFlushMs: number;
  /** Lifetime of a new API token created without a ttl, the first one included (PAI_TOKEN_DEFAULT_TTL). */
  readonly tokenDefaultTtlMs: number;
  /** Gateway mode: the SPIFFE trust domain of agent identities `spiffe://<domain>/agent/<name>` (PAI_SPIFFE_TRUST_DOMAIN). */
  readonly spiffeTrustDomain: string;
  readonly vault: VaultConfig | undefined;
  /** `pai serve --role webhook` (PAI_WEBHOOK_*); defaults need no variable, so other roles never fail on it. */
  readonly webhook: WebhookConfig;
}

/** The admission webhook's settings (PAI_WEBHOOK_*); read by src/webhook/serve.ts. */
export interface WebhookConfig {
  readonly listen: { readonly host: string; readonly port: number };
  /** DNS names of the webhook's serving certificate: its Service's names (PAI_WEBHOOK_DNS_NAMES). */
  readonly dnsNames: readonly string[];
  /** Lifetime of that certificate, renewed at 2/3 of it (PAI_WEBHOOK_CERT_TTL). */
  readonly certTtlMs: number;
  readonly mode: 'sidecar' | 'shared';
  /** Shared mode: the pai-injector Deployment's host:port Envoy reaches over mTLS (PAI_WEBHOOK_SHARED_INJECTOR). */
  readonly sharedInjector: string | undefined;
  readonly paiImage: string;
  readonly envoyImage: string;
  readonly redirectImage: string;
  readonly tokenAudience: string;
  /** Env of the injected injector sidecars (PAI_WEBHOOK_INJECTOR_ENV, NAME=VALUE,…): never a credential. */
  readonly injectorEnv: readonly { readonly name: string; readonly value: string }[];
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** Parses `30s`, `500ms`, `5m`, `2h`, `1d` or a bare number of seconds into milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m?.[1]) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit] ?? 1000;
  return Math.round(n * factor);
}

/** Parses `host:port`, `[v6]:port` or `unix:/path`. Throws ConfigError naming `variable`. */
export function parseListen(variable: string, text: string): ListenAddress {
  if (text.startsWith('unix:')) {
    const p = text.slice('unix:'.length);
    if (!p.startsWith('/')) throw new ConfigError(variable, `unix socket path must be absolute, got "${p}"`);
    return { kind: 'unix', path: p };
  }
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || host === undefined || !Number.isInteger(port) || port > 65535) {
    throw new ConfigError(variable, `expected host:port or unix:/path, got "${text}"`);
  }
  return { kind: 'tcp', host, port };
}

/** Formats a listen address back to the text `parseListen` accepts. */
export function formatListen(addr: ListenAddress): string {
  if (addr.kind === 'unix') return `unix:${addr.path}`;
  return addr.host.includes(':') ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
}

function durationVar(env: Env, name: string, fallbackMs: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallbackMs;
  const ms = parseDuration(raw);
  if (ms === undefined) throw new ConfigError(name, `expected a duration such as 30s, 500ms or 5m, got "${raw}"`);
  return ms;
}

function sizeVar(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(raw.trim());
  if (!m?.[1]) throw new ConfigError(name, `expected a byte count such as 1048576 or 10Mi, got "${raw}"`);
  const factor = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 }[m[2] ?? ''] ?? 1;
  return Number(m[1]) * factor;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

function loadVault(env: Env): VaultConfig {
  const addr = env['VAULT_ADDR'];
  if (!addr) throw new ConfigError('VAULT_ADDR', 'required when PAI_STORE=vault');
  if (!/^https?:\/\/[^/\s]+\/?$/.test(addr)) {
    throw new ConfigError('VAULT_ADDR', `expected a URL such as https://vault.example:8200, got "${addr}"`);
  }
  const auth = oneOf<VaultAuthMethod>(env, 'PAI_VAULT_AUTH', ['token', 'kubernetes', 'approle'], 'token');
  const mount = env['PAI_VAULT_MOUNT'] || 'pai';
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_-]*(\/[a-zA-Z0-9][a-zA-Z0-9_-]*)*$/.test(mount)) {
    throw new ConfigError('PAI_VAULT_MOUNT', `not a valid mount path: "${mount}"`);
  }
  const cfg: VaultConfig = {
    addr: addr.replace(/\/$/, ''),
    namespace: env['VAULT_NAMESPACE'] || undefined,
    caCertFile: env['VAULT_CACERT'] || undefined,
    mount,
    auth,
    token: env['VAULT_TOKEN'] || undefined,
    role: env['PAI_VAULT_ROLE'] || undefined,
    kubernetesJwtPath: env['PAI_VAULT_K8S_TOKEN_PATH'] || '/var/run/secrets/kubernetes.io/serviceaccount/token',
    kubernetesAuthMount: env['PAI_VAULT_K8S_MOUNT'] || 'kubernetes',
    approleRoleId: env['PAI_VAULT_ROLE_ID'] || undefined,
    approleSecretIdFile: env['PAI_VAULT_SECRET_ID_FILE'] || undefined,
    approleAuthMount: env['PAI_VAULT_APPROLE_MOUNT'] || 'approle',
    requestTimeoutMs: durationVar(env, 'PAI_VAULT_TIMEOUT', 2000),
    retryBudgetMs: durationVar(env, 'PAI_VAULT_RETRY_BUDGET', 5000),
  };
  if (auth === 'token' && !cfg.token) throw new ConfigError('VAULT_TOKEN', 'required when PAI_VAULT_AUTH=token');
  if (auth === 'kubernetes' && !cfg.role) throw new ConfigError('PAI_VAULT_ROLE', 'required when PAI_VAULT_AUTH=kubernetes');
  if (auth === 'approle' && (!cfg.approleRoleId || !cfg.approleSecretIdFile)) {
    throw new ConfigError(
      cfg.approleRoleId ? 'PAI_VAULT_SECRET_ID_FILE' : 'PAI_VAULT_ROLE_ID',
      'PAI_VAULT_ROLE_ID and PAI_VAULT_SECRET_ID_FILE are required when PAI_VAULT_AUTH=approle',
    );
  }
  return Object.freeze(cfg);
}

function loadInjectorTls(env: Env): InjectorTlsConfig | undefined {
  const certFile = env['PAI_INJECTOR_TLS_CERT'];
  const keyFile = env['PAI_INJECTOR_TLS_KEY'];
  const clientCaFile = env['PAI_INJECTOR_TLS_CLIENT_CA'];
  if (!certFile && !keyFile && !clientCaFile) return undefined;
  if (!certFile) throw new ConfigError('PAI_INJECTOR_TLS_CERT', 'required with the other PAI_INJECTOR_TLS_* variables');
  if (!keyFile) throw new ConfigError('PAI_INJECTOR_TLS_KEY', 'required with the other PAI_INJECTOR_TLS_* variables');
  if (!clientCaFile) {
    throw new ConfigError(
      'PAI_INJECTOR_TLS_CLIENT_CA',
      'required: the injector accepts TCP only with client certificates (mTLS)',
    );
  }
  return Object.freeze({ certFile, keyFile, clientCaFile });
}

/**
 * PAI_INJECTOR_IDENTITY: `peer-certificate` by default with mTLS (a shared injector must never take a
 * caller's word for its agent), `route` otherwise. `peer-certificate` needs mTLS (there is no peer
 * certificate on a unix socket or plain TCP); `route` with mTLS is allowed only explicitly.
 */
function injectorIdentityVar(env: Env, mtls: boolean): InjectorIdentity {
  const identity = oneOf<InjectorIdentity>(
    env,
    'PAI_INJECTOR_IDENTITY',
    ['route', 'peer-certificate'],
    mtls ? 'peer-certificate' : 'route',
  );
  if (identity === 'peer-certificate' && !mtls) {
    throw new ConfigError(
      'PAI_INJECTOR_IDENTITY',
      'peer-certificate needs the injector on TCP with mTLS (PAI_INJECTOR_LISTEN HOST:PORT and PAI_INJECTOR_TLS_CERT, _KEY, _CLIENT_CA)',
    );
  }
  return identity;
}

/** The longest token lifetime (the admin API's `ttl` and PAI_TOKEN_DEFAULT_TTL). */
export const MAX_TOKEN_TTL_MS = 366 * 86_400_000;

/** PAI_TOKEN_DEFAULT_TTL: a duration of more than 0 and at most 366 days; 90 days by default. */
function tokenTtlVar(env: Env): number {
  const ms = durationVar(env, 'PAI_TOKEN_DEFAULT_TTL', 90 * 86_400_000);
  if (ms <= 0 || ms > MAX_TOKEN_TTL_MS) {
    throw new ConfigError('PAI_TOKEN_DEFAULT_TTL', 'expected a duration of more than 0 and at most 366d, such as 90d');
  }
  return ms;
}

/** The env variable that allows plain HTTP on a non-loopback admin listen; loud on purpose. */
export const ADMIN_INSECURE_VAR = 'PAI_ADMIN_INSECURE_PLAIN_HTTP_ON_NETWORK';

/** A boolean switch: `1`/`true` on, unset, empty, `0`/`false` off; anything else is an error naming it. */
function switchVar(env: Env, name: string): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '' || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true') return true;
  throw new ConfigError(name, `expected 1 or 0, got "${raw}"`);
}

function loadAdminTls(env: Env, listen: ListenAddress): AdminTlsConfig | undefined {
  const certFile = env['PAI_ADMIN_TLS_CERT'] || undefined;
  const keyFile = env['PAI_ADMIN_TLS_KEY'] || undefined;
  const clientCaFile = env['PAI_ADMIN_TLS_CLIENT_CA'] || undefined;
  if (!certFile && !keyFile && !clientCaFile) return undefined;
  if (!certFile) throw new ConfigError('PAI_ADMIN_TLS_CERT', 'required with PAI_ADMIN_TLS_KEY or PAI_ADMIN_TLS_CLIENT_CA');
  if (!keyFile) throw new ConfigError('PAI_ADMIN_TLS_KEY', 'required with PAI_ADMIN_TLS_CERT');
  if (listen.kind === 'unix') {
    throw new ConfigError(
      'PAI_ADMIN_TLS_CERT',
      'TLS applies to a TCP admin listen; a unix socket is protected by its file mode (0600)',
    );
  }
  return Object.freeze({ certFile, keyFile, clientCaFile });
}

// A host name (RFC 1123 labels) or an IP literal, as it may appear in a Host header without its port.
const HOST_NAME = /^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;

/** PAI_ADMIN_ALLOWED_HOSTS: comma-separated host names (no ports, no wildcards), lower-cased. */
function allowedHostsVar(env: Env): readonly string[] {
  const raw = env['PAI_ADMIN_ALLOWED_HOSTS'];
  if (raw === undefined || raw.trim() === '') return Object.freeze([]);
  const names = raw.split(',').map((n) => n.trim().toLowerCase().replace(/\.$/, ''));
  for (const name of names) {
    if (!HOST_NAME.test(name) && net.isIP(name) === 0) {
      throw new ConfigError(
        'PAI_ADMIN_ALLOWED_HOSTS',
        `expected comma-separated host names such as pai-admin,pai-admin.pai.svc (no port, no wildcard), got "${name}"`,
      );
    }
  }
  return Object.freeze(names);
}

/**
 * The admin listen's transport rules: plain HTTP only on a unix socket or a literal loopback
 * address, unless TLS is configured or the insecure switch names the risk. Throws ConfigError.
 */
function checkAdminTransport(listen: ListenAddress, tls: AdminTlsConfig | undefined, insecure: boolean): void {
  if (listen.kind === 'unix' || tls || isLoopbackAddress(listen.host)) return;
  if (insecure) return;
  throw new ConfigError(
    'PAI_ADMIN_LISTEN',
    `${formatListen(listen)} is not a loopback address, and plain HTTP would carry admin tokens and rendered secret values ` +
      `in clear over the network: set PAI_ADMIN_TLS_CERT and PAI_ADMIN_TLS_KEY (and PAI_ADMIN_TLS_CLIENT_CA to require ` +
      `client certificates), or ${ADMIN_INSECURE_VAR}=1 only behind a TLS-terminating proxy on the same host or pod`,
  );
}

/** PAI_SPIFFE_TRUST_DOMAIN: a SPIFFE trust domain name (lower-case letters, digits, ".", "-", "_"). */
function trustDomainVar(env: Env): string {
  const raw = env['PAI_SPIFFE_TRUST_DOMAIN'];
  if (raw === undefined || raw === '') return 'pai';
  if (!/^[a-z0-9._-]{1,255}$/.test(raw)) {
    throw new ConfigError(
      'PAI_SPIFFE_TRUST_DOMAIN',
      `expected a SPIFFE trust domain such as "pai" or "example.org", got "${raw}"`,
    );
  }
  return raw;
}

const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * True when `host` is a literal loopback address (127.0.0.0/8, ::1 in any spelling). Names such as
 * `localhost` are not: what they resolve to is up to /etc/hosts and the resolver, not to pai.
 */
export function isLoopbackAddress(host: string): boolean {
  const family = net.isIP(host);
  if (family === 0) return false;
  return LOOPBACK.check(host, family === 4 ? 'ipv4' : 'ipv6');
}

/** The env variable that allows plain TCP for the injector; loud on purpose. */
export const INSECURE_TCP_VAR = 'PAI_INJECTOR_INSECURE_LOOPBACK_TCP_FOR_BENCHMARKS_ONLY';

/**
 * Reads the server configuration from `env` (process.env by default).
 * Throws ConfigError naming the offending variable.
 */
export function loadConfig(env: Env = process.env): Config {
  const home = env['HOME'] || os.homedir();
  const dataDir = path.resolve(env['PAI_DATA_DIR'] || path.join(home, '.pai'));
  const store = oneOf<StoreBackend>(env, 'PAI_STORE', ['local', 'vault'], 'local');
  const injectorListen = parseListen(
    'PAI_INJECTOR_LISTEN',
    env['PAI_INJECTOR_LISTEN'] || `unix:${path.join(dataDir, 'injector.sock')}`,
  );
  const injectorTls = loadInjectorTls(env);
  const insecure = env[INSECURE_TCP_VAR] === '1' || env[INSECURE_TCP_VAR] === 'true';
  if (injectorListen.kind === 'tcp') {
    if (!injectorTls && !insecure) {
      throw new ConfigError(
        'PAI_INJECTOR_LISTEN',
        'TCP needs mTLS (PAI_INJECTOR_TLS_CERT, _KEY, _CLIENT_CA): in a pod a TCP port is reachable by the agent, ' +
          'and whoever can call Check can read the credentials it returns. Use the default unix socket instead.',
      );
    }
    if (!injectorTls && insecure && !isLoopbackAddress(injectorListen.host)) {
      throw new ConfigError(
        INSECURE_TCP_VAR,
        `plain TCP is allowed only on a literal loopback address (127.0.0.0/8 or ::1), not on "${injectorListen.host}"`,
      );
    }
  }
  const injectorIdentity = injectorIdentityVar(env, injectorTls !== undefined && injectorListen.kind === 'tcp');
  const masterKeyGiven = env['PAI_MASTER_KEY_FILE'];
  const adminListen = parseListen('PAI_ADMIN_LISTEN', env['PAI_ADMIN_LISTEN'] || '127.0.0.1:7070');
  const adminTls = loadAdminTls(env, adminListen);
  const adminInsecurePlainHttp = switchVar(env, ADMIN_INSECURE_VAR);
  checkAdminTransport(adminListen, adminTls, adminInsecurePlainHttp);
  const config: Config = {
    dataDir,
    store,
    masterKeyFile: path.resolve(masterKeyGiven || path.join(dataDir, 'master.key')),
    masterKeyFileGiven: Boolean(masterKeyGiven),
    adminListen,
    adminTls,
    adminAllowedHosts: allowedHostsVar(env),
    adminInsecurePlainHttp: adminInsecurePlainHttp && !adminTls,
    injectorListen,
    injectorTls,
    injectorIdentity,
    injectorInsecureLoopbackTcp: insecure && !injectorTls,
    cacheTtlMs: durationVar(env, 'PAI_CACHE_TTL', 30_000),
    leafTtlMs: durationVar(env, 'PAI_LEAF_TTL', 24 * 3_600_000),
    tlsRefreshMs: durationVar(env, 'PAI_TLS_REFRESH', 60_000),
    logLevel: oneOf<LogLevel>(env, 'PAI_LOG_LEVEL', LOG_LEVELS, 'info'),
    auditLogFile: path.resolve(env['PAI_AUDIT_LOG'] || path.join(dataDir, 'audit.log')),
    configFile: path.join(dataDir, 'config.yaml'),
    maxSignedBodyBytes: sizeVar(env, 'PAI_MAX_SIGNED_BODY', 10 * 1024 * 1024),
    tokenTimeoutMs: durationVar(env, 'PAI_TOKEN_TIMEOUT', 3000),
    tokenDefaultTtlMs: tokenTtlVar(env),
    spiffeTrustDomain: trustDomainVar(env),
    allowedTokenUrls: tokenUrlsVar(env),
    requestLogFile: requestLogVar(env, dataDir),
    requestLogMaxBytes: sizeVar(env, 'PAI_REQUEST_LOG_MAX', 64 * 1024 * 1024),
    usageFlushMs: durationVar(env, 'PAI_USAGE_FLUSH', 5000),
    vault: store === 'vault' ? loadVault(env) : undefined,
    webhook: loadWebhookConfig(env),
  };
  return Object.freeze(config);
}

/** Variables that hold a credential (or name one) and so must never be copied into every agent pod's spec. */
const CREDENTIAL_VARS = new Set(['VAULT_TOKEN', 'PAI_TOKEN', 'PAI_VAULT_SECRET_ID_FILE', 'PAI_MASTER_KEY_FILE']);

function injectorEnvVar(env: Env): { name: string; value: string }[] {
  const name = 'PAI_WEBHOOK_INJECTOR_ENV';
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return [];
  return raw.split(',').map((item) => {
    const eq = item.indexOf('=');
    const key = item.slice(0, Math.max(eq, 0)).trim();
    if (eq <= 0 || !/^[A-Z_][A-Z0-9_]*$/.test(key)) {
      throw new ConfigError(name, `expected NAME=VALUE pairs separated by commas, got "${item.slice(0, 40)}"`);
    }
    if (CREDENTIAL_VARS.has(key)) {
      throw new ConfigError(name, `${key} holds a credential: it would be written into every agent pod's spec`);
    }
    return { name: key, value: item.slice(eq + 1) };
  });
}

const IMAGE = /^[a-z0-9][a-z0-9._/:@-]*$/i;

function imageVar(env: Env, name: string, fallback: string): string {
  const raw = env[name] || fallback;
  if (!IMAGE.test(raw)) throw new ConfigError(name, `not an image reference: "${raw}"`);
  return raw;
}

/** PAI_WEBHOOK_*: every variable optional; contradictions throw ConfigError naming the variable. */
export function loadWebhookConfig(env: Env): WebhookConfig {
  const listen = parseListen('PAI_WEBHOOK_LISTEN', env['PAI_WEBHOOK_LISTEN'] || '127.0.0.1:8443');
  if (listen.kind !== 'tcp') throw new ConfigError('PAI_WEBHOOK_LISTEN', 'the API server calls webhooks over TCP (host:port)');
  const names = (env['PAI_WEBHOOK_DNS_NAMES'] || 'pai-webhook.pai-system.svc,pai-webhook.pai-system.svc.cluster.local')
    .split(',')
    .map((n) => n.trim().toLowerCase());
  for (const n of names) {
    if (!HOST_NAME.test(n)) throw new ConfigError('PAI_WEBHOOK_DNS_NAMES', `not a DNS name (no wildcard, no IP): "${n}"`);
  }
  const mode = oneOf(env, 'PAI_WEBHOOK_MODE', ['sidecar', 'shared'] as const, 'sidecar');
  const sharedInjector = env['PAI_WEBHOOK_SHARED_INJECTOR'] || undefined;
  if (
    mode === 'shared' &&
    (sharedInjector === undefined || parseListen('PAI_WEBHOOK_SHARED_INJECTOR', sharedInjector).kind !== 'tcp')
  ) {
    throw new ConfigError('PAI_WEBHOOK_SHARED_INJECTOR', 'required in shared mode: the pai-injector Service as host:port');
  }
  const certTtlMs = durationVar(env, 'PAI_WEBHOOK_CERT_TTL', 24 * 3_600_000);
  if (certTtlMs < 60_000) throw new ConfigError('PAI_WEBHOOK_CERT_TTL', 'expected at least 1m');
  const audience = env['PAI_WEBHOOK_TOKEN_AUDIENCE'] || 'vault';
  if (!/^[\x21-\x7e]{1,253}$/.test(audience))
    throw new ConfigError('PAI_WEBHOOK_TOKEN_AUDIENCE', 'expected a token audience such as "vault"');
  return Object.freeze({
    listen: { host: listen.host, port: listen.port },
    dnsNames: Object.freeze(names),
    certTtlMs,
    mode,
    sharedInjector,
    paiImage: imageVar(env, 'PAI_WEBHOOK_PAI_IMAGE', 'ghcr.io/pai/pai-secrets:0.1.0'),
    envoyImage: imageVar(env, 'PAI_WEBHOOK_ENVOY_IMAGE', 'envoyproxy/envoy:v1.36.2'),
    redirectImage: imageVar(env, 'PAI_WEBHOOK_REDIRECT_IMAGE', 'ghcr.io/pai/pai-redirect:0.1.0'),
    tokenAudience: audience,
    injectorEnv: Object.freeze(injectorEnvVar(env)),
  });
}

/** PAI_REQUEST_LOG: a file path (default `<data dir>/requests.log`), or "off". */
function requestLogVar(env: Env, dataDir: string): string | undefined {
  const raw = env['PAI_REQUEST_LOG'];
  if (raw === 'off') return undefined;
  return path.resolve(raw || path.join(dataDir, 'requests.log'));
}

/** PAI_ALLOWED_TOKEN_URLS: comma-separated absolute http(s) URLs, each without user info, query or fragment. */
function tokenUrlsVar(env: Env): readonly string[] {
  const raw = env['PAI_ALLOWED_TOKEN_URLS'];
  if (raw === undefined || raw.trim() === '') return Object.freeze([]);
  const urls = raw
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u.length > 0);
  const usable = (u: string): boolean => {
    try {
      const url = new URL(u);
      return (
        (url.protocol === 'https:' || url.protocol === 'http:') && url.username === '' && url.search === '' && url.hash === ''
      );
    } catch {
      return false;
    }
  };
  for (const u of urls) {
    if (!usable(u))
      throw new ConfigError(
        'PAI_ALLOWED_TOKEN_URLS',
        `expected comma-separated http(s) URLs without query or user info, got "${u}"`,
      );
  }
  return Object.freeze(urls);
}

/** What the CLI needs: where the admin API is and which token to present. */
export interface ClientConfig {
  readonly server: string | undefined;
  readonly token: string | undefined;
  readonly configFile: string;
  /** PAI_NAMESPACE: the namespace commands act in when -n is not given. */
  readonly namespace: string | undefined;
  /** PEM file of the CA that signed an https:// server's certificate (PAI_CA_FILE); system CAs otherwise. */
  readonly caFile: string | undefined;
  /** Client certificate and key for a server that requires them (PAI_CLIENT_CERT, PAI_CLIENT_KEY). */
  readonly clientCertFile: string | undefined;
  readonly clientKeyFile: string | undefined;
}

/** Reads the CLI's environment: PAI_SERVER / PAI_TOKEN, and the config file that `pai serve` writes. */
export function loadClientConfig(env: Env = process.env): ClientConfig {
  const home = env['HOME'] || os.homedir();
  const dataDir = path.resolve(env['PAI_DATA_DIR'] || path.join(home, '.pai'));
  const clientCertFile = env['PAI_CLIENT_CERT'] || undefined;
  const clientKeyFile = env['PAI_CLIENT_KEY'] || undefined;
  if (Boolean(clientCertFile) !== Boolean(clientKeyFile)) {
    throw new ConfigError(
      clientCertFile ? 'PAI_CLIENT_KEY' : 'PAI_CLIENT_CERT',
      'PAI_CLIENT_CERT and PAI_CLIENT_KEY go together',
    );
  }
  return Object.freeze({
    server: env['PAI_SERVER'] || undefined,
    token: env['PAI_TOKEN'] || undefined,
    configFile: path.resolve(env['PAI_CONFIG'] || path.join(dataDir, 'config.yaml')),
    namespace: env['PAI_NAMESPACE'] || undefined,
    caFile: env['PAI_CA_FILE'] || undefined,
    clientCertFile,
    clientKeyFile,
  });
}
