/**
 * The query string of a request the injector signs with SigV4 (issue 16, item 5): bounded before
 * any work is done on it, parsed once, and put into canonical form in O(n log n).
 *
 * Why not leave the canonical query to @smithy/signature-v4: its getCanonicalQuery builds the
 * values of a repeated name with `reduce((acc, v) => acc.concat([...]), [])`, which copies the
 * array once per value: a query repeating one name 30,000 times took ~11 s of one core (18 s on a
 * loaded machine), during which the injector answered nobody. The canonical form below is the
 * same string (AWS SigV4: names and values URI-encoded, pairs sorted by name, then by value); the
 * tests compare both signers' signatures on generated queries.
 * Pure: no I/O.
 */
import { PaiError } from '../errors.js';

/** The most query parameters a signed request may carry. */
export const MAX_SIGNED_QUERY_PARAMS = 1000;
/** The longest query string (after `?`, in bytes as received) a signed request may carry. */
export const MAX_SIGNED_QUERY_BYTES = 16 * 1024;

export type ParsedQuery = Record<string, string | string[]>;

/**
 * Refuses a query over MAX_SIGNED_QUERY_BYTES or with more than MAX_SIGNED_QUERY_PARAMS
 * parameters: PaiError `bad_request` (400) saying which limit, with the counts and never a
 * name or value. One pass over the text, nothing allocated. AWS APIs that take many parameters
 * take them in the body (the Query protocol's POST form), which is hashed, not parsed.
 */
export function assertQueryBounds(query: string): void {
  if (query.length > MAX_SIGNED_QUERY_BYTES) {
    throw new PaiError(
      'bad_request',
      `AWS: the query string is ${query.length} bytes; the injector signs at most ${MAX_SIGNED_QUERY_BYTES} (send large parameter sets in the body)`,
      { details: { limit: MAX_SIGNED_QUERY_BYTES } },
    );
  }
  let params = 0;
  let pieceStart = 0;
  for (let i = 0; i <= query.length; i++) {
    if (i < query.length && query.charCodeAt(i) !== 0x26 /* & */) continue;
    if (i > pieceStart) params++;
    pieceStart = i + 1;
  }
  if (params > MAX_SIGNED_QUERY_PARAMS) {
    throw new PaiError(
      'bad_request',
      `AWS: the query has ${params} parameters; the injector signs at most ${MAX_SIGNED_QUERY_PARAMS} (send large parameter sets in the body)`,
      { details: { limit: MAX_SIGNED_QUERY_PARAMS } },
    );
  }
}

/** assertQueryBounds on the query of `path` (`:path`: path and query); a path without `?` passes. */
export function assertPathQueryBounds(path: string): void {
  const q = path.indexOf('?');
  if (q !== -1) assertQueryBounds(path.slice(q + 1));
}

function decodeComponent(text: string): string {
  if (text.indexOf('%') === -1) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    throw new PaiError('bad_request', 'malformed percent-encoding in the query string');
  }
}

/**
 * The query (the text after `?`) as the signer wants it: decoded names → value or values, in
 * order. "+" is a literal plus (RFC 3986; AWS SDKs never send "+" for a space). Checks the bounds
 * first (assertQueryBounds); throws `bad_request` for them or malformed percent-encoding.
 */
export function parseQuery(query: string): ParsedQuery {
  assertQueryBounds(query);
  const out: ParsedQuery = Object.create(null) as ParsedQuery;
  for (const piece of query.split('&')) {
    if (piece.length === 0) continue;
    const eq = piece.indexOf('=');
    const name = decodeComponent(eq === -1 ? piece : piece.slice(0, eq));
    const value = eq === -1 ? '' : decodeComponent(piece.slice(eq + 1));
    const prior = out[name];
    if (prior === undefined) out[name] = value;
    else if (typeof prior === 'string') out[name] = [prior, value];
    else prior.push(value);
  }
  return out;
}

const hexEncode = (c: string): string => `%${c.charCodeAt(0).toString(16).toUpperCase()}`;

/**
 * SigV4's URI encoding: RFC 3986 unreserved characters kept, everything else percent-encoded in
 * upper-case hex. The same one-liner as smithy's escapeUri (which is not a dependency of ours).
 * Throws URIError on a lone surrogate, as encodeURIComponent does.
 */
export function escapeUri(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, hexEncode);
}

/**
 * The canonical query string of SigV4 for `query` (as parseQuery returns it): every name=value
 * pair URI-encoded, sorted by encoded name, then by the encoded pair; `X-Amz-Signature` left out
 * (a presigned URL's own signature is never signed). O(n log n) in the number of pairs. Throws
 * URIError for a lone surrogate (signAws turns it into `bad_request`).
 */
export function canonicalQuery(query: Readonly<Record<string, string | readonly string[] | null>>): string {
  const pairs: { readonly key: string; readonly pair: string }[] = [];
  for (const name of Object.keys(query)) {
    if (name.toLowerCase() === 'x-amz-signature') continue;
    const key = escapeUri(name);
    const values = query[name];
    // A null value (possible in smithy's type, never made by parseQuery) is left out, as smithy does.
    for (const value of typeof values === 'string' ? [values] : (values ?? [])) {
      pairs.push({ key, pair: `${key}=${escapeUri(value)}` });
    }
  }
  // Plain code-unit order, as JavaScript's default sort (and smithy) compares strings.
  pairs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.pair < b.pair ? -1 : a.pair > b.pair ? 1 : 0));
  return pairs.map((p) => p.pair).join('&');
}
