/**
 * Pieces of bench/footprint.ts: starting the no-op floor (bench/floor-server.mjs), one call over
 * node:http2 on exact request bytes (to verify answers), h2load over several request bodies at
 * once, and RSS and CPU time read from /proc.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

export const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';

/** A gRPC frame (uncompressed flag, 4-byte length, message) around `message`. */
export function frame(message: Buffer): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

/** VmRSS and VmHWM (peak) of `pid` in MiB, from /proc. */
/**
 * A process's RSS, its peak (VmHWM) and its private part (RssAnon: heap, stacks, malloc). The rest
 * of RSS is file-backed (RssFile: the node binary's and native modules' pages), which every process
 * of the same image on a machine shares through the page cache.
 */
export function rss(pid: number | undefined): { rssMiB: number; peakMiB: number; anonMiB: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1]) / 1024;
  return { rssMiB: kb('VmRSS'), peakMiB: kb('VmHWM'), anonMiB: kb('RssAnon') };
}

/** Starts bench/floor-server.mjs with `nodeFlags` on `socket`; resolves once it listens. */
export function startNoop(nodeFlags: readonly string[], socket: string): Promise<ChildProcess> {
  const script = fileURLToPath(new URL('floor-server.mjs', import.meta.url));
  const child = spawn(process.execPath, [...nodeFlags, script, `unix:${socket}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`no-op server exited with ${code}`)));
    child.stdout?.once('data', () => resolve(child));
  });
}

/** CPU time (user + system) `pid` has used so far, in µs (/proc/PID/stat, USER_HZ 100). */
export function cpuUs(pid: number | undefined): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** SIGTERM, then resolves when `child` has exited (SIGKILL after 5 s). */
export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** One call on `session`; resolves with grpc-status and the response message bytes. */
export function call(session: http2.ClientHttp2Session, body: Buffer): Promise<{ status: string; message: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': CHECK_PATH, 'content-type': 'application/grpc', te: 'trailers' });
    const chunks: Buffer[] = [];
    let status = '';
    req.on('trailers', (t) => (status = String(t['grpc-status'])));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const all = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      resolve({ status, message: all.subarray(5) });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** An HTTP/2 session to `unix:PATH`. */
export function connect(address: string): http2.ClientHttp2Session {
  const path = address.slice('unix:'.length);
  const session = http2.connect('http://localhost', { createConnection: () => net.connect(path) });
  session.on('error', () => undefined);
  return session;
}

/**
 * h2load with one process per frame, all at once (h2load sends one body per run): `n` requests in
 * all, each process -c1 -m`inFlight`. Throws unless every request got HTTP 200. Resolves with the
 * requests/s of the whole (all requests over the wall time of the slowest process).
 */
export async function h2loadMix(address: string, files: readonly string[], n: number, inFlight: number): Promise<number> {
  const per = Math.ceil(n / files.length);
  const started = process.hrtime.bigint();
  const outs = await Promise.all(
    files.map(
      (file) =>
        new Promise<string>((resolve, reject) => {
          const argv = ['-H', 'content-type: application/grpc', '-H', 'te: trailers', '-d', file];
          argv.push('-n', String(per), '-c', '1', '-m', String(inFlight), '-B', address, `http://localhost${CHECK_PATH}`);
          execFile('h2load', argv, { encoding: 'utf8' }, (err, stdout) =>
            err ? reject(new Error(`h2load failed: ${err.message}`)) : resolve(stdout),
          );
        }),
    ),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  for (const out of outs) {
    const codes = /status codes: (\d+) 2xx/.exec(out);
    if (Number(codes?.[1]) !== per) throw new Error(`h2load did not get 200 on every request:\n${out}`);
  }
  return (per * files.length) / seconds;
}
