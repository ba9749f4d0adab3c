/**
 * HTTP plumbing of the admin API: bounded JSON bodies, JSON responses, error responses.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PaiError, errorBody } from '../errors.js';

/** Largest request body accepted (a 1 MiB secret base64-encoded fits; a 10 MiB document does not). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Deepest JSON nesting accepted in a body (resources are shallow; deep input is an attack). */
export const MAX_JSON_DEPTH = 32;

/** Reads the whole body up to `limit` bytes; throws `too_large` beyond. */
export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw new PaiError('too_large', `request body of ${declared} bytes exceeds the limit of ${limit} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) {
      req.resume();
      throw new PaiError('too_large', `request body exceeds the limit of ${limit} bytes`);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

function depthOf(text: string): number {
  // Counts bracket nesting outside strings, without building the value first.
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) max = Math.max(max, ++depth);
    else if (c === 125 || c === 93) depth--;
  }
  return max;
}

/**
 * Parses a JSON request body: content type application/json (415 otherwise), valid UTF-8 and JSON
 * (400), nesting at most MAX_JSON_DEPTH (400), a JSON object at the top (400).
 */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    req.resume();
    throw new PaiError('unsupported_media_type', 'request body must be JSON (Content-Type: application/json)');
  }
  const raw = await readBody(req);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw new PaiError('bad_request', 'request body is not valid UTF-8');
  }
  if (depthOf(text) > MAX_JSON_DEPTH) {
    throw new PaiError('bad_request', `request body nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new PaiError('bad_request', 'request body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PaiError('bad_request', 'request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
} as const;

/** Sends a JSON response. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** Sends a text response (metrics, dotenv). */
export function sendText(res: ServerResponse, status: number, contentType: string, body: string | Buffer): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Sends an error as `{"error": {"code", "message", ...details}}` with its status. */
export function sendError(res: ServerResponse, err: PaiError): void {
  const extra: Record<string, string> = err.code === 'unauthenticated' ? { 'www-authenticate': 'Bearer realm="pai"' } : {};
  if (err.code === 'method_not_allowed' && typeof err.details?.['allow'] === 'string') extra['allow'] = err.details['allow'];
  const text = JSON.stringify(errorBody(err));
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(err.status, {
    ...SECURITY_HEADERS,
    ...extra,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
