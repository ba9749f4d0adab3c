/**
 * `pai add secret NAME --from-literal K[=V] … --from-file [K=]PATH … --from-env-file PATH|- … [--overwrite]`
 * Values are sent as base64 (binaryData) so that any byte string arrives intact. Only
 * `--from-literal K=V` puts a value in argv; `--from-literal K` asks for it (no echo) on a terminal
 * or reads one line of stdin, and files and stdin never touch argv (issue 16, item 2).
 */
import fs from 'node:fs';
import path from 'node:path';
import { keyProblem, nameProblem } from '../resources/names.js';
import { type AdminClient, CliError } from './client.js';
import type { CliIo } from './io.js';

export interface AddSecretOptions {
  readonly fromLiteral: readonly string[];
  readonly fromFile: readonly string[];
  readonly fromEnvFile: readonly string[];
  readonly overwrite: boolean;
}

function addKey(data: Map<string, Buffer>, key: string, value: Buffer, source: string): void {
  const problem = keyProblem(key);
  if (problem) throw new CliError(`invalid key ${JSON.stringify(key)} from ${source}: ${problem}`);
  if (data.has(key)) throw new CliError(`key ${JSON.stringify(key)} is given more than once (again in ${source})`, 2);
  data.set(key, value);
}

function readFileValue(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new CliError(`cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code}`);
  }
}

/** One KEY=VALUE line of an env file, with its line number (for messages that must not quote it). */
export interface EnvFileEntry {
  readonly key: string;
  readonly value: Buffer;
  readonly line: number;
}

// Said by every env-file error: a line that does not parse may be (part of) a value, e.g. a
// continuation line of a PEM or a value whose `=` was taken for the separator.
const LINE_NOT_SHOWN = 'the line is not shown: it may hold a value';

/**
 * Parses an env file: KEY=VALUE lines, `#` comments and blank lines skipped, values taken literally.
 * Throws CliError naming `source` and the line number only, never the line or any part of it.
 */
export function parseEnvFile(text: string, source: string): EnvFileEntry[] {
  const out: EnvFileEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').replace(/\r$/, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new CliError(`${source}:${i + 1}: expected KEY=VALUE (${LINE_NOT_SHOWN})`, 2);
    const key = line.slice(0, eq).trim();
    const problem = keyProblem(key);
    if (problem) throw new CliError(`${source}:${i + 1}: invalid key: it ${problem} (${LINE_NOT_SHOWN})`);
    out.push({ key, value: Buffer.from(line.slice(eq + 1), 'utf8'), line: i + 1 });
  }
  return out;
}

/**
 * Printed once on stderr when a value came from the command line while a person is watching (stdout
 * or stderr is a terminal): argv is readable by every local user and shell history keeps it.
 */
export const ARGV_VALUE_WARNING =
  'warning: --from-literal KEY=VALUE puts the value on the command line, where every local user can read it ' +
  '(ps, /proc/PID/cmdline) and your shell may keep it in its history; give --from-literal KEY alone ' +
  '(a prompt without echo, or one line of standard input), --from-file KEY=PATH or --from-env-file - instead\n';

interface Literal {
  readonly key: string;
  /** Undefined: `--from-literal KEY`, the value comes from the prompt or stdin. */
  readonly value: Buffer | undefined;
}

function parseLiteral(literal: string): Literal {
  const eq = literal.indexOf('=');
  if (eq === 0) throw new CliError('--from-literal expects KEY or KEY=VALUE, the key is empty', 2);
  const key = eq < 0 ? literal : literal.slice(0, eq);
  if (eq < 0) {
    // A bare argument may be a value pasted without its key: it is not echoed back.
    const problem = keyProblem(key);
    if (problem) throw new CliError(`--from-literal KEY: the key (not shown: it may be a value) ${problem}`, 2);
  }
  return { key, value: eq < 0 ? undefined : Buffer.from(literal.slice(eq + 1), 'utf8') };
}

/**
 * The values of `keys` from a non-terminal stdin: one line each, in order ("\n" or "\r\n" ends a
 * line; a value with line breaks needs --from-file KEY=-). Throws CliError (usage) when the
 * number of lines differs.
 */
export function stdinLines(input: Buffer, keys: readonly string[]): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  while (start < input.length) {
    const nl = input.indexOf(0x0a, start);
    const end = nl === -1 ? input.length : nl;
    lines.push(input.subarray(start, end > start && input[end - 1] === 0x0d ? end - 1 : end));
    start = end + 1;
  }
  if (lines.length < keys.length) {
    // Counted, not named: a bare argument may be a value pasted without its key.
    throw new CliError(
      `standard input has ${lines.length} line(s), but ${keys.length} --from-literal KEY option(s) need one each ` +
        `(none for the ${ordinal(lines.length + 1)}); no secret was written`,
      2,
    );
  }
  if (lines.length > keys.length) {
    throw new CliError(
      `standard input has ${lines.length} lines, more than the ${keys.length} --from-literal KEY option(s) it feeds; ` +
        'a value with line breaks needs --from-file KEY=- or --from-file KEY=PATH',
      2,
    );
  }
  return lines;
}

