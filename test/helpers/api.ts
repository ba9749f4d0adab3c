/**
 * A small admin-API client for tests: every response is returned (status, parsed JSON, raw text),
 * never thrown, so tests can assert on error bodies too.
 */
export interface ApiResult {
  readonly status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary response shapes
  readonly json: any;
  readonly text: string;
  readonly headers: Headers;
}

/** Sends one request; `body` objects are JSON-encoded, strings and Buffers sent as is. */
export async function api(
  baseUrl: string,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiResult> {
  const h: Record<string, string> = { ...headers };
  if (token !== undefined) h['authorization'] = `Bearer ${token}`;
  let payload: string | Buffer | undefined;
  if (typeof body === 'string' || Buffer.isBuffer(body)) payload = body;
  else if (body !== undefined) {
    payload = JSON.stringify(body);
    h['content-type'] ??= 'application/json';
  }
  const res = await fetch(new URL(path, baseUrl), { method, headers: h, ...(payload === undefined ? {} : { body: payload }) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}
