/**
 * One small function per AuthStrategy variant (fly.io tokenizer habit): each takes the target, the
 * fetched secret values and the request, and returns a HeaderMutation or throws PaiError
 * (`key_missing`, `bad_header_value`, `bad_request`). Path-rewriting strategies (query, telegram)
 * live in path-strategies.ts, SigV4 in sigv4.ts. Pure: no I/O, no clock.
 */
import { PaiError } from '../errors.js';
import type { AuthStrategy, InjectionTarget } from '../resources/types.js';
import { headerNameProblem, headerPrefixProblem } from '../resources/wire-rules.js';
import { assertHeaderValue, authOf, badValue, CREDENTIAL_HEADERS, removalsWith, requireKey } from './mutation.js';
import type { HeaderMutation, InjectRequest, StrategyOf, ValueSource } from './mutation.js';
import { queryMutation, telegramMutation } from './path-strategies.js';

interface CompiledHeader {
  readonly name: string;
  readonly prefix: string;
  readonly remove: readonly string[];
}

// Per-auth precomputation: the header name and prefix are checked once, not per request.
const compiledHeaders = new WeakMap<AuthStrategy, CompiledHeader>();

function compileHeader(target: InjectionTarget, auth: StrategyOf<'header'>): CompiledHeader {
  const cached = compiledHeaders.get(auth);
  if (cached !== undefined) return cached;
  const where = `${target.kind} ${JSON.stringify(target.name)}`;
  const name = auth.header.toLowerCase();
  // The same rules as validation (resources/wire-rules.ts), checked again where the header is
  // written: a stored resource from an older version must not put a credential in `host`.
  const nameProblem = headerNameProblem(name);
  if (nameProblem) {
    throw new PaiError('invalid', `${where}: header ${JSON.stringify(auth.header)} may not carry a credential: ${nameProblem}`, {
      details: { field: 'auth.header' },
    });
  }
  const prefixProblem = headerPrefixProblem(auth.prefix);
  if (prefixProblem) {
    throw new PaiError('invalid', `${where}: header prefix ${prefixProblem}`, { details: { field: 'auth.prefix' } });
  }
  const compiled = { name, prefix: auth.prefix, remove: removalsWith(name) };
  compiledHeaders.set(auth, compiled);
  return compiled;
}

/** `<header>: <prefix><value>`. Throws `key_missing`, `bad_header_value`, or `invalid` for a bad header. */
export function headerMutation(
  target: InjectionTarget,
  values: ReadonlyMap<string, Buffer>,
  _request: InjectRequest,
): HeaderMutation {
  const auth = authOf(target, 'header');
  const h = compileHeader(target, auth);
  const value = assertHeaderValue(requireKey(values, target.secret, auth.key), { secret: target.secret, key: auth.key });
  return { set: [{ name: h.name, value: h.prefix + value }], remove: h.remove };
}

// RFC 7617: user-id and password exclude control characters; the user-id excludes ":" too. Bytes
// ≥ 0x80 are allowed: they are base64-encoded (UTF-8 credentials, RFC 7617 charset).
function checkBasicPart(value: Buffer, what: ValueSource, isUser: boolean): void {
  for (const c of value) {
    if (c === 0x0d || c === 0x0a) throw badValue(what, 'contains a line break (CR or LF)');
    if (c === 0) throw badValue(what, 'contains a NUL byte');
    if (c < 0x20 || c === 0x7f) throw badValue(what, 'contains a control character');
    if (isUser && c === 0x3a) throw badValue(what, 'contains ":" (not allowed in a Basic user name)');
  }
}

const BASIC_SEPARATOR = Buffer.from(':');

/** `Authorization: Basic base64(username:password)`. Throws `key_missing` or `bad_header_value`. */
export function basicMutation(
  target: InjectionTarget,
  values: ReadonlyMap<string, Buffer>,
  _request: InjectRequest,
): HeaderMutation {
  const auth = authOf(target, 'basic');
  const user = requireKey(values, target.secret, auth.usernameKey);
  const password = requireKey(values, target.secret, auth.passwordKey);
  checkBasicPart(user, { secret: target.secret, key: auth.usernameKey }, true);
  checkBasicPart(password, { secret: target.secret, key: auth.passwordKey }, false);
  if (user.length === 0) throw badValue({ secret: target.secret, key: auth.usernameKey }, 'is empty');
  const encoded = Buffer.concat([user, BASIC_SEPARATOR, password]).toString('base64');
  return { set: [{ name: 'authorization', value: `Basic ${encoded}` }], remove: CREDENTIAL_HEADERS };
}

/**
 * `Authorization: Bearer <accessToken>` for azure and gcp targets; the token was fetched (and is
 * cached) elsewhere, since that is I/O. Throws `bad_header_value` if the token is unusable.
 */
export function oauthBearerMutation(target: InjectionTarget, accessToken: string): HeaderMutation {
  const strategy = target.auth.strategy;
  if (strategy !== 'azure' && strategy !== 'gcp') authOf(target, 'azure');
  const value = assertHeaderValue(accessToken, { secret: target.secret, key: `${strategy} access token` });
  return { set: [{ name: 'authorization', value: `Bearer ${value}` }], remove: CREDENTIAL_HEADERS };
}

