/**
 * An API-level test double of HashiCorp Vault (test code: no Vault binary can be installed here).
 * An HTTP server on 127.0.0.1, port 0, speaking Vault's /v1 HTTP API with Vault's status codes
 * and `{"errors": [...]}` bodies.
 *
 * Modelled (each file says how closely): KV v2 (kv.ts: data GET/POST/PUT/PATCH with merge patch
 * and its content type, metadata GET/POST/PATCH/DELETE, delete/undelete/destroy, the LIST method
 * (list-method.ts: Node's parser refuses it, so a TCP front rewrites it) and GET ?list=true, cas
 * and cas_required, versions and max_versions, custom_metadata limits, mount
 * config); tokens with TTLs, lookup-self and renew-self, kubernetes and approle login
 * (tokens.ts); ACL enforcement of the HCL policies in vault/*.hcl plus a `default` policy with
 * the token self paths (acl.ts: the subset pai uses, Vault's matching priority, deny by default,
 * `deny`); namespaces (X-Vault-Namespace: mounts, tokens and policy paths are namespace-qualified;
 * a token works in its namespace and below); sealed state (503 "Vault is sealed" on everything
 * but sys/health and sys/seal-status); a 32 MiB request limit (413).
 *
 * Not modelled: storage, replication, standby redirects and request forwarding, leases of secrets
 * engines, response wrapping, audit devices, the sys/ API beyond health and seal status, policies
 * written at run time through the API (use setPolicy), KV v1, rate-limit quotas (use failNext).
 *
 * Fault knobs: seal/unseal, failNext (answer the next N requests with a status), hang (hold the
 * next N requests unanswered until release or close), token TTLs (setLoginTtl, expireTokens),
 * and a clock (`now`) shared with the code under test. Every request is recorded in `requests`.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePolicy, type PathRule } from './acl.js';
import { DoubleError, isObject, KvMount } from './kv.js';
import { listFront, METHOD_HEADER } from './list-method.js';
import { envelope, Router } from './router.js';
import { nsPathOf, type RoleSpec, TokenStore, type TokenSpec } from './tokens.js';

export interface VaultDoubleOptions {
  /** Clock in ms since epoch (token expiry, created/deletion times). Default Date.now. */
  readonly now?: () => number;
  /** Directory of *.hcl policies (default: the repository's vault/). */
  readonly policyDir?: string;
  /** The KV v2 mount created at start (default "pai"; false for none). */
  readonly mount?: string | false;
  readonly casRequired?: boolean;
  readonly maxVersions?: number;
}

export interface RecordedRequest {
  readonly method: string;
  /** Below /v1/, without the query. */
  readonly path: string;
  readonly query: string;
  readonly namespace: string;
  /** The X-Vault-Token sent, if any (test code: kept so tests can tell callers apart). */
  readonly token: string | undefined;
  /** The status answered (set when the response is sent; undefined while held). */
  status?: number;
}

const DEFAULT_POLICY = `
path "auth/token/lookup-self" { capabilities = ["read"] }
path "auth/token/renew-self" { capabilities = ["update"] }
path "auth/token/revoke-self" { capabilities = ["update"] }
`;
const MAX_REQUEST_BYTES = 32 * 1024 * 1024;
const REPO_VAULT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../vault');

const DEFAULT_ERRORS: Readonly<Record<number, string>> = {
  429: 'request path "…": rate limit quota exceeded',
  500: 'internal error',
  502: 'bad gateway',
  503: 'Vault is sealed',
};

export class VaultDouble {
  readonly requests: RecordedRequest[] = [];
  readonly tokens: TokenStore;
  readonly rootToken: string;
  sealed = false;
  private readonly policies = new Map<string, string>();
  private readonly parsed = new Map<string, PathRule[]>();
  private readonly mounts = new Map<string, KvMount>();
  private readonly router: Router;
  private readonly failures: { status: number; errors: string[] }[] = [];
  private hangCount = 0;
  private readonly interceptors: { match: (r: RecordedRequest) => boolean; action: () => unknown }[] = [];
  private readonly hung = new Set<http.ServerResponse>();
  private server: http.Server | undefined;
  private front: { port: number; close: () => Promise<void> } | undefined;
  readonly now: () => number;
  addr = '';

