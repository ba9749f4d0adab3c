/**
 * The admin API fuzz pass: requests to every route (and to none) with random JSON, wrong types in
 * otherwise valid bodies, deep nesting, huge bodies, invalid UTF-8, wrong content types, random
 * methods, paths and headers, plus raw bytes on a bare TCP connection below what an HTTP client
 * sends. Oracle: every request is answered (an HTTP response, or for raw garbage at least a closed
 * connection), input errors are 4xx with a JSON error body, nothing is a 500, and no canary appears
 * anywhere but the env render of env-bot.
 */
import http from 'node:http';
import net from 'node:net';
import { findCanary } from './canary.js';
import { type Budget, inputSeed, parallel, prng } from './fuzz.js';
import type { FuzzStats } from './fuzz-grpc.js';
import { ENV_AGENT, FUZZ_AGENT, type FuzzTarget } from './fuzz-target.js';

type Rand = () => number;
const int = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
function pick<T>(r: Rand, items: readonly T[]): T {
  return items[Math.floor(r() * items.length)] as T;
}
function text(r: Rand, max: number, alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-_.'): string {
  const chars = [...alphabet];
  return Array.from({ length: int(r, 0, max) }, () => pick(r, chars)).join('');
}

/** Random JSON: nested objects and arrays of strings, numbers, booleans and null. */
function json(r: Rand, depth = 0): unknown {
  const x = r();
  if (depth > 4 || x < 0.35) {
    return pick(r, [
      null,
      true,
      false,
      int(r, -1e9, 1e9),
      r() * 1e308,
      -0,
      text(r, 20, 'aé😀\u0000\u2028"\\/{}[]'),
      '',
      'token',
      '__proto__',
    ]);
  }
  if (x < 0.6) return Array.from({ length: int(r, 0, 5) }, () => json(r, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = int(r, 0, 5); i > 0; i--) {
    o[
      pick(r, [
        'name',
        'data',
        'binaryData',
        'remove',
        'kind',
        'apiVersion',
        'metadata',
        'spec',
        'role',
        'agent',
        'ttl',
        '__proto__',
        'constructor',
        text(r, 10),
      ])
    ] = json(r, depth + 1);
  }
  return o;
}

const NAMES = [
  'victim',
  'fuzz-api',
  FUZZ_AGENT,
  ENV_AGENT,
  'nope',
  '',
  'UPPER',
  'a'.repeat(64),
  '..',
  '%2e%2e',
  '%00',
  'x%2Fy',
  '%ZZ',
  '😀',
];

/** Valid bodies of each write, to be broken one field at a time. */
function validBody(r: Rand, name: string): Record<string, unknown> {
  return pick(r, [
    { name, data: { token: 'v' } },
    { data: { token: 'v2' } },
    { data: { other: 'v' }, remove: ['token'] },
    {
      apiVersion: 'pai/v1',
      kind: 'Provider',
      metadata: { name },
      spec: { type: 'http', hosts: ['x.example'], auth: { secretRef: 'victim' } },
    },
    {
      apiVersion: 'pai/v1',
      kind: 'Agent',
      metadata: { name },
      spec: { providers: ['fuzz-api'], env: [{ name: 'X', secretRef: { name: 'victim', key: 'token' } }] },
    },
    {
      role: pick(r, ['admin', 'viewer', 'renderer', 'agent', 'root']),
      ...(r() < 0.5 ? { agent: FUZZ_AGENT } : {}),
      ttl: pick(r, ['1h', '-1s', 'x']),
    },
  ]);
}

/** `body` with one value, at any depth, replaced by a value of another type. */
function breakOne(r: Rand, body: unknown): unknown {
  if (typeof body !== 'object' || body === null) return json(r, 3);
  const copy: Record<string, unknown> | unknown[] = Array.isArray(body)
    ? [...(body as unknown[])]
    : { ...(body as Record<string, unknown>) };
  const keys = Object.keys(copy);
  if (keys.length === 0) return json(r, 3);
  const key = pick(r, keys);
  const inner = (copy as Record<string, unknown>)[key];
  (copy as Record<string, unknown>)[key] = r() < 0.5 ? json(r, 4) : breakOne(r, inner);
  return copy;
}

interface Spec {
  readonly kind: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer | undefined;
}

function route(r: Rand): { method: string; path: string; name: string } {
  const name = pick(r, NAMES);
  const plural = pick(r, ['secrets', 'agents', 'providers', 'modelproviders', 'tokens']);
  if (r() < 0.5) {
    // A real route of the API (src/admin/*-routes.ts), so that most bodies reach a handler.
    const [method, path] = pick(r, [
      ['POST', '/v1/secrets'],
      ['PUT', `/v1/secrets/${name}`],
      ['PATCH', `/v1/secrets/${name}`],
      ['DELETE', `/v1/secrets/${name}?force=${pick(r, ['true', 'false', 'maybe'])}`],
      ['GET', `/v1/secrets/${name}`],
      ['PUT', `/v1/${plural}/${name}`],
      ['DELETE', `/v1/${plural}/${name}`],
      ['POST', '/v1/tokens'],
      ['DELETE', `/v1/tokens/${name}`],
      ['GET', `/v1/agents/${pick(r, [ENV_AGENT, name])}/env?format=${pick(r, ['json', 'dotenv', 'xml'])}`],
    ] as const);
    return { method, path, name };
  }
  const method = pick(r, ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);
  const path = pick(r, [
    `/v1/${plural}`,
    `/v1/${plural}/${name}`,
    `/v1/${plural}/${name}?force=${pick(r, ['true', 'maybe', ''])}`,
    `/v1/agents/${name}/env?format=${pick(r, ['json', 'dotenv', 'xml'])}`,
    `/v1/agents/${ENV_AGENT}/env`,
    '/v1/admin/master-key/rotate',
    '/metrics',
    '/healthz',
    '/readyz',
    `/${text(r, 30, 'abc/%.?#&=')}`,
    `/v1/${plural}/${name}/${text(r, 8)}`,
    `/v1/secrets/${'x'.repeat(int(r, 100, 9000))}`,
  ]);
  return { method, path, name };
}

function spec(r: Rand, target: FuzzTarget): Spec {
  const { method, path, name } = route(r);
  const headers: Record<string, string> = {};
  const auth = r();
  if (auth < 0.8) headers['authorization'] = `Bearer ${target.admin.token}`;
  else if (auth < 0.9)
    headers['authorization'] = pick(r, [
      'Bearer',
      'Bearer pai_0000000000000000_x',
      `Basic ${target.admin.token}`,
      `Bearer ${'a'.repeat(600)}`,
    ]);
  for (let i = int(r, 0, 3); i > 0; i--) headers[`x-${text(r, 10, 'abcdef')}`] = text(r, 40, 'abc ;=,"');
  if (r() < 0.03) for (let i = int(r, 100, 2000); i > 0; i--) headers[`x-many-${i}`] = 'v';
  if (r() < 0.02) headers['x-huge'] = 'h'.repeat(int(r, 8000, 40_000));
  const x = r();
  let kind: string;
  let body: Buffer | undefined;
  if (x < 0.25) {
    kind = 'random json';
    body = Buffer.from(JSON.stringify(json(r)) ?? 'null');
  } else if (x < 0.5) {
    kind = 'wrong types';
    body = Buffer.from(JSON.stringify(breakOne(r, validBody(r, name))));
  } else if (x < 0.6) {
    kind = 'valid body';
    body = Buffer.from(JSON.stringify(validBody(r, name)));
  } else if (x < 0.67) {
    kind = 'deep nesting';
    const n = int(r, 30, 200_000);
    body = Buffer.from(`${'{"a":'.repeat(r() < 0.5 ? 1 : 0)}${'['.repeat(n)}${']'.repeat(r() < 0.5 ? n : 0)}`);
  } else if (x < 0.74) {
    kind = 'invalid utf-8';
    body = Buffer.concat([
      Buffer.from('{"name":"victim","data":{"token":"'),
      Buffer.from([0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0, 0x80]),
      Buffer.from('"}}'),
    ]);
  } else if (x < 0.77) {
    kind = 'huge body';
    body = Buffer.alloc(int(r, 4 * 1024 * 1024 - 10, 6 * 1024 * 1024), 0x20);
  } else if (x < 0.85) {
    kind = 'not json';
    body = Buffer.from(pick(r, ['', 'null', '[]', '"x"', '{', '{"a":1}{"b":2}', 'name=victim', '\u0000']));
  } else {
    kind = 'no body';
    body = undefined;
  }
  if (body !== undefined)
    headers['content-type'] =
      r() < 0.85
        ? 'application/json'
        : pick(r, ['text/plain', 'application/json; charset=latin1', 'application/JSON', 'multipart/form-data']);
  return { kind, method, path, headers, body };
}

/** Sends one request with Node's client; resolves with status and body, or the transport error. */
function send(agent: http.Agent, port: number, s: Spec): Promise<{ status: number; body: Buffer } | { error: string }> {
  return new Promise((resolve) => {
    let req: http.ClientRequest;
    try {
      req = http.request({ host: '127.0.0.1', port, method: s.method, path: s.path, headers: s.headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', (e) => resolve({ error: e.message }));
      });
    } catch (err) {
      resolve({ error: `client refused: ${(err as { code?: string }).code ?? 'error'}` });
      return;
    }
    req.setTimeout(20_000, () => req.destroy(new Error('no answer within 20 s')));
    req.on('error', (e) => resolve({ error: e.message }));
    req.end(s.body);
  });
}

/** Raw bytes on a fresh TCP connection: resolves with what came back before the server closed it. */
function sendRaw(port: number, bytes: Buffer): Promise<{ reply: Buffer; answered: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => socket.destroy(), 15_000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const reply = Buffer.concat(chunks);
      resolve({ reply, answered: reply.length > 0 || !timer.hasRef() });
    });
    socket.end(bytes);
  });
}

