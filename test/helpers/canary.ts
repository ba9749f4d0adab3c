/**
 * The canary: a secret value that must never be observable anywhere but the one audited path
 * (env rendering). Suites write it through every input path and search every output for it in
 * plain, base64, base64url, hex and URL-encoded forms.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ExecutionContext } from 'ava';

/** A fresh canary value, unlikely to occur by chance, safe in a header (no CR/LF/NUL). */
export function makeCanary(label = 'canary'): string {
  return `PAI-${label}-${randomBytes(12).toString('hex')}`;
}

/** Every encoding of `value` a leak might take. */
export function canaryForms(value: string): string[] {
  const buf = Buffer.from(value, 'utf8');
  const forms = new Set([
    value,
    buf.toString('base64'),
    buf.toString('base64').replace(/=+$/, ''),
    buf.toString('base64url'),
    buf.toString('hex'),
    buf.toString('hex').toUpperCase(),
    encodeURIComponent(value),
    JSON.stringify(value).slice(1, -1),
  ]);
  // A value embedded at an odd offset in a base64 stream still shows its middle: search for the
  // base64 of the canary's inner part at each of the three alignments.
  for (let shift = 0; shift < 3; shift++) {
    const inner = buf.subarray(shift, buf.length - ((buf.length - shift) % 3));
    if (inner.length >= 12) forms.add(inner.toString('base64'));
  }
  return [...forms];
}

/** Returns the forms of `value` found in `haystack` (empty when none leaked). */
export function findCanary(haystack: string | Buffer, value: string): string[] {
  const text = typeof haystack === 'string' ? haystack : haystack.toString('latin1');
  return canaryForms(value).filter((form) => text.includes(form));
}

/** Asserts that none of the named `canaries` occurs in `text`, in any encoding; failures name canary and form. */
export function assertNoCanaries(
  t: ExecutionContext,
  canaries: Readonly<Record<string, string>>,
  text: string | Buffer,
  where: string,
): void {
  const leaks = Object.entries(canaries).flatMap(([name, value]) => findCanary(text, value).map((form) => `${name} as ${form}`));
  t.deepEqual(leaks, [], `no canary in ${where}`);
}

/** The regular files directly in `dir` (a data directory: database, WAL, keys, logs). */
export const filesIn = (dir: string): string[] => fs.readdirSync(dir).filter((f) => fs.statSync(path.join(dir, f)).isFile());
