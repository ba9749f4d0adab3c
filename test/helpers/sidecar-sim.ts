/**
 * A small HTTP proxy that plays the Envoy sidecar in tests (no Envoy binary exists here). The agent
 * speaks plain HTTP/1.1 to it; it buffers the body, hands the request to a pluggable SidecarFilter
 * (ext_authz, ext_proc, gateway…), and then either answers the filter's denial or forwards the
 * (possibly rewritten) request to ONE local upstream recorder, keeping the original authority in
 * the Host header, so a test can send `Host: api.github.com` and still land on 127.0.0.1.
 *
 * The core knows nothing about any filter API: filters live in their own files.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request as the sidecar holds it between the agent and the upstream. */
export interface SimRequest {
  method: string;
  /** Path and query (`:path`). */
  path: string;
  /** The Host header the agent sent (`:authority`). */
  authority: string;
  /** Every other header as received, names lower-cased, in order, duplicates kept. */
  headers: [string, string][];
  body: Buffer;
}

export type FilterResult =
  { kind: 'deny'; status: number; headers: [string, string][]; body: Buffer } | { kind: 'forward'; request: SimRequest };

export interface SidecarFilter {
  onRequest(req: SimRequest): Promise<FilterResult>;
}

/** What the upstream recorder saw of one request. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  /** Header (name, value) pairs as received, names lower-cased. */
  readonly headers: readonly [string, string][];
  readonly body: Buffer;
}

/** All values of header `name` (case-insensitive) in `headers`. */
export function headerValues(headers: readonly (readonly [string, string])[], name: string): string[] {
  const lower = name.toLowerCase();
  return headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}

function rawPairs(raw: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([(raw[i] ?? '').toLowerCase(), raw[i + 1] ?? '']);
  return out;
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** The one upstream: records every request and answers 200 `{"seen": n}`. */
export interface UpstreamRecorder {
  readonly port: number;
  /** Every request that arrived, in order (tests may clear it with `length = 0`). */
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

/** Starts the upstream recorder on 127.0.0.1:0. */
export async function startUpstream(): Promise<UpstreamRecorder> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    void readBody(req).then((body) => {
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: rawPairs(req.rawHeaders), body });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ seen: requests.length }));
    });
  });
  const port = await listen(server);
  return { port, requests, close: () => close(server) };
}

export interface Sidecar {
  readonly port: number;
  close(): Promise<void>;
}

// Hop-by-hop fields (RFC 9110 §7.6.1) and the framing the proxy redoes itself.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
]);

function forward(upstreamPort: number, req: SimRequest, res: http.ServerResponse): void {
  const flat: string[] = ['host', req.authority];
  for (const [name, value] of req.headers) if (!HOP_BY_HOP.has(name)) flat.push(name, value);
  flat.push('content-length', String(req.body.length));
  const out = http.request(
    { host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.path, headers: flat, setHost: false },
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.rawHeaders);
      up.pipe(res);
    },
  );
  out.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  out.end(req.body);
}

function reply(res: http.ServerResponse, status: number, headers: readonly [string, string][], body: Buffer): void {
  const flat: string[] = [];
  for (const [name, value] of headers) if (!HOP_BY_HOP.has(name.toLowerCase())) flat.push(name, value);
  flat.push('content-length', String(body.length));
  res.writeHead(status, flat);
  res.end(body);
}

/** Starts the sidecar on 127.0.0.1:0, filtering with `filter` and forwarding to `upstreamPort`. */
export async function startSidecar(options: { filter: SidecarFilter; upstreamPort: number }): Promise<Sidecar> {
  const server = http.createServer((req, res) => {
    void (async () => {
      const pairs = rawPairs(req.rawHeaders);
      const hosts = headerValues(pairs, 'host');
      // RFC 9112 §3.2: a request with no Host or more than one must be answered 400.
      if (hosts.length !== 1) return reply(res, 400, [], Buffer.from('exactly one Host header is required'));
      const sim: SimRequest = {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        authority: hosts[0] ?? '',
        headers: pairs.filter(([n]) => n !== 'host'),
        body: await readBody(req),
      };
      let result: FilterResult;
      try {
        result = await options.filter.onRequest(sim);
      } catch {
        // A filter that throws is a broken sidecar: fail closed.
        return reply(res, 500, [], Buffer.from('sidecar filter failed'));
      }
      if (result.kind === 'deny') return reply(res, result.status, result.headers, result.body);
      return forward(options.upstreamPort, result.request, res);
    })();
  });
  const port = await listen(server);
  return { port, close: () => close(server) };
}

/** The agent's answer from the sidecar. */
export interface AgentResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/**
 * Sends one request through the sidecar as the agent would: `host` becomes the Host header, other
 * headers are sent as given (duplicates allowed, in order).
 */
export function agentRequest(
  sidecarPort: number,
  r: { method?: string; path?: string; host: string; headers?: readonly (readonly [string, string])[]; body?: Buffer | string },
): Promise<AgentResponse> {
  const body = r.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body);
  const flat: string[] = ['host', r.host];
  for (const [name, value] of r.headers ?? []) flat.push(name, value);
  flat.push('content-length', String(body.length));
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: sidecarPort,
        method: r.method ?? 'GET',
        path: r.path ?? '/',
        headers: flat,
        setHost: false,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
