/**
 * The injector fuzz passes: random, truncated, mutated and structurally odd CheckRequest and
 * ProcessingRequest bytes sent as raw gRPC messages (fuzz.ts rawUnary / rawBidi), each answer judged
 * by an oracle written independently of the injector's matcher:
 *
 * - A credential (the http canary, the telegram token) may appear in an answer only when the request
 *   names agent fuzz-bot and every authority it carries is, ignoring case, one trailing dot and a
 *   port, the credential's host; and only in an OK (Check) or a CONTINUE mutation (Process), never
 *   in a denial or a gRPC status.
 * - A request the oracle matches is never let through without its credential (an OK Check or a
 *   CONTINUE headers answer with no credential in it).
 * - Bytes that do not decode are denied or answered with a gRPC error (Envoy's filter, configured
 *   failure_mode_allow: false, turns that into a denial).
 */
import { findCanary } from './canary.js';
import type { FuzzTarget } from './fuzz-target.js';
import { FUZZ_AGENT, FUZZ_HOST } from './fuzz-target.js';
import { type Budget, METHODS, inputSeed, parallel, prng, rawBidi, rawUnary } from './fuzz.js';
import { headersMessage } from './ext-proc-filter.js';
import { agentFromAttributes } from '../../src/injector/ext-proc-identity.js';
import { loadEnvoyServices } from '../../src/injector/protos.js';
import type { CheckRequest, CheckRequest__Output } from '../../src/generated/envoy/service/auth/v3/CheckRequest.js';
import type { ProcessingRequest__Output } from '../../src/generated/envoy/service/ext_proc/v3/ProcessingRequest.js';

const TELEGRAM_HOST = 'api.telegram.org';

type Rand = () => number;

