/**
 * Strategies that put the credential in the request path rather than a header. Both return the
 * new `:path` in HeaderMutation.path, computed from the path the agent sent, and still remove the
 * agent's credential headers.
 */
import { PaiError } from '../errors.js';
import type { InjectionTarget } from '../resources/types.js';
import { assertHeaderValue, authOf, badValue, CREDENTIAL_HEADERS, requireKey } from './mutation.js';
import type { HeaderMutation, InjectRequest } from './mutation.js';

function badRequest(message: string): PaiError {
  return new PaiError('bad_request', message);
}

const PLUS = /\+/g;

/** A query-parameter name as a server would read it (form decoding); the raw text if undecodable. */
function decodeQueryName(raw: string): string {
  if (raw.indexOf('%') === -1 && raw.indexOf('+') === -1) return raw;
  try {
    return decodeURIComponent(raw.replace(PLUS, ' '));
  } catch {
    // A malformed escape keeps a literal "%" under lenient decoders, so it cannot equal a
    // (validated) parameter name: leaving the piece alone is safe.
    return raw;
  }
}

/**
 * `path` with query parameter `param` set exactly once to `value` (URL-encoded), appended last.
 * Every existing occurrence is removed first, compared after decoding and ignoring ASCII case, so
 * an agent cannot slip in its own copy as `API_KEY=` or `api%5Fkey=`. Other parameters keep their
 * order and spelling. Throws PaiError `bad_request` for a path with a fragment.
 */
export function withQueryParam(path: string, param: string, value: string): string {
  if (path.indexOf('#') !== -1) throw badRequest('request path contains a fragment ("#")');
  const q = path.indexOf('?');
  const base = q === -1 ? path : path.slice(0, q);
  let kept = '';
  if (q !== -1) {
    const wanted = param.toLowerCase();
    for (const piece of path.slice(q + 1).split('&')) {
      if (piece.length === 0) continue;
      const eq = piece.indexOf('=');
      const name = decodeQueryName(eq === -1 ? piece : piece.slice(0, eq));
      if (name.length === wanted.length && name.toLowerCase() === wanted) continue;
      kept += `${piece}&`;
    }
  }
  return `${base}?${kept}${encodeURIComponent(param)}=${encodeURIComponent(value)}`;
}

/**
 * `?<param>=<value>` on the path (http scheme `query`). The value must pass assertHeaderValue even
 * though it is URL-encoded: a stray newline would otherwise be sent as `%0A`, silently.
 * Throws `key_missing`, `bad_header_value` or `bad_request`.
 */
export function queryMutation(
  target: InjectionTarget,
  values: ReadonlyMap<string, Buffer>,
  request: InjectRequest,
): HeaderMutation {
  const auth = authOf(target, 'query');
  const value = assertHeaderValue(requireKey(values, target.secret, auth.key), { secret: target.secret, key: auth.key });
  return { set: [], remove: CREDENTIAL_HEADERS, path: withQueryParam(request.path, auth.param, value) };
}

const TELEGRAM_TOKEN = /^[0-9]+:[A-Za-z0-9_-]+$/;
const ENCODED_SEPARATOR = /%(2e|2f|5c)/i;

/**
 * The Telegram Bot API path with the token put in. The agent calls `/bot/<method>[?query]` and
 * `/file/bot/<file_path>`, or the same with the Provider's placeholder after `bot` (what a
 * Telegram library builds from the `auth.agentEnvVar` placeholder it was given); these become
 * `/bot<token>/<method>` and `/file/bot<token>/<file_path>`. Anything else is refused with PaiError
 * `bad_request`: in particular `/bot<something else>/…` (the agent must not choose the token, so
 * its own is not passed through), an empty method, and dot segments or encoded separators that
 * could move the request off the token's path after normalisation.
 */
export function telegramPath(path: string, token: string, placeholder?: string): string {
  let prefix: string | undefined;
  let skip = 0;
  for (const base of ['/bot', '/file/bot']) {
    if (path.startsWith(`${base}/`)) [prefix, skip] = [base, base.length + 1];
    else if (placeholder !== undefined && path.startsWith(`${base}${placeholder}/`)) {
      [prefix, skip] = [base, base.length + placeholder.length + 1];
    }
    if (prefix !== undefined) break;
  }
  if (prefix === undefined) {
    if (path.startsWith('/bot') || path.startsWith('/file/bot')) {
      throw badRequest('Telegram: the bot token is added by the injector; call /bot/<method> or /file/bot/<path>');
    }
    throw badRequest('Telegram: requests must use /bot/<method> or /file/bot/<path>');
  }
  const rest = path.slice(skip);
  const q = rest.indexOf('?');
  const restPath = q === -1 ? rest : rest.slice(0, q);
  if (restPath.length === 0) throw badRequest('Telegram: missing method after /bot/');
  if (restPath.indexOf('\\') !== -1 || ENCODED_SEPARATOR.test(restPath) || path.indexOf('#') !== -1) {
    throw badRequest('Telegram: backslashes, fragments and encoded "." "/" "\\" are not allowed in the path');
  }
  for (const segment of restPath.split('/')) {
    if (segment.length === 0 || segment === '.' || segment === '..') {
      throw badRequest('Telegram: empty, "." or ".." path segments are not allowed');
    }
  }
  return `${prefix}${token}/${rest}`;
}

/**
 * Telegram: the token goes into the path (needs ext_proc). The token must look like a bot token
 * (`<digits>:<letters, digits, _ or ->`), which also makes it path-safe; otherwise PaiError
 * `bad_header_value`. Also throws `key_missing` and `bad_request` (see telegramPath).
 */
export function telegramMutation(
  target: InjectionTarget,
  values: ReadonlyMap<string, Buffer>,
  request: InjectRequest,
): HeaderMutation {
  const auth = authOf(target, 'telegram');
  const what = { secret: target.secret, key: auth.key };
  const token = assertHeaderValue(requireKey(values, target.secret, auth.key), what);
  if (!TELEGRAM_TOKEN.test(token)) {
    throw badValue(what, 'is not a Telegram bot token (digits, ":", then letters, digits, "_" or "-")');
  }
  return { set: [], remove: CREDENTIAL_HEADERS, path: telegramPath(request.path, token, auth.placeholder) };
}
