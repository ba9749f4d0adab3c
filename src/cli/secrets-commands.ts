/**
 * `pai get secrets`, `pai describe secret`, `pai delete secret`: metadata only, never values.
 */
import type { AdminClient } from './client.js';
import type { CliIo } from './io.js';
import { cell, formatAge, type OutputFormat, serialise, table } from './output.js';

interface SecretItem {
  name: string;
  keys: string[];
  createdAt: string;
  updatedAt: string;
  version: number;
}

interface Reference {
  kind: string;
  name: string;
  via: string;
}

interface SecretDetail extends SecretItem {
  keySizes: Record<string, number>;
  referencedBy: Reference[];
  /** The last use of the secret through any Provider or ModelProvider (servers that count usage). */
  lastUsedAt?: string;
}

const path = (client: AdminClient, name: string): string => client.nsPath(`secrets/${encodeURIComponent(name)}`);

/** `pai get secrets [NAME]`. */
export async function getSecrets(client: AdminClient, name: string | undefined, format: OutputFormat, io: CliIo): Promise<void> {
  const items = name
    ? [(await client.request<SecretDetail>('GET', path(client, name))).body]
    : (await client.request<{ items: SecretItem[] }>('GET', client.nsPath('secrets'))).body.items;
  if (format === 'json' || format === 'yaml') {
    const shaped = items.map((s) => ({
      name: s.name,
      keys: s.keys,
      createdAt: s.createdAt,
      updatedAt: s.updatedAt,
      version: s.version,
    }));
    io.stdout(serialise(name ? shaped[0] : { items: shaped }, format));
    return;
  }
  if (format === 'name') {
    io.stdout(items.map((s) => `secret/${s.name}\n`).join(''));
    return;
  }
  if (items.length === 0) {
    io.stderr('No secrets found.\n');
    return;
  }
  const now = io.now();
  io.stdout(
    table(
      ['NAME', 'KEYS', 'AGE'],
      items.map((s) => [cell(s.name), cell(s.keys.join(', ')), formatAge(new Date(s.createdAt), now)]),
    ),
  );
}

/** Formats a time as RFC 3339 plus its age. */
function when(iso: string, now: Date): string {
  return `${iso} (${formatAge(new Date(iso), now)} ago)`;
}

/** `pai describe secret NAME`. */
export async function describeSecret(client: AdminClient, name: string, io: CliIo): Promise<void> {
  const s = (await client.request<SecretDetail>('GET', path(client, name))).body;
  const now = io.now();
  const keyWidth = Math.max(0, ...s.keys.map((k) => k.length));
  const lines = [
    `Name:     ${cell(s.name)}`,
    `Version:  ${s.version}`,
    `Created:  ${when(s.createdAt, now)}`,
    `Updated:  ${when(s.updatedAt, now)}`,
    'Keys:',
    ...s.keys.map((k) => {
      const size = s.keySizes[k] ?? 0;
      return `  ${cell(k).padEnd(keyWidth)}  ${size} ${size === 1 ? 'byte' : 'bytes'}`;
    }),
    s.referencedBy.length === 0 ? 'Referenced by:  <none>' : 'Referenced by:',
    ...s.referencedBy.map((r) => `  ${r.kind}/${cell(r.name)} (${r.via})`),
    ...(s.lastUsedAt === undefined ? [] : [`Last used: ${when(s.lastUsedAt, now)}`]),
  ];
  io.stdout(lines.join('\n') + '\n');
}

/** `pai delete secret NAME [--force]`. */
export async function deleteSecret(client: AdminClient, name: string, force: boolean, io: CliIo): Promise<void> {
  const res = await client.request<{ broken: Reference[] }>('DELETE', `${path(client, name)}${force ? '?force=true' : ''}`);
  io.stdout(`secret/${name} deleted\n`);
  const broken = res.body.broken;
  if (broken.length > 0) {
    io.stderr(
      `warning: these resources now reference a missing secret and will be denied until it is restored:\n` +
        broken.map((r) => `  ${r.kind}/${cell(r.name)} (${r.via})\n`).join(''),
    );
  }
}
