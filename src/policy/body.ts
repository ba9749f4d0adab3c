/**
 * Reading request bodies for resolvers: the media type, UTF-8 text, form and JSON bodies. Every
 * reader refuses what it cannot read exactly (fail closed); none guesses.
 */
import { parseStrictJson } from './json-strict.js';
import type { JsonValue } from './json-strict.js';
import { parseQuery } from './path.js';
import type { QueryParam } from './path.js';
import type { PolicyRequest } from './request.js';

/** The media type of a Content-Type value, lower-cased, without parameters. */
export function mediaTypeOf(contentType: string): string {
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/** The request's media type, lower-cased, without parameters ("" when absent). */
export function mediaType(req: PolicyRequest): string {
  return mediaTypeOf(req.headers.get('content-type') ?? '');
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The body as UTF-8 text, or undefined when it is not valid UTF-8. A BOM is kept (and so refused by the parsers). */
export function bodyText(body: Buffer): string | undefined {
  try {
    return UTF8.decode(body);
  } catch {
    return undefined;
  }
}

export type BodyRead<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly why: string };

/** The body parsed as strict JSON (see json-strict.ts). */
export function readJsonBody(body: Buffer): BodyRead<JsonValue> {
  const text = bodyText(body);
  if (text === undefined) return { ok: false, why: 'body is not valid UTF-8' };
  const parsed = parseStrictJson(text);
  return parsed.ok ? parsed : { ok: false, why: `body is not strict JSON: ${parsed.why}` };
}

/** The body parsed as application/x-www-form-urlencoded. */
export function readFormBody(body: Buffer): BodyRead<readonly QueryParam[]> {
  const text = bodyText(body);
  if (text === undefined) return { ok: false, why: 'body is not valid UTF-8' };
  // Form bodies may carry line breaks in values only as %0A; raw ones fail parseQuery like in a query.
  const parsed = parseQuery(text);
  return 'problem' in parsed ? { ok: false, why: `form body: ${parsed.problem}` } : { ok: true, value: parsed.params };
}
