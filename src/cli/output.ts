/**
 * Output formatting in kubectl style: aligned tables, human ages, -o json|yaml|name.
 */
import YAML from 'yaml';
import { CliError } from './client.js';

export type OutputFormat = 'table' | 'json' | 'yaml' | 'name';

/** Parses the -o flag (table by default). Throws a usage CliError for anything else. */
export function outputFormat(
  value: string | undefined,
  allowed: readonly OutputFormat[] = ['table', 'json', 'yaml', 'name'],
): OutputFormat {
  const v = value ?? 'table';
  if (!(allowed as readonly string[]).includes(v))
    throw new CliError(`unknown output format "${v}" (expected ${allowed.join(', ')})`, 2);
  return v as OutputFormat;
}

/** A human age: 45s, 3m, 5h, 2d (kubectl rounds down to the largest unit). */
export function formatAge(from: Date, now: Date = new Date()): string {
  const s = Math.max(0, Math.floor((now.getTime() - from.getTime()) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** Renders rows under headers with columns separated by at least two spaces (no trailing blanks). */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 2)))
      .join('')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** Serialises for -o json / -o yaml. */
export function serialise(value: unknown, format: 'json' | 'yaml'): string {
  return format === 'json' ? JSON.stringify(value, null, 2) + '\n' : YAML.stringify(value);
}

/** A value shown in a table cell: control characters escaped so output cannot forge lines. */
export function cell(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