function rawInput(r: Rand, target: FuzzTarget): Buffer {
  const auth = `Authorization: Bearer ${target.admin.token}\r\n`;
  return pick(r, [
    Buffer.from(Array.from({ length: int(r, 1, 512) }, () => int(r, 0, 255))),
    Buffer.from(
      `${pick(r, ['FOO', 'get', 'G ET', 'PROPFIND', 'GET'])} ${pick(r, ['/v1/secrets', '*', 'http://x/', '/\u0001', '/a b'])} HTTP/${pick(r, ['1.1', '1.0', '2.0', '9'])}\r\nHost: x\r\n${auth}\r\n`,
    ),
    Buffer.from(
      `POST /v1/secrets HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: ${pick(r, ['-1', '99999999999999999999', 'abc', '1, 2'])}\r\n\r\n{}`,
    ),
    Buffer.from(
      `POST /v1/secrets HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${pick(r, ['zz\r\n', '5\r\n{}\r\n0\r\n\r\n', 'ffffffffffff\r\n'])}`,
    ),
    Buffer.from(`GET /v1/secrets HTTP/1.1\r\nHost: x\r\n${auth}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n`),
    Buffer.from(`GET /v1/secrets HTTP/1.1\r\n${'X: y\r\n'.repeat(int(r, 1, 3000))}${auth}\r\n`),
    Buffer.from(`GET /v1/secrets HTTP/1.1\r\nHost: x\r\n${auth}X-Bad: a\u0000b\r\n\r\n`),
  ]);
}

