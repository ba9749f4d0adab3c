/**
 * A running `pai serve` as the CLI flows see it (any store): run the real `pai` binary against it,
 * write input files, and take the "nothing changed" snapshot through the admin API. Shared by the
 * local-store CLI suite and the Vault one, so that both run the very same flows.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { api } from './api.js';
import { type CliResult, type ServeHandle, runPai } from './process.js';
import type { Expected } from './secrets.js';

export interface CliTarget {
  /** Temp root of the suite (a data dir below it that holds no config stands for "no server configured"). */
  readonly root: string;
  readonly server: ServeHandle;
  /** The admin token `pai serve` wrote into the server's config file. */
  readonly token: string;
  /** Scratch directory for input files. */
  readonly files: string;
  /** What the CLI wrote, to compare byte for byte at the end. */
  readonly expected: Expected;
  /** When present, every `pai` run is appended here (to compare two stores' transcripts). */
  readonly transcript?: CliStep[];
}

/** One recorded `pai` run. */
export interface CliStep {
  readonly args: readonly string[];
  readonly result: CliResult;
}

/** Runs `pai ARGS` with the server's client environment plus `env`. */
export async function pai(
  target: CliTarget,
  args: readonly string[],
  input?: string | Buffer,
  env: Record<string, string> = {},
): Promise<CliResult> {
  const result = await runPai(args, { ...target.server.env, ...env }, input);
  target.transcript?.push({ args, result });
  return result;
}

/** Writes a file under the target's files dir; returns its path. */
export function file(target: CliTarget, name: string, content: string | Buffer): string {
  const p = path.join(target.files, name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, content);
  return p;
}

/** Names, versions and key sizes of every secret, through the API: the "nothing changed" witness. */
export async function snapshot(target: CliTarget): Promise<unknown> {
  const { server } = target;
  const list = await api(server.adminUrl, target.token, 'GET', '/v1/secrets').catch((err: unknown) => {
    throw new Error(`the server cannot be reached (exit ${server.child.exitCode}):\n${server.stderr().slice(-2000)}`, {
      cause: err,
    });
  });
  return list.json.items;
}

/** Exit 0, nothing on stderr, and stdout equal to (or matching) `stdout`. */
export function assertOk(t: ExecutionContext, r: CliResult, stdout: string | RegExp): void {
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr, '');
  if (typeof stdout === 'string') t.is(r.stdout, stdout);
  else t.regex(r.stdout, stdout);
}

/** Creates the secret `existing` (k=original) through the API, as the flows expect. */
export async function createExisting(target: CliTarget): Promise<void> {
  const res = await api(target.server.adminUrl, target.token, 'POST', '/v1/secrets', {
    name: 'existing',
    data: { k: 'original' },
  });
  if (res.status !== 201) throw new Error(`setup failed: ${res.text}`);
  target.expected.set('existing', new Map([['k', Buffer.from('original')]]));
}
