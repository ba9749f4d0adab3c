/**
 * The request target as the policy sees it: `:path` split into path and query, the path's
 * normal-form check, and query parsing. Hand-written: URL/URLSearchParams normalise (they resolve
 * dot segments and repair bad escapes), and a policy must see what the upstream will see or refuse,
 * never a repaired copy.
 */

/** One query parameter, name and value percent-decoded (`+` read as a space). */
export interface QueryParam {
  readonly name: string;
  readonly value: string;
}

/** `:path` split at the first `?`; `query` is undefined when there is no `?`. */
export interface SplitPath {
  readonly path: string;
  readonly query: string | undefined;
}

/** Splits `:path` into path and raw query at the first `?` (a fragment stays in the path and fails normalFormProblem). */
export function splitPath(raw: string): SplitPath {
  const q = raw.indexOf('?');
  return q === -1 ? { path: raw, query: undefined } : { path: raw.slice(0, q), query: raw.slice(q + 1) };
}

// RFC 3986 pchar and "/": unreserved, sub-delims, ":", "@". Everything else must be percent-encoded.
const PATH_CHAR = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/") {
  PATH_CHAR[c.charCodeAt(0)] = 1;
}
const UNRESERVED = /[A-Za-z0-9\-._~]/;

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** The byte a `%XX` escape at `i` stands for, or -1 when the escape is malformed. */
function escapedByte(s: string, i: number): number {
  const hi = hexValue(s.charCodeAt(i + 1));
  const lo = hexValue(s.charCodeAt(i + 2));
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

export interface NormalFormOptions {
  /** Allow `%2F` inside a segment (Cloud Storage's JSON API encodes `/` in object names). */
  readonly allowEncodedSlash?: boolean;
}

function escapeProblem(byte: number, options: NormalFormOptions | undefined): string | undefined {
  if (byte < 0) return 'malformed percent-encoding';
  if (byte < 0x20 || byte === 0x7f) return 'percent-encoded control character';
  if (byte === 0x2e) return 'percent-encoded "." (a hidden dot segment)';
  if (byte === 0x2f && options?.allowEncodedSlash !== true) return 'percent-encoded "/"';
  if (byte === 0x5c) return 'percent-encoded "\\"';
  // RFC 3986 6.2.2.2: unreserved characters are never encoded in normal form; a server that
  // decodes before routing would read `pull%73` as `pulls` while the policy would not.
  if (byte < 0x80 && UNRESERVED.test(String.fromCharCode(byte))) return 'percent-encoded unreserved character';
  return undefined;
}

function charProblem(code: number): string | undefined {
  if (code < 0x20 || code === 0x7f) return 'control character';
  if (code === 0x5c) return 'backslash';
  if (code === 0x23) return 'fragment ("#")';
  if (code >= 0x80) return 'raw non-ASCII character';
  return PATH_CHAR[code] === 1 ? undefined : `character ${JSON.stringify(String.fromCharCode(code))} not allowed in a path`;
}

/**
 * Why `path` (no query) is not in normal form, or undefined when it is: it must start with `/`,
 * hold only RFC 3986 path characters and well-formed escapes, no dot segments (plain or encoded),
 * no empty segment except a trailing one, no encoded `/` (unless allowed), `\`, control character
 * or unreserved character.
 */
export function normalFormProblem(path: string, options?: NormalFormOptions): string | undefined {
  if (path.charCodeAt(0) !== 0x2f) return 'does not start with "/"';
  let segmentStart = 1;
  for (let i = 1; i <= path.length; i++) {
    const code = i < path.length ? path.charCodeAt(i) : 0x2f;
    if (code === 0x25) {
      const problem = escapeProblem(escapedByte(path, i), options);
      if (problem !== undefined) return problem;
      i += 2;
      continue;
    }
    if (code !== 0x2f) {
      const problem = charProblem(code);
      if (problem !== undefined) return problem;
      continue;
    }
    const segment = path.slice(segmentStart, i);
    if (segment === '.' || segment === '..') return 'dot segment';
    if (segment.length === 0 && i < path.length) return 'empty segment ("//")';
    segmentStart = i + 1;
  }
  return undefined;
}

/** Percent-decodes `s` (and `+` as a space when `plusIsSpace`); undefined for malformed escapes or invalid UTF-8. */
export function percentDecode(s: string, plusIsSpace = false): string | undefined {
  const text = plusIsSpace && s.indexOf('+') !== -1 ? s.replaceAll('+', ' ') : s;
  if (text.indexOf('%') === -1) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

const RAW_QUERY_BAD = /[\x00-\x20\x7f#]/; // eslint-disable-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/; // eslint-disable-line no-control-regex

/**
 * Parses a raw query (form encoding: `&`-separated, `+` is a space). Repeated names are kept, in
 * order; empty pieces are skipped; `name` without `=` has value "". Returns the problem instead
 * when an escape is malformed, the text holds raw spaces, control characters or `#`, or a decoded
 * name holds a control character.
 */
export function parseQuery(raw: string): { readonly params: readonly QueryParam[] } | { readonly problem: string } {
  if (RAW_QUERY_BAD.test(raw)) return { problem: 'raw space, control character or "#" in the query' };
  const params: QueryParam[] = [];
  for (const piece of raw.split('&')) {
    if (piece.length === 0) continue;
    const eq = piece.indexOf('=');
    const name = percentDecode(eq === -1 ? piece : piece.slice(0, eq), true);
    const value = eq === -1 ? '' : percentDecode(piece.slice(eq + 1), true);
    if (name === undefined || value === undefined) return { problem: 'malformed percent-encoding in the query' };
    if (CONTROL.test(name)) return { problem: 'control character in a query parameter name' };
    params.push({ name, value });
  }
  return { params };
}

/** Every value of parameter `name` (exact, case-sensitive name), in order. */
export function queryValues(params: readonly QueryParam[], name: string): string[] {
  const out: string[] = [];
  for (const p of params) if (p.name === name) out.push(p.value);
  return out;
}

/** True when parameter `name` occurs at least once. */
export function queryHas(params: readonly QueryParam[], name: string): boolean {
  for (const p of params) if (p.name === name) return true;
  return false;
}
