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

/**
 * An agent token whose agent no longer exists, for tests that need only the token's role (the
 * admin API refuses agent tokens whatever their agent): an agent token can only be made while its
 * agent exists, so the agent is created, the token made, and the agent deleted.
 */
export async function detachedAgentToken(base: string, adminToken: string, agent: string): Promise<string> {
  const doc = { apiVersion: 'pai/v1', kind: 'Agent', metadata: { name: agent }, spec: {} };
  const steps: [string, string, unknown, number][] = [
    ['PUT', `/v1/agents/${agent}`, doc, 201],
    ['POST', '/v1/tokens', { role: 'agent', agent }, 201],
    ['DELETE', `/v1/agents/${agent}`, undefined, 200],
  ];
  let token = '';
  for (const [method, path, body, status] of steps) {
    const res = await api(base, adminToken, method, path, body);
    if (res.status !== status) throw new Error(`${method} ${path} answered ${res.status}: ${res.text}`);
    if (method === 'POST') token = res.json.token as string;
  }
  return token;
}
