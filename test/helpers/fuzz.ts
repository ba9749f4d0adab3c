/**
 * Shared pieces of the reliability suites (fuzz, faults, soak): how long and how hard to run
 * (PAI_SOAK=1 for the long runs), a gRPC client that sends raw bytes as messages (so that random
 * and truncated protobuf reaches the injector exactly as given), the gRPC health probe, and the
 * liveness check every fuzz pass ends with.
 */
import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';

/** True under `make soak` (PAI_SOAK=1): long runs and large counts. */
export const SOAK = process.env['PAI_SOAK'] === '1';

/** `short` in `make test`, `long` under PAI_SOAK=1. */
export function scale<T>(short: T, long: T): T {
  return SOAK ? long : short;
}

/**
 * A budget of inputs and seconds: a fuzz loop runs until either is spent, so that a loaded machine
 * shortens the run instead of timing it out. The count actually tried is what the suites report.
 */
export class Budget {
  private readonly deadline: number;
  tried = 0;

  constructor(
    readonly maxInputs: number,
    readonly maxMs: number,
  ) {
    this.deadline = Date.now() + maxMs;
  }

  /** True while inputs and time remain; counts one input each time it returns true. */
  next(): boolean {
    if (this.tried >= this.maxInputs || Date.now() >= this.deadline) return false;
    this.tried++;
    return true;
  }
}

/** Method paths of the injector's services. */
export const METHODS = {
  check: '/envoy.service.auth.v3.Authorization/Check',
  process: '/envoy.service.ext_proc.v3.ExternalProcessor/Process',
  health: '/grpc.health.v1.Health/Check',
} as const;

const identity = (b: Buffer): Buffer => b;

/** What a raw unary call ended with: the response bytes, or the gRPC status code and details. */
export type RawUnaryResult =
  { readonly ok: true; readonly bytes: Buffer } | { readonly ok: false; readonly code: number; readonly details: string };

/** A grpc-js client for `target` (`unix:/path`) that sends and receives raw message bytes. */
export function rawClient(target: string): grpc.Client {
  return new grpc.Client(target, grpc.credentials.createInsecure(), {
    'grpc.max_send_message_length': 64 * 1024 * 1024,
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
  });
}

/** One unary call with `bytes` as the message; never rejects. */
export function rawUnary(
  client: grpc.Client,
  method: string,
  bytes: Buffer,
  options: { deadlineMs?: number; metadata?: grpc.Metadata } = {},
): Promise<RawUnaryResult> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      method,
      identity,
      identity,
      bytes,
      options.metadata ?? new grpc.Metadata(),
      { deadline: Date.now() + (options.deadlineMs ?? 10_000) },
      (err, res) => {
        if (err) resolve({ ok: false, code: err.code, details: err.details });
        else resolve({ ok: true, bytes: res ?? Buffer.alloc(0) });
      },
    );
  });
}

/** What a raw bidi stream produced: every response message, and the final status. */
export interface RawStreamResult {
  readonly messages: Buffer[];
  readonly code: number;
  readonly details: string;
}

/**
 * Opens a bidi stream, writes each of `frames` as one message, half-closes, and collects every
 * response until the stream ends (or `deadlineMs` passes, which the result reports as
 * DEADLINE_EXCEEDED). Never rejects.
 */
export function rawBidi(
  client: grpc.Client,
  method: string,
  frames: readonly Buffer[],
  options: { deadlineMs?: number; end?: boolean } = {},
): Promise<RawStreamResult> {
  return new Promise((resolve) => {
    const call = client.makeBidiStreamRequest(method, identity, identity, new grpc.Metadata(), {
      deadline: Date.now() + (options.deadlineMs ?? 10_000),
    });
    const messages: Buffer[] = [];
    let settled = false;
    const finish = (code: number, details: string): void => {
      if (settled) return;
      settled = true;
      resolve({ messages, code, details });
    };
    call.on('data', (b: Buffer) => messages.push(b));
    call.on('error', (err: grpc.ServiceError) => finish(err.code, err.details));
    call.on('status', (s: grpc.StatusObject) => finish(s.code, s.details));
    for (const f of frames) call.write(f);
    if (options.end !== false) call.end();
  });
}

/** grpc.health.v1 HealthCheckResponse.ServingStatus names by number. */
const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;

/**
 * The health of `service` ('' = the server) by grpc.health.v1.Health/Check, decoded by hand (one
 * enum field): SERVING, NOT_SERVING, …, or `error <code>` when the call failed.
 */
export async function healthStatus(client: grpc.Client, service = '', deadlineMs = 5000): Promise<string> {
  const name = Buffer.from(service, 'utf8');
  const request = name.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a, name.length]), name]);
  const res = await rawUnary(client, METHODS.health, request, { deadlineMs });
  if (!res.ok) return `error ${res.code}`;
  // field 1, varint: 0x08 <status>; an absent field is UNKNOWN (0).
  const status = res.bytes[0] === 0x08 ? (res.bytes[1] ?? 0) : 0;
  return SERVING_STATUS[status] ?? `status ${status}`;
}

/** Resident set size of process `pid` in bytes (VmRSS of /proc/PID/status), undefined off Linux. */
export function rssOf(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] === undefined ? undefined : Number(m[1]) * 1024;
  } catch {
    return undefined;
  }
}

/** `n` bytes as MiB with one decimal. */
export function mib(n: number | undefined): string {
  return n === undefined ? 'n/a' : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** A small deterministic PRNG (mulberry32) for fuzz loops that must be reproducible from a seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Runs `fn(i)` for i = 1, 2, … on `workers` concurrent loops until `budget` is spent. Each input
 * should draw from `prng(inputSeed(seed, i))`, so that input i is the same whatever the interleaving.
 */
export async function parallel(budget: Budget, workers: number, fn: (i: number) => Promise<void>): Promise<void> {
  const loop = async (): Promise<void> => {
    while (budget.next()) await fn(budget.tried);
  };
  await Promise.all(Array.from({ length: workers }, loop));
}

/** The seed of input `i` of a run seeded with `seed`. */
export function inputSeed(seed: number, i: number): number {
  return (Math.imul(seed, 0x9e3779b1) ^ Math.imul(i, 0x85ebca6b)) >>> 0 || 1;
}

/** The seed of a fuzz run: PAI_FUZZ_SEED when set (to replay a failure), else random. */
export function fuzzSeed(): number {
  const given = Number(process.env['PAI_FUZZ_SEED']);
  return Number.isInteger(given) && given > 0 ? given : Math.floor(Math.random() * 2 ** 31) + 1;
}
