/**
 * HTTP/2-level fuzzing of the injector's gRPC server, below what a gRPC client library will send:
 * wrong content types, methods and paths, missing `te`, bogus grpc-encoding and grpc-timeout, many
 * and oversized headers, and broken gRPC message framing (length prefixes that lie, the compressed
 * flag without an encoding, several messages on a unary call, a cut 5-byte prefix). Every stream
 * must end (an answer, a reset, or the session closing) and no answer may carry the canary.
 */
import http2 from 'node:http2';
import net from 'node:net';
import { findCanary } from './canary.js';
import { type Budget, METHODS } from './fuzz.js';
import type { FuzzStats } from './fuzz-grpc.js';
import type { FuzzTarget } from './fuzz-target.js';
import { FUZZ_AGENT } from './fuzz-target.js';
import { loadEnvoyServices } from '../../src/injector/protos.js';

type Rand = () => number;
const int = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
function pick<T>(r: Rand, items: readonly T[]): T {
  return items[Math.floor(r() * items.length)] as T;
}

/** One gRPC message frame: compressed flag, 4-byte big-endian length (which may lie), payload. */
function frame(flag: number, declared: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flag;
  head.writeUInt32BE(declared >>> 0, 1);
  return Buffer.concat([head, payload]);
}

/** The body of one fuzzed stream. */
function body(r: Rand): { kind: string; data: Buffer } {
  const def = loadEnvoyServices().auth.envoy.service.auth.v3.Authorization.service.Check;
  // A request that decodes but is denied (unknown host): valid framing around it tests the framing.
  const msg = def.requestSerialize({
    attributes: {
      request: { http: { host: 'unmatched.example', path: '/', method: 'GET', headers: { ':authority': 'unmatched.example' } } },
      context_extensions: { 'pai.agent': FUZZ_AGENT },
    },
  });
  switch (int(r, 0, 7)) {
    case 0:
      return { kind: 'valid framing', data: frame(0, msg.length, msg) };
    case 1:
      return { kind: 'length too long', data: frame(0, msg.length + int(r, 1, 1 << 20), msg) };
    case 2:
      return { kind: 'length too short', data: frame(0, int(r, 0, Math.max(0, msg.length - 1)), msg) };
    case 3:
      return { kind: 'compressed flag', data: frame(pick(r, [1, 2, 255]), msg.length, msg) };
    case 4:
      return { kind: 'two messages', data: Buffer.concat([frame(0, msg.length, msg), frame(0, msg.length, msg)]) };
    case 5:
      return { kind: 'cut prefix', data: Buffer.from([0, 0, 0]) };
    case 6:
      return { kind: 'empty', data: Buffer.alloc(0) };
    default:
      return { kind: 'huge declared length', data: frame(0, 0xffffffff, Buffer.alloc(16)) };
  }
}

function headers(r: Rand): { kind: string; h: http2.OutgoingHttpHeaders } {
  const h: http2.OutgoingHttpHeaders = {
    ':method': r() < 0.9 ? 'POST' : pick(r, ['GET', 'PUT', 'OPTIONS']),
    ':path':
      r() < 0.8
        ? pick(r, [METHODS.check, METHODS.process, METHODS.health])
        : pick(r, ['/', '/x/y', '/envoy.service.auth.v3.Authorization/Nope', `/${'a'.repeat(5000)}`]),
    'content-type': r() < 0.8 ? 'application/grpc' : pick(r, ['text/plain', 'application/grpc+json', 'application/json', '']),
  };
  if (r() < 0.9) h['te'] = 'trailers';
  if (r() < 0.15) h['grpc-encoding'] = pick(r, ['gzip', 'identity', 'br', 'x-nonsense']);
  if (r() < 0.15) h['grpc-timeout'] = pick(r, ['1n', '99999999H', 'x', '-1S', '0m']);
  let kind = 'plain headers';
  const x = r();
  if (x < 0.1) {
    kind = 'many headers';
    for (let i = int(r, 100, 5000); i > 0; i--) h[`x-meta-${i}`] = 'v';
  } else if (x < 0.2) {
    // Up to 256 KiB: far beyond anything Envoy sends as gRPC metadata. (A header block of ~450 KiB
    // gets neither an answer nor a GOAWAY from Node's HTTP/2 server; see docs/RELIABILITY.md.)
    kind = 'oversized header';
    h['x-big'] = 'b'.repeat(int(r, 8 * 1024, 256 * 1024));
  } else if (x < 0.25) {
    kind = 'binary metadata';
    h['x-data-bin'] = Buffer.from(Array.from({ length: 64 }, () => int(r, 0, 255))).toString('base64');
  }
  return { kind, h };
}

