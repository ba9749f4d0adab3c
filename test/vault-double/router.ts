/**
 * Request routing of the test double, in Vault's order: method and content type, login paths
 * (unauthenticated), the token (403 "permission denied" when missing, unknown, expired or from
 * another namespace), the operation (GET read, GET ?list=true or LIST list, POST/PUT create or
 * update by Vault's existence check, PATCH patch, DELETE delete), the ACL of the token's policies
 * on the namespace-qualified path, then the handler. Responses use Vault's envelope
 * (`request_id`, `data`, `auth`, …) or 204; errors are `{"errors": [...]}`.
 */
import { randomUUID } from 'node:crypto';
import { Acl, type Operation, type PathRule } from './acl.js';
import { DoubleError, type KvMount } from './kv.js';
import type { TokenEntry, TokenStore } from './tokens.js';

export interface RoutedRequest {
  readonly method: string;
  /** Below /v1/, without the query. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** "" or "team-a/". */
  readonly nsPath: string;
  readonly token: string | undefined;
  readonly contentType: string;
  readonly body: Record<string, unknown>;
}

export interface RouteResult {
  readonly status: number;
  readonly body?: Record<string, unknown>;
}

export interface RouterDeps {
  readonly tokens: TokenStore;
  /** Mounts by namespace-qualified path ("pai", "team-a/pai"). */
  readonly mounts: ReadonlyMap<string, KvMount>;
  /** Parsed rules of policy `name` for a token of namespace `nsPath`; undefined when unknown. */
  readonly policy: (name: string, nsPath: string) => readonly PathRule[] | undefined;
}

const DENIED = new DoubleError(403, ['1 error occurred:\n\t* permission denied\n\n']);

/** Vault's response envelope around `data` (and `auth` for logins and renewals). */
export function envelope(data: unknown, auth: unknown = null): RouteResult {
  const body = {
    request_id: randomUUID(),
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data,
    wrap_info: null,
    warnings: null,
    auth,
  };
  return { status: 200, body };
}

const noContent: RouteResult = { status: 204 };

/** A handler that does `fn` and answers 204. */
const thenNoContent =
  (fn: () => void): (() => RouteResult) =>
  () => {
    fn();
    return noContent;
  };

export class Router {
  private readonly aclCache = new Map<string, Acl>();

  constructor(private readonly deps: RouterDeps) {}

  private aclFor(entry: TokenEntry): Acl | 'root' {
    if (entry.policies.includes('root')) return 'root';
    const key = `${entry.nsPath}|${entry.policies.join(',')}`;
    let acl = this.aclCache.get(key);
    if (!acl) {
      acl = new Acl(entry.policies.map((p) => this.deps.policy(p, entry.nsPath) ?? []));
      this.aclCache.set(key, acl);
    }
    return acl;
  }

  /** Forgets cached ACLs (after a policy changed). */
  resetAcls(): void {
    this.aclCache.clear();
  }

