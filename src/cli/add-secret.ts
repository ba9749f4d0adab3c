/**
 * `pai add secret NAME --from-literal K=V … --from-file [K=]PATH … --from-env-file PATH … [--overwrite]`
 * Values are sent as base64 (binaryData) so that any byte string arrives intact.
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

/** Collects the secret's data from every source, in order; throws CliError on bad input. */
export async function collectData(options: AddSecretOptions, io: CliIo): Promise<Map<string, Buffer>> {
  const data = new Map<string, Buffer>();
  let stdinUsed = false;
  const stdinOnce = async (flag: string): Promise<Buffer> => {
    if (stdinUsed) throw new CliError(`standard input can be read only once (${flag})`, 2);
    stdinUsed = true;
    return io.readStdin();
  };
  for (const literal of options.fromLiteral) {
    const eq = literal.indexOf('=');
    if (eq < 0)
      throw new CliError('--from-literal expects KEY=VALUE, got an argument without "=" (not shown: it may be a value)', 2);
    if (eq === 0) throw new CliError('--from-literal expects KEY=VALUE, the key is empty', 2);
    addKey(data, literal.slice(0, eq), Buffer.from(literal.slice(eq + 1), 'utf8'), '--from-literal');
  }
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
    await client.request('POST', '/v1/secrets', { name, binaryData });
    io.stdout(`secret/${name} created\n`);
  } catch (err) {
    if (!(err instanceof CliError) || err.apiCode !== 'already_exists') throw err;
    if (!options.overwrite)
      throw new CliError(`secret ${JSON.stringify(name)} already exists; add --overwrite to replace its keys`);
    await client.request('PUT', `/v1/secrets/${encodeURIComponent(name)}`, { binaryData });
    io.stdout(`secret/${name} configured\n`);
  }
}