/** Sends admin inputs on `workers` loops until `budget` is spent; input i from prng(inputSeed(seed, i)). */
export async function fuzzAdmin(target: FuzzTarget, budget: Budget, seed: number, workers = 4): Promise<FuzzStats> {
  const stats: FuzzStats = { tried: 0, byKind: {}, outcomes: {}, problems: [] };
  const port = Number(new URL(target.server.adminUrl).port);
  const agent = new http.Agent({ keepAlive: true, maxSockets: workers });
  const count = (map: Record<string, number>, key: string): void => void (map[key] = (map[key] ?? 0) + 1);
  const problem = (i: number, what: string): void =>
    void (stats.problems.length < 20 && stats.problems.push(`input ${i}: ${what}`));
  try {
    await parallel(budget, workers, async (i) => {
      const r = prng(inputSeed(seed, i));
      if (r() < 0.1) {
        count(stats.byKind, 'raw bytes');
        const { reply, answered } = await sendRaw(port, rawInput(r, target));
        count(stats.outcomes, reply.length > 0 ? `raw ${reply.subarray(9, 12).toString('latin1')}` : 'raw closed');
        if (!answered) problem(i, 'raw input neither answered nor closed within 15 s');
        for (const c of [target.canary, target.telegram, target.envCanary])
          if (findCanary(reply, c).length > 0) problem(i, 'a canary in a raw reply');
        return;
      }
      const s = spec(r, target);
      count(stats.byKind, s.kind);
      const res = await send(agent, port, s);
      const what = `${s.method} ${s.path.slice(0, 80)} (${s.kind})`;
      if ('error' in res) {
        count(stats.outcomes, res.error.startsWith('client refused') ? 'refused by the client' : 'transport error');
        // A connection the server closes on a request it will not read (too large, bad framing) is an answer.
        if (/no answer/.test(res.error)) problem(i, `${what}: ${res.error}`);
        return;
      }
      count(stats.outcomes, String(res.status));
      if (res.status >= 500 && res.status !== 503)
        problem(i, `${what} answered ${res.status}: ${res.body.toString('utf8').slice(0, 200)}`);
      if (res.status >= 400 && s.method !== 'HEAD') {
        let code: unknown;
        try {
          code = (JSON.parse(res.body.toString('utf8')) as { error?: { code?: unknown } }).error?.code;
        } catch {
          code = undefined;
        }
        // Node's own parser answers 400/413/431 before the API sees the request, with no body.
        if (typeof code !== 'string' && res.body.length > 0) problem(i, `${what}: error ${res.status} without a JSON error body`);
      }
      for (const c of [target.canary, target.telegram])
        if (findCanary(res.body, c).length > 0) problem(i, `${what}: a provider canary in the response`);
      const render = s.method === 'GET' && s.path.startsWith(`/v1/agents/${ENV_AGENT}/env`) && res.status === 200;
      if (!render && findCanary(res.body, target.envCanary).length > 0) problem(i, `${what}: the env canary outside its render`);
    });
  } finally {
    agent.destroy();
  }
  stats.tried = budget.tried;
  return stats;
}