function ordinal(n: number): string {
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${suffix}`;
}

/** The values of the bare `--from-literal KEY`s: prompted for on a terminal, else read from stdin. */
async function bareValues(keys: readonly string[], io: CliIo): Promise<Buffer[]> {
  if (keys.length === 0) return [];
  if (io.terminal?.stdin && io.promptHidden) {
    const answers = await io.promptHidden(keys.map((k) => `Value of ${k} (input hidden): `));
    return answers.map((a) => Buffer.from(a, 'utf8'));
  }
  return stdinLines(await io.readStdin(), keys);
}

/**
 * Collects the secret's data from every source, in order; throws CliError on bad input. Standard
 * input feeds either the bare `--from-literal KEY`s (one line each) or one "-" source, not both.
 */
export async function collectData(options: AddSecretOptions, io: CliIo): Promise<Map<string, Buffer>> {
  const data = new Map<string, Buffer>();
  const literals = options.fromLiteral.map(parseLiteral);
  const bare = literals.filter((l) => l.value === undefined).map((l) => l.key);
  const dashes =
    options.fromFile.filter((f) => f === '-' || f.endsWith('=-')).length + options.fromEnvFile.filter((f) => f === '-').length;
  if (bare.length > 0 && dashes > 0) {
    throw new CliError('standard input can feed either the values of --from-literal KEY or one "-" source, not both', 2);
  }
  if (literals.some((l) => l.value !== undefined) && (io.terminal?.stdout || io.terminal?.stderr)) io.stderr(ARGV_VALUE_WARNING);
  // Keys are checked before anyone is asked for a value.
  const seen = new Set<string>();
  for (const l of literals) {
    const problem = keyProblem(l.key);
    if (problem) throw new CliError(`invalid key ${JSON.stringify(l.key)} from --from-literal: ${problem}`);
    if (seen.has(l.key)) {
      const which = l.value === undefined ? 'a key (not shown: it may be a value)' : `key ${JSON.stringify(l.key)}`;
      throw new CliError(`${which} is given more than once (again in --from-literal)`, 2);
    }
    seen.add(l.key);
  }
  const answers = await bareValues(bare, io);
  let next = 0;
  for (const l of literals) addKey(data, l.key, l.value ?? answers[next++] ?? Buffer.alloc(0), '--from-literal');
  let stdinUsed = false;
  const stdinOnce = async (flag: string): Promise<Buffer> => {
    if (stdinUsed) throw new CliError(`standard input can be read only once (${flag})`, 2);
    stdinUsed = true;
    return io.readStdin();
  };
  for (const spec of options.fromFile) {
    const eq = spec.indexOf('=');
    const key = eq >= 0 ? spec.slice(0, eq) : path.basename(spec);
    const file = eq >= 0 ? spec.slice(eq + 1) : spec;
    if (file === '') throw new CliError(`--from-file ${spec}: the path is empty`, 2);
    if (file === '-' && eq < 0) throw new CliError('--from-file - needs a key: --from-file KEY=-', 2);
    const value = file === '-' ? await stdinOnce('--from-file') : readFileValue(file);
    addKey(data, key, value, `--from-file ${file}`);
  }
  for (const file of options.fromEnvFile) {
    const text = file === '-' ? (await stdinOnce('--from-env-file')).toString('utf8') : readFileValue(file).toString('utf8');
    for (const { key, value, line } of parseEnvFile(text, file)) {
      if (data.has(key)) {
        throw new CliError(`${file}:${line}: the key of this line is given more than once (${LINE_NOT_SHOWN})`, 2);
      }
      data.set(key, value);
    }
  }
  return data;
}

/** Runs `pai add secret`. */
export async function addSecret(client: AdminClient, name: string, options: AddSecretOptions, io: CliIo): Promise<void> {
  const problem = nameProblem(name);
  if (problem) throw new CliError(`invalid secret name ${JSON.stringify(name.slice(0, 80))}: ${problem}`);
  const data = await collectData(options, io);
  if (data.size === 0)
    throw new CliError('a secret needs at least one key: give --from-literal, --from-file or --from-env-file', 2);
  const binaryData = Object.fromEntries([...data].map(([k, v]) => [k, v.toString('base64')]));
  try {
    await client.request('POST', client.nsPath('secrets'), { name, binaryData });
    io.stdout(`secret/${name} created\n`);
  } catch (err) {
    if (!(err instanceof CliError) || err.apiCode !== 'already_exists') throw err;
    if (!options.overwrite)
      throw new CliError(`secret ${JSON.stringify(name)} already exists; add --overwrite to replace its keys`);
    await client.request('PUT', client.nsPath(`secrets/${encodeURIComponent(name)}`), { binaryData });
    io.stdout(`secret/${name} configured\n`);
  }
}