  constructor(options: VaultDoubleOptions = {}) {
    this.now = options.now ?? Date.now;
    this.tokens = new TokenStore(this.now);
    this.rootToken = this.tokens.create({ policies: ['root'], ttlSeconds: 0 }).id;
    this.policies.set('default', DEFAULT_POLICY);
    const dir = options.policyDir ?? REPO_VAULT_DIR;
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.hcl'))) {
      this.setPolicy(file.slice(0, -'.hcl'.length), fs.readFileSync(path.join(dir, file), 'utf8'));
    }
    if (options.mount !== false) {
      this.mountKv(options.mount ?? 'pai', {
        ...(options.casRequired === undefined ? {} : { casRequired: options.casRequired }),
        ...(options.maxVersions === undefined ? {} : { maxVersions: options.maxVersions }),
      });
    }
    this.router = new Router({ tokens: this.tokens, mounts: this.mounts, policy: (name, ns) => this.rules(name, ns) });
  }

  /** Adds or replaces a policy (HCL subset of acl.ts). Throws if it does not parse. */
  setPolicy(name: string, hcl: string): void {
    parsePolicy(name, hcl);
    this.policies.set(name, hcl);
    this.parsed.clear();
    this.router?.resetAcls();
  }

  private rules(name: string, nsPath: string): PathRule[] | undefined {
    const hcl = this.policies.get(name);
    if (hcl === undefined) return undefined;
    const key = `${nsPath}|${name}`;
    let rules = this.parsed.get(key);
    if (!rules) this.parsed.set(key, (rules = parsePolicy(name, hcl, nsPath)));
    return rules;
  }

  /** Enables a KV v2 mount at `mountPath` (in `namespace`). */
  mountKv(mountPath: string, opts: { namespace?: string; casRequired?: boolean; maxVersions?: number } = {}): KvMount {
    const kv = new KvMount(this.now, opts);
    this.mounts.set(`${nsPathOf(opts.namespace)}${mountPath}`, kv);
    return kv;
  }

  /** A token with `spec.policies` (plus "default" unless root). */
  createToken(spec: TokenSpec): string {
    const policies = spec.policies.includes('root') ? spec.policies : ['default', ...spec.policies];
    return this.tokens.create({ ...spec, policies }).id;
  }

  addKubernetesRole(role: string, jwt: string, spec: RoleSpec): void {
    this.tokens.addKubernetesRole(role, jwt, spec);
  }

  addAppRole(roleId: string, secretId: string, spec: RoleSpec): void {
    this.tokens.addAppRole(roleId, secretId, spec);
  }

  /** TTL (and max TTL, 0 for none) of tokens issued by later logins. */
  setLoginTtl(ttlSeconds: number, maxTtlSeconds = 0): void {
    this.tokens.loginTtlSeconds = ttlSeconds;
    this.tokens.loginMaxTtlSeconds = maxTtlSeconds;
  }

  expireTokens(): void {
    this.tokens.expireAll();
  }

  seal(): void {
    this.sealed = true;
  }

  unseal(): void {
    this.sealed = false;
  }

  /** Answers the next `count` requests with `status` (and Vault-style errors). */
  failNext(count: number, status: number, errors: string[] = [DEFAULT_ERRORS[status] ?? 'injected failure']): void {
    for (let i = 0; i < count; i++) this.failures.push({ status, errors });
  }

  /** Holds the next `count` requests without an answer (until release or close). */
  hang(count = Number.POSITIVE_INFINITY): void {
    this.hangCount = count;
  }

  /** Stops hanging and drops the held requests' connections. */
  release(): void {
    this.hangCount = 0;
    for (const res of this.hung) res.socket?.destroy();
    this.hung.clear();
  }

  /** Drops queued failures and stops hanging (held requests stay held until release). */
  /**
   * Holds the next request that `match`es until `action` has settled (it may call the double, e.g.
   * another client's write), then answers it: a deterministic interleaving of two clients, to test
   * the race windows between a client's calls. One-shot.
   */
  interceptNext(match: (r: RecordedRequest) => boolean, action: () => unknown): void {
    this.interceptors.push({ match, action });
  }

  clearFaults(): void {
    this.failures.length = 0;
    this.hangCount = 0;
  }

  /** Requests whose path starts with `prefix` (below /v1/). */
  requestsTo(prefix: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path.startsWith(prefix));
  }

  async start(): Promise<this> {
    const server = http.createServer((req, res) => this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.front = await listFront((server.address() as AddressInfo).port);
    this.addr = `http://127.0.0.1:${this.front.port}`;
    return this;
  }

  async close(): Promise<void> {
    this.release();
    await this.front?.close();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private send(res: http.ServerResponse, status: number, body?: unknown): void {
    if (status === 204 || body === undefined) {
      res.writeHead(status === 200 ? 204 : status).end();
      return;
    }
    res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(JSON.stringify(body));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://double');
    const nsPath = nsPathOf(req.headers['x-vault-namespace']?.toString());
    const token = req.headers['x-vault-token']?.toString() ?? /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const relPath = url.pathname.replace(/^\/v1\//, '');
    const method = req.headers[METHOD_HEADER] === 'LIST' ? 'LIST' : (req.method ?? 'GET');
    const record: RecordedRequest = { method, path: relPath, query: url.search, namespace: nsPath, token };
    this.requests.push(record);
    res.on('finish', () => {
      record.status = res.statusCode;
    });
    if (this.hangCount > 0) {
      this.hangCount--;
      this.hung.add(res);
      return;
    }
    const failure = this.failures.shift();
    if (failure) return this.send(res, failure.status, { errors: failure.errors });
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_REQUEST_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_REQUEST_BYTES) return this.send(res, 413, { errors: ['http: request body too large'] });
      const incoming = {
        method,
        url,
        relPath,
        nsPath,
        token,
        contentType: req.headers['content-type'] ?? '',
        raw: Buffer.concat(chunks),
      };
      const hook = this.interceptors.findIndex((h) => h.match(record));
      if (hook === -1) return this.respond(res, incoming);
      const action = this.interceptors.splice(hook, 1)[0]?.action;
      void Promise.resolve()
        .then(action)
        .catch(() => undefined)
        .finally(() => this.respond(res, incoming));
    });
  }

  private respond(res: http.ServerResponse, incoming: Incoming): void {
    const { method, url, relPath, nsPath, token, contentType, raw } = incoming;
    if (relPath === 'sys/health' || relPath === 'sys/seal-status') {
      const status = {
        initialized: true,
        sealed: this.sealed,
        standby: false,
        version: '1.19.0+double',
        t: 1,
        n: 1,
        progress: 0,
        type: 'shamir',
      };
      return this.send(res, relPath === 'sys/health' && this.sealed ? 503 : 200, status);
    }
    if (this.sealed) return this.send(res, 503, { errors: ['Vault is sealed'] });
    if (!url.pathname.startsWith('/v1/')) return this.send(res, 404, { errors: [] });
    let body: Record<string, unknown> = {};
    if (raw.length > 0) {
      try {
        const parsed: unknown = JSON.parse(raw.toString('utf8'));
        if (!isObject(parsed)) throw new Error('not an object');
        body = parsed;
      } catch (err) {
        return this.send(res, 400, { errors: [`failed to parse JSON input: ${(err as Error).message}`] });
      }
    }
    try {
      const out = this.router.route({
        method,
        path: relPath,
        query: url.searchParams,
        nsPath,
        token,
        contentType,
        body,
      });
      this.send(res, out.status, out.body);
    } catch (err) {
      if (err instanceof DoubleError)
        return this.send(res, err.status, err.body ? envelope(err.body).body : { errors: err.errors });
      this.send(res, 500, { errors: ['internal error'] });
    }
  }
}

interface Incoming {
  readonly method: string;
  readonly url: URL;
  readonly relPath: string;
  readonly nsPath: string;
  readonly token: string | undefined;
  readonly contentType: string;
  readonly raw: Buffer;
}

/** Starts a double on 127.0.0.1, port 0. Close it in test.after.always. */
export function startVaultDouble(options: VaultDoubleOptions = {}): Promise<VaultDouble> {
  return new VaultDouble(options).start();
}