const int = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
function pick<T>(r: Rand, items: readonly T[]): T {
  return items[Math.floor(r() * items.length)] as T;
}
const bytes = (r: Rand, n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
function text(r: Rand, max: number, alphabet = 'abcdefghijklmnopqrstuvwxyzAB.-_:@[]%/ \t\r\n\0é😀'): string {
  const chars = [...alphabet];
  return Array.from({ length: int(r, 0, max) }, () => pick(r, chars)).join('');
}

const AUTHORITIES = [
  FUZZ_HOST,
  'API.Fuzz.Example',
  `${FUZZ_HOST}.`,
  `${FUZZ_HOST}:443`,
  `${FUZZ_HOST}:80`,
  `${FUZZ_HOST}:8443`,
  `${FUZZ_HOST}:`,
  `${FUZZ_HOST}:0`,
  `${FUZZ_HOST}..`,
  `${FUZZ_HOST}.evil.net`,
  `evil.${FUZZ_HOST}`,
  `x${FUZZ_HOST}`,
  `user@${FUZZ_HOST}`,
  `${FUZZ_HOST}%00`,
  `${FUZZ_HOST} `,
  TELEGRAM_HOST,
  'other.example',
  '',
  '[::1]:443',
  '10.0.0.1',
  'localhost',
];
const AGENTS = [FUZZ_AGENT, FUZZ_AGENT, 'env-bot', 'nobody', '', 'FUZZ-BOT', `${FUZZ_AGENT} `, '../fuzz-bot'];
const PATHS = ['/', '/repos', '/bot/getMe', '/file/bot/a.txt', '/bot123:abc/getMe', '/x?key=1', '', '*', '/../..', '/%2e%2e/'];

function headerList(r: Rand): [string, string][] {
  const out: [string, string][] = [];
  for (let i = int(r, 0, 6); i > 0; i--) {
    const name = pick(r, [
      'authorization',
      'host',
      ':authority',
      'Host',
      'x-api-key',
      'x-pai-agent',
      'x-envoy-original-path',
      'cookie',
      text(r, 12),
    ]);
    out.push([name, pick(r, [text(r, 30), AUTHORITIES[int(r, 0, AUTHORITIES.length - 1)] ?? '', 'Bearer agent-own'])]);
  }
  return out;
}

/** A CheckRequest as Envoy would build it, with fields drawn from lists of near-misses. */
function plausibleCheck(r: Rand): CheckRequest {
  const authority = pick(r, AUTHORITIES);
  const headers: Record<string, string> = {};
  if (r() < 0.8) headers[':authority'] = authority;
  for (const [k, v] of headerList(r)) headers[k] = v;
  const agent = pick(r, AGENTS);
  const ext: Record<string, string> = r() < 0.9 ? { 'pai.agent': agent } : {};
  if (r() < 0.1) ext['pai.mode'] = pick(r, ['gateway', 'sidecar', '']);
  if (r() < 0.05) ext['pai.modelprovider'] = text(r, 10);
  const http: Record<string, unknown> = {
    id: String(int(r, 0, 1e9)),
    method: pick(r, ['GET', 'POST', '', 'CONNECT']),
    path: pick(r, PATHS),
    host: r() < 0.7 ? authority : pick(r, AUTHORITIES),
    scheme: pick(r, ['http', 'https', '', 'ftp']),
  };
  if (r() < 0.2) {
    http['header_map'] = { headers: headerList(r).map(([key, v]) => ({ key, raw_value: Buffer.from(v, 'latin1') })) };
  } else http['headers'] = headers;
  return { attributes: r() < 0.95 ? { request: r() < 0.95 ? { http } : {}, context_extensions: ext } : {} };
}

/** A CheckRequest with many or oversized headers. */
function heavyCheck(r: Rand): CheckRequest {
  const headers: Record<string, string> = { ':authority': FUZZ_HOST };
  if (r() < 0.5) {
    for (let i = int(r, 500, 20_000); i > 0; i--) headers[`x-h${i}`] = 'v';
  } else {
    headers['x-big'] = 'a'.repeat(int(r, 64 * 1024, 4 * 1024 * 1024));
  }
  return {
    attributes: {
      request: { http: { host: FUZZ_HOST, path: '/', method: 'GET', headers } },
      context_extensions: { 'pai.agent': FUZZ_AGENT },
    },
  };
}

/** Flips, inserts and deletes a few bytes. */
function mutate(r: Rand, input: Buffer): Buffer {
  let b = Buffer.from(input);
  for (let k = int(r, 1, 8); k > 0; k--) {
    const at = int(r, 0, Math.max(0, b.length - 1));
    const op = int(r, 0, 2);
    if (op === 0 && b.length > 0) b[at] = int(r, 0, 255);
    else if (op === 1) b = Buffer.concat([b.subarray(0, at), bytes(r, int(r, 1, 4)), b.subarray(at)]);
    else b = Buffer.concat([b.subarray(0, at), b.subarray(at + int(r, 1, 4))]);
  }
  return b;
}

/** One fuzz input of the given kind (so that every kind is represented in the counts). */
type InputKind = 'random' | 'truncated' | 'mutated' | 'plausible' | 'heavy';
function inputKind(r: Rand): InputKind {
  const x = r();
  if (x < 0.2) return 'random';
  if (x < 0.4) return 'truncated';
  if (x < 0.6) return 'mutated';
  if (x < 0.99) return 'plausible';
  return 'heavy';
}

/** A host with case, one trailing dot and a port ignored; undefined when nothing is left. */
function loose(authority: string): string {
  return authority.toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
}

/** Every authority a CheckRequest carries: `:authority`/`host` entries of its headers (any case), and http.host. */
function checkAuthorities(req: CheckRequest__Output): string[] {
  const http = req.attributes?.request?.http;
  if (!http) return [];
  const raw = http.header_map?.headers ?? [];
  const pairs: [string, string][] =
    raw.length > 0
      ? raw.map((h) => [
          h.key ?? '',
          h.raw_value && h.raw_value.length > 0 ? Buffer.from(h.raw_value).toString('latin1') : (h.value ?? ''),
        ])
      : Object.entries(http.headers ?? {});
  const found = pairs.filter(([n]) => n.toLowerCase() === ':authority' || n.toLowerCase() === 'host').map(([, v]) => v);
  // Envoy always sets http.host; the injector adds it (when not empty) only if no header is named
  // exactly :authority or host, and reads header names in any case (a "Host" key counts).
  const exact = pairs.some(([n]) => n === ':authority' || n === 'host');
  return exact || !http.host ? found : [...found, http.host];
}

/** The one host all `authorities` loosely name, or undefined. */
function soleHost(authorities: readonly string[]): string | undefined {
  const hosts = new Set(authorities.map(loose));
  return hosts.size === 1 ? [...hosts][0] : undefined;
}

export interface FuzzStats {
  tried: number;
  readonly byKind: Record<string, number>;
  readonly outcomes: Record<string, number>;
  readonly problems: string[];
}

function newStats(): FuzzStats {
  return { tried: 0, byKind: {}, outcomes: {}, problems: [] };
}

function count(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

function note(stats: FuzzStats, problem: string, input: Buffer): void {
  if (stats.problems.length < 20) stats.problems.push(`${problem} (input ${input.subarray(0, 200).toString('base64')})`);
}

/** The credentials found in `haystack`: 'http', 'telegram' or both. */
function credentialsIn(target: FuzzTarget, haystack: Buffer | string): string[] {
  const found: string[] = [];
  if (findCanary(haystack, target.canary).length > 0) found.push('http');
  if (findCanary(haystack, target.telegram).length > 0) found.push('telegram');
  return found;
}

const HOST_OF: Record<string, string> = { http: FUZZ_HOST, telegram: TELEGRAM_HOST };

/**
 * Sends Check inputs on `workers` concurrent loops until `budget` is spent; input i is drawn from
 * prng(inputSeed(seed, i)). Returns the counts and every violation of the oracle.
 */
export async function fuzzCheck(target: FuzzTarget, budget: Budget, seed: number, workers = 4): Promise<FuzzStats> {
  const def = loadEnvoyServices().auth.envoy.service.auth.v3.Authorization.service.Check;
  const stats = newStats();
  await parallel(budget, workers, async (i) => {
    const r = prng(inputSeed(seed, i));
    const kind = inputKind(r);
    count(stats.byKind, kind);
    const seedRequest = def.requestSerialize(plausibleCheck(r));
    const input =
      kind === 'random'
        ? bytes(r, r() < 0.1 ? int(r, 0, 8192) : int(r, 0, 256))
        : kind === 'truncated'
          ? seedRequest.subarray(0, int(r, 0, seedRequest.length))
          : kind === 'mutated'
            ? mutate(r, seedRequest)
            : kind === 'heavy'
              ? def.requestSerialize(heavyCheck(r))
              : seedRequest;
    const res = await rawUnary(target.client, METHODS.check, input);
    let decoded: CheckRequest__Output | undefined;
    try {
      decoded = def.requestDeserialize(input);
    } catch {
      decoded = undefined;
    }
    if (!res.ok) {
      count(stats.outcomes, `grpc ${res.code}`);
      if (credentialsIn(target, res.details).length > 0) note(stats, `input ${i}: a credential in a gRPC status`, input);
      return;
    }
    let answer;
    try {
      answer = def.responseDeserialize(res.bytes);
    } catch {
      note(stats, `input ${i}: an answer that is not a CheckResponse`, input);
      return;
    }
    const found = credentialsIn(target, res.bytes);
    if ((answer.status?.code ?? 0) !== 0) {
      count(stats.outcomes, `deny ${answer.status?.message ?? '?'}`);
      if (found.length > 0) note(stats, `input ${i}: a credential (${found.join(', ')}) in a denial`, input);
      return;
    }
    const ext = decoded?.attributes?.context_extensions ?? {};
    const sidecar = !ext['pai.mode'] && ext['pai.agent'] === FUZZ_AGENT;
    const host = decoded && sidecar ? soleHost(checkAuthorities(decoded)) : undefined;
    count(stats.outcomes, found.length > 0 ? 'inject' : 'pass');
    for (const credential of found) {
      // Check cannot rewrite a path, so a telegram credential never belongs in a Check answer.
      if (credential !== 'http' || host !== FUZZ_HOST)
        note(stats, `input ${i}: credential ${credential} for a request the oracle does not match`, input);
    }
    if (found.length === 0 && host === FUZZ_HOST)
      note(stats, `input ${i}: a request for the provider host passed without its credential`, input);
  });
  stats.tried = budget.tried;
  return stats;
}

/** A request_headers ProcessingRequest, plausible or near-miss. */
function plausibleProcess(r: Rand): Buffer {
  const def = loadEnvoyServices().extProc.envoy.service.ext_proc.v3.ExternalProcessor.service.Process;
  const authority = pick(r, AUTHORITIES);
  const headers = headerList(r).filter(([n]) => !n.startsWith(':'));
  const msg = headersMessage({
    authority,
    path: pick(r, PATHS),
    method: pick(r, ['GET', 'POST', '']),
    headers,
    agent: r() < 0.9 ? pick(r, AGENTS) : undefined,
    identity: pick(r, ['both', 'direct', 'text', 'none'] as const),
    endOfStream: r() < 0.8,
  });
  if (r() < 0.1) msg.attributes = { 'envoy.filters.http.ext_proc': { fields: { [text(r, 20)]: { stringValue: text(r, 40) } } } };
  return def.requestSerialize(msg);
}

function followUp(r: Rand): Buffer {
  const def = loadEnvoyServices().extProc.envoy.service.ext_proc.v3.ExternalProcessor.service.Process;
  const x = r();
  if (x < 0.3) return bytes(r, int(r, 0, 128));
  if (x < 0.5) return def.requestSerialize({ request_body: { body: bytes(r, int(r, 0, 1024)), end_of_stream: r() < 0.5 } });
  if (x < 0.6) return def.requestSerialize({ request_trailers: {} });
  if (x < 0.7) return def.requestSerialize({ response_headers: {} });
  if (x < 0.8) return def.requestSerialize({});
  return plausibleProcess(r);
}

/** Sends Process streams (one input = one stream of 1–4 frames) on `workers` loops until `budget` is spent. */
export async function fuzzProcess(target: FuzzTarget, budget: Budget, seed: number, workers = 8): Promise<FuzzStats> {
  const def = loadEnvoyServices().extProc.envoy.service.ext_proc.v3.ExternalProcessor.service.Process;
  const stats = newStats();
  await parallel(budget, workers, async (i) => {
    const r = prng(inputSeed(seed, i));
    const kind = inputKind(r);
    count(stats.byKind, kind);
    const first = plausibleProcess(r);
    const head =
      kind === 'random'
        ? bytes(r, int(r, 0, 512))
        : kind === 'truncated'
          ? first.subarray(0, int(r, 0, first.length))
          : kind === 'mutated'
            ? mutate(r, first)
            : first;
    const frames = [head, ...Array.from({ length: int(r, 0, 3) }, () => followUp(r))];
    // A stream Envoy does not half-close stays open (the injector waits for more): keep those rare and short.
    const end = r() < 0.95;
    const res = await rawBidi(target.client, METHODS.process, frames, { end, deadlineMs: end ? 5000 : 1000 });
    count(stats.outcomes, `status ${res.code}`);
    if (end && res.code === 4) {
      // Known grpc-js 1.14 behaviour (docs/RELIABILITY.md): when a message after one the injector
      // already answered fails to decode, grpc-js ends the call, the injector's next answer is a
      // write after end, and the trailers are never sent; the peer's deadline (Envoy's
      // message_timeout) resets the stream, which fails closed. Any other stall is a problem.
      const undecodableLater = frames.slice(1).some((f) => {
        try {
          def.requestDeserialize(f);
          return false;
        } catch {
          return true;
        }
      });
      if (undecodableLater && res.messages.length > 0) count(stats.outcomes, 'stalled after an undecodable frame (grpc-js)');
      else if (stats.problems.length < 20) {
        stats.problems.push(
          `a half-closed stream did not end within 5 s (frames ${frames.map((f) => f.toString('base64')).join(' ')})`,
        );
      }
    }
    if (credentialsIn(target, res.details).length > 0) note(stats, 'a credential in a gRPC status', head);
    let decoded: ProcessingRequest__Output | undefined;
    try {
      decoded = def.requestDeserialize(head);
    } catch {
      decoded = undefined;
    }
    const pairs = (decoded?.request_headers?.headers?.headers ?? []).map((h): [string, string] => [
      (h.key ?? '').toLowerCase(),
      h.raw_value && h.raw_value.length > 0 ? Buffer.from(h.raw_value).toString('latin1') : (h.value ?? ''),
    ]);
    const authorities = pairs.filter(([n]) => n === ':authority' || n === 'host').map(([, v]) => v);
    const identified = decoded?.request === 'request_headers' && agentFromAttributes(decoded.attributes)?.name === FUZZ_AGENT;
    const host = identified && authorities.length > 0 ? soleHost(authorities) : undefined;
    let continuedWithout = false;
    let credentialed = false;
    for (const msg of res.messages) {
      let answer;
      try {
        answer = def.responseDeserialize(msg);
      } catch {
        note(stats, 'an answer that is not a ProcessingResponse', head);
        continue;
      }
      const found = credentialsIn(target, msg);
      if (answer.response === 'immediate_response') {
        count(stats.outcomes, 'immediate');
        if (found.length > 0) note(stats, `a credential (${found.join(', ')}) in an ImmediateResponse`, head);
        continue;
      }
      for (const credential of found) {
        credentialed = true;
        if (HOST_OF[credential] !== host) note(stats, `credential ${credential} for a stream the oracle does not match`, head);
      }
      if (answer.response === 'request_headers' && found.length === 0 && answer.mode_override === undefined)
        continuedWithout = true;
    }
    if (continuedWithout && !credentialed && (host === FUZZ_HOST || host === TELEGRAM_HOST)) {
      note(stats, `input ${i}: a stream for ${host} continued without its credential`, head);
    }
  });
  stats.tried = budget.tried;
  return stats;
}

/** A one-line summary of `stats` for t.log and docs/RELIABILITY.md. */
export function summary(name: string, stats: FuzzStats): string {
  const kinds = Object.entries(stats.byKind)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const outcomes = Object.entries(stats.outcomes)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k}: ${n}`)
    .join(', ');
  return `${name}: ${stats.tried} inputs (${kinds}); outcomes ${outcomes}; ${stats.problems.length} problems`;
}

export type { CheckRequest };