  route(req: RoutedRequest): RouteResult {
    const isList = req.method === 'LIST' || (req.method === 'GET' && ['true', '1'].includes(req.query.get('list') ?? ''));
    if (!['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'LIST'].includes(req.method)) throw new DoubleError(405, []);
    if (req.method === 'PATCH' && req.contentType.split(';')[0]?.trim() !== 'application/merge-patch+json') {
      throw new DoubleError(415, [`PATCH requires Content-Type of application/merge-patch+json, provided ${req.contentType}`]);
    }
    const full = req.nsPath + req.path;
    const login = /^auth\/(.+)\/login$/.exec(req.path);
    if (login?.[1] && (req.method === 'POST' || req.method === 'PUT')) {
      const kind = this.deps.tokens.authMount(req.nsPath, login[1]);
      if (kind === 'kubernetes')
        return envelope(null, this.deps.tokens.authBody(this.deps.tokens.loginKubernetes(req.nsPath, login[1], req.body)));
      if (kind === 'approle')
        return envelope(null, this.deps.tokens.authBody(this.deps.tokens.loginAppRole(req.nsPath, login[1], req.body)));
    }
    const entry = req.token === undefined ? undefined : this.deps.tokens.lookup(req.token, req.nsPath);
    if (!entry) throw new DoubleError(403, ['permission denied']);
    const acl = this.aclFor(entry);
    const check = (path: string, op: Operation): void => {
      if (acl !== 'root' && !acl.allows(path, op)) throw DENIED;
    };

    if (req.path === 'auth/token/lookup-self' && req.method === 'GET') {
      check(full, 'read');
      return envelope(this.deps.tokens.lookupBody(entry));
    }
    if (req.path === 'auth/token/renew-self' && (req.method === 'POST' || req.method === 'PUT')) {
      check(full, 'update');
      const inc = req.body['increment'];
      this.deps.tokens.renew(entry, typeof inc === 'number' ? inc : typeof inc === 'string' ? parseInt(inc, 10) : undefined);
      return envelope(null, this.deps.tokens.authBody(entry));
    }
    for (const [mountPath, kv] of this.deps.mounts) {
      if (full.startsWith(`${mountPath}/`)) return this.kv(req, kv, full, full.slice(mountPath.length + 1), isList, check);
    }
    // Vault checks the ACL before it finds there is no handler: a token learns nothing of paths it may not use.
    const op: Operation = isList
      ? 'list'
      : (({ GET: 'read', PATCH: 'patch', DELETE: 'delete' } as const)[req.method] ?? 'update');
    check(full, op);
    throw new DoubleError(404, [`no handler for route "${full}". route entry not found.`]);
  }

  private kv(
    req: RoutedRequest,
    kv: KvMount,
    full: string,
    rest: string,
    isList: boolean,
    check: (p: string, op: Operation) => void,
  ): RouteResult {
    const handler = this.kvHandler(req, kv, full, rest, isList);
    check(handler.aclPath ?? full, handler.op);
    return handler.run();
  }

  /** Which operation a KV request is (for the ACL), and what it does. */
  private kvHandler(req: RoutedRequest, kv: KvMount, full: string, rest: string, isList: boolean): KvHandler {
    const write = req.method === 'POST' || req.method === 'PUT';
    const body = req.body;
    if (rest === 'config') {
      if (req.method === 'GET') return { op: 'read', run: () => envelope(kv.readConfig()) };
      if (write) return { op: 'update', run: thenNoContent(() => kv.writeConfig(body)) };
    }
    const m = /^(data|metadata|delete|undelete|destroy)\/(.*)$/.exec(rest);
    const section = m?.[1];
    const key = m?.[2] ?? '';
    if (section === 'metadata' && isList) {
      const folder = key === '' || key.endsWith('/') ? key : `${key}/`;
      return { op: 'list', aclPath: full.endsWith('/') ? full : `${full}/`, run: () => envelope({ keys: kv.list(folder) }) };
    }
    if (section === undefined || key === '' || key.endsWith('/')) throw new DoubleError(404, [`unsupported path "${full}"`]);
    const createOrUpdate: Operation = kv.exists(key) ? 'update' : 'create';
    const table: Record<string, Record<string, KvHandler | undefined>> = {
      data: {
        GET: { op: 'read', run: () => envelope(kv.readData(key, Number(req.query.get('version') ?? 0) || 0)) },
        POST: { op: createOrUpdate, run: () => envelope(kv.writeData(key, body)) },
        PATCH: { op: 'patch', run: () => envelope(kv.patchData(key, body)) },
        DELETE: { op: 'delete', run: thenNoContent(() => kv.deleteLatest(key)) },
      },
      metadata: {
        GET: { op: 'read', run: () => envelope(kv.readMeta(key)) },
        POST: { op: createOrUpdate, run: thenNoContent(() => kv.writeMeta(key, body)) },
        PATCH: { op: 'patch', run: thenNoContent(() => kv.patchMeta(key, body)) },
        DELETE: { op: 'delete', run: thenNoContent(() => kv.deleteMeta(key)) },
      },
    };
    if (section === 'delete' || section === 'undelete' || section === 'destroy') {
      if (write) return { op: 'update', run: thenNoContent(() => kv.versionOp(section, key, body)) };
      throw new DoubleError(405, []);
    }
    const handler = table[section]?.[req.method === 'PUT' ? 'POST' : req.method];
    if (!handler) throw new DoubleError(405, []);
    return handler;
  }
}

interface KvHandler {
  readonly op: Operation;
  /** The path the ACL is checked on, when not the request's (LIST adds a trailing "/"). */
  readonly aclPath?: string;
  readonly run: () => RouteResult;
}
