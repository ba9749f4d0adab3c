/**
 * Runs the real `pai` binary: `pai serve` as a child process on a temp data dir (waiting for its
 * "ready" line, never sleeping), and one-shot CLI commands with captured output.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const PAI_BIN = path.join(ROOT, 'bin/pai.js');

/**
 * The node flags bin/pai.js's sh line (`':' //; case "$PAI_NODE_PROFILE" … esac; exec node FLAGS $F
 * "$0" "$@"`) runs it with: `pai serve` children get them exactly as `./bin/pai.js serve` would,
 * while still running under this test's node. PAI_POD_NODE_FLAGS are what PAI_NODE_PROFILE=pod adds.
 */
const EXEC_LINE = (() => {
  const [shebang, execLine] = fs.readFileSync(PAI_BIN, 'utf8').split('\n', 2);
  const flags = /; exec node((?: --[a-z0-9-]+(?:=\S+)?)*) \$F "\$0" "\$@"$/.exec(execLine ?? '');
  const pod = /^':' \/\/; case "\$\{PAI_NODE_PROFILE-\}" in pod\) F='([^']*)';;/.exec(execLine ?? '');
  if (shebang !== '#!/bin/sh' || !flags || !pod) throw new Error(`unexpected first lines in ${PAI_BIN}: ${shebang}\n${execLine}`);
  const words = (text: string | undefined): string[] => (text ?? '').split(' ').filter(Boolean);
  return { flags: words(flags[1]), pod: words(pod[1]) };
})();
export const PAI_NODE_FLAGS: readonly string[] = EXEC_LINE.flags;
export const PAI_POD_NODE_FLAGS: readonly string[] = EXEC_LINE.pod;

/** A fresh private temp directory (0700) for one test's data. */
export function tempDir(prefix = 'pai-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o700);
  return dir;
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Base environment for child processes: no inherited PAI_* or VAULT_* settings. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('PAI_') && !k.startsWith('VAULT_')) env[k] = v;
  }
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

/**
 * Runs `pai ARGS` to completion: `node bin/pai.js ARGS` under this test's node, or with `asProgram`
 * bin/pai.js itself (the kernel hands it to /bin/sh; `env.PATH` must find node). `onSpawn` sees the
 * child as soon as it exists.
 */
export function runPai(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  input?: string | Buffer,
  options: { asProgram?: boolean; onSpawn?: (child: ChildProcess) => void } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const [command, argv] = options.asProgram ? [PAI_BIN, args] : [process.execPath, [PAI_BIN, ...args]];
    const child = spawn(command, argv, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }),
    );
    // A child may exit without reading its stdin (bin/pai.js refusing PAI_NODE_PROFILE in sh): the
    // write then fails with EPIPE, which is not the test's subject; its code and output are.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
    options.onSpawn?.(child);
  });
}

export interface ServeHandle {
  readonly child: ChildProcess;
  readonly dataDir: string;
  readonly adminUrl: string;
  /** The injector's address from the banner (`unix:PATH` or `HOST:PORT`); throws, quoting the banner, when it has none. */
  injectorAddress(): string;
  /** The `ready` banner and everything printed after it. */
  readonly stdout: () => string;
  /** JSON log lines printed so far (stderr). */
  readonly stderr: () => string;
  readonly env: NodeJS.ProcessEnv;
  /** Sends SIGTERM and waits for exit. */
  stop(): Promise<number | null>;
  /** Sends SIGKILL and waits for exit. */
  kill(): Promise<void>;
}

/**
 * Starts `pai serve` with a temp data dir (or the given one) and waits for its "ready" line.
 * Rejects with the process output if it exits first.
 */
export function startServe(
  options: { dataDir?: string; env?: Record<string, string | undefined>; args?: string[]; nodeFlags?: readonly string[] } = {},
): Promise<ServeHandle> {
  const dataDir = options.dataDir ?? path.join(tempDir(), 'data');
  const env = cleanEnv({
    PAI_DATA_DIR: dataDir,
    PAI_ADMIN_LISTEN: '127.0.0.1:0',
    PAI_LOG_LEVEL: 'debug',
    ...options.env,
  });
  const nodeFlags = options.nodeFlags ?? PAI_NODE_FLAGS;
  const child = spawn(process.execPath, [...nodeFlags, PAI_BIN, 'serve', ...(options.args ?? [])], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
      const m = /admin API:\s+(\S+)/.exec(stdout);
      if (/^ready$/m.test(stdout)) {
        resolve({
          child,
          dataDir,
          adminUrl: m?.[1] ?? '',
          injectorAddress: () => {
            const address = /^ {2}injector: +(\S+)$/m.exec(stdout)?.[1];
            if (!address) throw new Error(`no injector address in:\n${stdout}`);
            return address;
          },
          stdout: () => stdout,
          stderr: () => stderr,
          env: cleanEnv({ PAI_DATA_DIR: dataDir }),
          stop: async () => {
            if (child.exitCode === null) child.kill('SIGTERM');
            return exited;
          },
          kill: async () => {
            if (child.exitCode === null) child.kill('SIGKILL');
            await exited;
          },
        });
      }
    });
    void exited.then((code) => reject(new Error(`pai serve exited with ${code} before ready:\n${stdout}\n${stderr}`)));
  });
}

/** Reads the admin token that `pai serve` wrote into the data dir's config file. */
export function adminToken(dataDir: string): string {
  const text = fs.readFileSync(path.join(dataDir, 'config.yaml'), 'utf8');
  const m = /^token: (\S+)$/m.exec(text);
  if (!m?.[1]) throw new Error('no token in config.yaml');
  return m[1];
}

/**
 * Resolves with the server's stderr once it matches `pattern` (checked now and on every chunk
 * written); rejects after `timeoutMs`, or when the process exits first, with the tail of its output.
 */
export function waitForStderr(server: ServeHandle, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  const stream = server.child.stderr;
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer);
      stream?.off('data', onData);
      server.child.off('exit', onExit);
      if (err) reject(err);
      else resolve(server.stderr());
    };
    const onData = (): void => {
      if (pattern.test(server.stderr())) done();
    };
    const onExit = (): void => done(new Error(`pai serve exited before ${pattern}:\n${server.stderr().slice(-2000)}`));
    const timer = setTimeout(
      () => done(new Error(`no ${pattern} within ${timeoutMs} ms:\n${server.stderr().slice(-2000)}`)),
      timeoutMs,
    );
    stream?.on('data', onData);
    server.child.on('exit', onExit);
    onData();
  });
}