/** Git's smart-HTTP paths: `/<owner>/<repo>[.git]/info/refs?service=git-(upload|receive)-pack`, `…/git-upload-pack`, `…/git-receive-pack`. */
const GIT_SMART_HTTP =
  /^\/[^/?#]+\/[^/?#]+\/(?:info\/refs\?service=git-(?:upload|receive)-pack(?:&|$)|git-(?:upload|receive)-pack(?:\?|$))/;

/** True for a git smart-HTTP request path (clone, fetch, push). */
export function isGitSmartHttp(path: string): boolean {
  return GIT_SMART_HTTP.test(path);
}

const X_ACCESS_TOKEN = Buffer.from('x-access-token:');

/** github's three answers: Basic on git smart-HTTP, nothing on a git-only host's pages, Bearer on the API. */
type GithubRoute = 'git' | 'web' | 'api';
const githubMutations = new WeakMap<
  ReadonlyMap<string, Buffer>,
  WeakMap<InjectionTarget, Partial<Record<GithubRoute, HeaderMutation>>>
>();

/**
 * GitHub: on git smart-HTTP paths `Authorization: Basic base64(x-access-token:<token>)` (git
 * sends Basic, and GitHub takes a token as the password of x-access-token); elsewhere Bearer,
 * except on `gitOnlyHosts` (github.com: its web pages need no token), where the request passes
 * without a credential (the agent's own credential headers still removed).
 */
export function githubMutation(
  target: InjectionTarget,
  values: ReadonlyMap<string, Buffer>,
  request: InjectRequest,
): HeaderMutation {
  const auth = authOf(target, 'github');
  // One of three answers per (secret values, target): built once each (the token checked then),
  // chosen per request by its route.
  const route: GithubRoute = isGitSmartHttp(request.path)
    ? 'git'
    : auth.gitOnlyHosts.includes(hostOnly(request.host))
      ? 'web'
      : 'api';
  let byTarget = githubMutations.get(values);
  if (byTarget === undefined)
    githubMutations.set(values, (byTarget = new WeakMap<InjectionTarget, Partial<Record<GithubRoute, HeaderMutation>>>()));
  let routes = byTarget.get(target);
  if (routes === undefined) byTarget.set(target, (routes = {}));
  const known = routes[route];
  if (known !== undefined) return known;
  const what = { secret: target.secret, key: auth.key };
  const token = assertHeaderValue(requireKey(values, target.secret, auth.key), what);
  let mutation: HeaderMutation;
  if (route === 'git') {
    const encoded = Buffer.concat([X_ACCESS_TOKEN, Buffer.from(token, 'latin1')]).toString('base64');
    mutation = { set: [{ name: 'authorization', value: `Basic ${encoded}` }], remove: CREDENTIAL_HEADERS };
  } else if (route === 'web') mutation = { set: [], remove: CREDENTIAL_HEADERS };
  else mutation = { set: [{ name: 'authorization', value: `Bearer ${token}` }], remove: CREDENTIAL_HEADERS };
  routes[route] = mutation;
  return mutation;
}

/** The host of an authority, lower-case, without a port. */
function hostOnly(authority: string): string {
  const lower = authority.toLowerCase();
  if (lower.startsWith('[')) return lower.slice(0, lower.indexOf(']') + 1);
  const colon = lower.lastIndexOf(':');
  return colon === -1 ? lower : lower.slice(0, colon);
}

/** True when the target cannot be injected through ext_authz Check: it rewrites `:path` or signs the body. */
export function needsExtProc(target: InjectionTarget): boolean {
  const s = target.auth.strategy;
  return s === 'telegram' || s === 'sigv4';
}

/** The PaiError `needs_ext_proc` an ext_authz caller returns for such a target. */
export function needsExtProcError(target: InjectionTarget): PaiError {
  const why = target.auth.strategy === 'sigv4' ? 'signs the request body' : 'rewrites :path';
  return new PaiError(
    'needs_ext_proc',
    `${target.kind} ${JSON.stringify(target.name)} (type ${target.type}) ${why} and needs ext_proc; ext_authz cannot inject it`,
    { details: { kind: target.kind, name: target.name, type: target.type } },
  );
}

// `header` and `basic` mutations are pure functions of the target and the secret's values (the
// request is not read): each is built once per (cached secret record's values, target), not per
// request, and dropped with the record. A value that is refused throws every time (nothing kept).
const constantMutations = new WeakMap<ReadonlyMap<string, Buffer>, WeakMap<InjectionTarget, HeaderMutation>>();

function constantMutation(
  target: InjectionTarget,
  values: ReadonlyMap<string, Buffer>,
  request: InjectRequest,
  build: (target: InjectionTarget, values: ReadonlyMap<string, Buffer>, request: InjectRequest) => HeaderMutation,
): HeaderMutation {
  let byTarget = constantMutations.get(values);
  if (byTarget === undefined) constantMutations.set(values, (byTarget = new WeakMap<InjectionTarget, HeaderMutation>()));
  let mutation = byTarget.get(target);
  if (mutation === undefined) byTarget.set(target, (mutation = build(target, values, request)));
  return mutation;
}

/**
 * The mutation for any target but sigv4 (use sigv4Mutation, which needs the body and `now`).
 * azure and gcp need `accessToken`. Throws what the strategy throws, or `internal` on misuse.
 */
export function mutationFor(
  target: InjectionTarget,
  values: ReadonlyMap<string, Buffer>,
  request: InjectRequest,
  accessToken?: string,
): HeaderMutation {
  switch (target.auth.strategy) {
    case 'header':
      return constantMutation(target, values, request, headerMutation);
    case 'basic':
      return constantMutation(target, values, request, basicMutation);
    case 'github':
      return githubMutation(target, values, request);
    case 'query':
      return queryMutation(target, values, request);
    case 'telegram':
      return telegramMutation(target, values, request);
    case 'azure':
    case 'gcp':
      if (accessToken === undefined) throw new PaiError('internal', `${target.auth.strategy} target needs an access token`);
      return oauthBearerMutation(target, accessToken);
    case 'sigv4':
      throw new PaiError('internal', 'sigv4 targets are signed with sigv4Mutation (body and time needed)');
  }
}