/** One stream: resolves with what came back (status, grpc-status, all bytes) or how it failed. */
function stream(
  session: http2.ClientHttp2Session,
  h: http2.OutgoingHttpHeaders,
  data: Buffer,
): Promise<{ outcome: string; seen: Buffer }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let status = '';
    let grpcStatus = '';
    let settled = false;
    const timers: { answer?: NodeJS.Timeout } = {};
    const done = (how: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timers.answer);
      resolve({ outcome: how || `http ${status} grpc ${grpcStatus || '-'}`, seen: Buffer.concat(chunks) });
    };
    let req: http2.ClientHttp2Stream;
    try {
      req = session.request(h, { endStream: false });
    } catch (err) {
      done(`refused by the client: ${(err as { code?: string }).code ?? 'error'}`);
      return;
    }
    timers.answer = setTimeout(() => {
      done('no answer within 10 s');
      try {
        req.close(http2.constants.NGHTTP2_CANCEL);
      } catch {
        // already closed
      }
    }, 10_000);
    const record = (hs: http2.IncomingHttpHeaders): void => {
      chunks.push(Buffer.from(JSON.stringify(hs)));
      if (hs[':status'] !== undefined) status = String(hs[':status']);
      if (hs['grpc-status'] !== undefined) grpcStatus = String(hs['grpc-status']);
    };
    req.on('response', record);
    req.on('trailers', record);
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('close', () => done(req.rstCode && req.rstCode !== 0 && !status ? `reset ${req.rstCode}` : ''));
    req.on('error', () => undefined);
    req.end(data);
  });
}

function connect(socketPath: string): http2.ClientHttp2Session {
  const session = http2.connect('http://localhost', {
    createConnection: () => net.connect(socketPath),
    maxSendHeaderBlockLength: 16 * 1024 * 1024,
    maxHeaderListPairs: 100_000,
  });
  session.on('error', () => undefined);
  return session;
}

/** Sends malformed HTTP/2 gRPC streams until `budget` is spent. */
export async function fuzzH2(target: FuzzTarget, budget: Budget, r: Rand): Promise<FuzzStats> {
  const stats: FuzzStats = { tried: 0, byKind: {}, outcomes: {}, problems: [] };
  const socketPath = target.injector.slice('unix:'.length);
  let session = connect(socketPath);
  try {
    while (budget.next()) {
      if (session.closed || session.destroyed) session = connect(socketPath);
      const { kind: hKind, h } = headers(r);
      const { kind: bKind, data } = body(r);
      const kind = `${hKind} / ${bKind}`;
      for (const k of [hKind, bKind]) stats.byKind[k] = (stats.byKind[k] ?? 0) + 1;
      if (process.env['H2DBG'])
        console.log('sending', kind, JSON.stringify({ ...h, 'x-big': String(h['x-big'] ?? '').length }), data.length);
      const { outcome, seen } = await stream(session, h, data);
      const key = outcome.replace(/\d{3,}/g, (m) => (m.length > 3 ? 'N' : m));
      stats.outcomes[key] = (stats.outcomes[key] ?? 0) + 1;
      if (findCanary(seen, target.canary).length > 0 && stats.problems.length < 20)
        stats.problems.push(`the canary in an answer to ${kind}`);
    }
  } finally {
    session.destroy();
  }
  stats.tried = budget.tried;
  return stats;
}
