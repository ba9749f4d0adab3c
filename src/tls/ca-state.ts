/**
 * The stored state of the pai CA and its rotation. Pure apart from key generation (createCa): time
 * is passed in. The state lives in the store as one encrypted secret (encodeStoredCa /
 * decodeStoredCa give its bytes); its private keys are wrapped in SecretPem everywhere else.
 *
 * Entries, by state:
 * - `active`: exactly one, with its key. Signs every new leaf.
 * - `next`: at most one, with its key. Trusted in bundles but not yet signing: `prepareCa` adds it
 *   so that agent bundles can be re-rendered before `rotateCa` switches signing to it. Rotating
 *   without preparing switches at once; agent containers whose bundle predates the rotation then
 *   refuse the new leaves until they get a new bundle.
 * - `retired`: the previous active CA, certificate only (its key is dropped at rotation: nothing
 *   signs with it again), trusted in bundles until `trustedUntil` so that leaves it signed before
 *   the switch, still held by sidecars, keep verifying. After a compromise rotate with overlap 0.
 */
import { X509Certificate } from 'node:crypto';
import { PaiError } from '../errors.js';
import { type NewCa, createCa } from './ca.js';
import { SecretPem } from './secret-pem.js';

export type CaEntryState = 'active' | 'next' | 'retired';

export interface StoredCaEntry {
  readonly state: CaEntryState;
  readonly certPem: string;
  /** Present for `active` and `next`, absent for `retired`. */
  readonly key?: SecretPem;
  /** `retired` only: ISO 8601 time after which bundles no longer include it. */
  readonly trustedUntil?: string;
}

export interface StoredCa {
  readonly entries: readonly StoredCaEntry[];
}

/** How rotations are done: the new CA's validity, the skew allowance, the old CA's overlap. */
export interface CaPolicy {
  readonly validityMs?: number;
  readonly skewMs?: number;
  /** How long a replaced CA stays in bundles (default 7 days; 0 after a compromise). */
  readonly overlapMs?: number;
}

export const DEFAULT_OVERLAP_MS = 7 * 86_400_000;
const FORMAT = 'pai-ca/1';

function entryOf(ca: NewCa, state: 'active' | 'next'): StoredCaEntry {
  return { state, certPem: ca.certPem, key: ca.key };
}

/** A fresh state with one new active CA. */
export async function initialCa(now: number, policy: CaPolicy = {}): Promise<StoredCa> {
  return { entries: [entryOf(await createCa(now, policy), 'active')] };
}

/** The active entry. Throws PaiError `integrity` when the state has none (or no key for it). */
export function activeEntry(stored: StoredCa): StoredCaEntry & { readonly key: SecretPem } {
  const active = stored.entries.filter((e) => e.state === 'active');
  const only = active[0];
  if (active.length !== 1 || only?.key === undefined) {
    throw new PaiError('integrity', 'the stored pai CA has no single active CA with a key');
  }
  return { ...only, key: only.key };
}

function notAfter(certPem: string): number {
  return new Date(new X509Certificate(certPem).validTo).getTime();
}

/** Retired entries still inside their overlap and unexpired; everything else unchanged. */
function pruned(entries: readonly StoredCaEntry[], now: number): StoredCaEntry[] {
  return entries.filter((e) => e.state !== 'retired' || (Date.parse(e.trustedUntil ?? '') > now && notAfter(e.certPem) > now));
}

/** Adds a `next` CA (trusted, not yet signing); returns the state unchanged when one is already there. */
export async function prepareCa(stored: StoredCa, now: number, policy: CaPolicy = {}): Promise<StoredCa> {
  activeEntry(stored);
  if (stored.entries.some((e) => e.state === 'next')) return stored;
  return { entries: [...pruned(stored.entries, now), entryOf(await createCa(now, policy), 'next')] };
}

/**
 * Switches signing to a new CA: the prepared `next` one if there is one, else a fresh one. The old
 * active CA becomes `retired` (key dropped), trusted until `now + overlapMs`; expired retired
 * entries are removed. Throws PaiError `integrity` when the state has no active CA.
 */
export async function rotateCa(stored: StoredCa, now: number, policy: CaPolicy = {}): Promise<StoredCa> {
  const old = activeEntry(stored);
  const overlapMs = policy.overlapMs ?? DEFAULT_OVERLAP_MS;
  if (!(overlapMs >= 0)) throw new PaiError('invalid', 'the CA overlap must be zero or a positive duration');
  const prepared = stored.entries.find((e) => e.state === 'next');
  const next: StoredCaEntry = prepared ? { ...prepared, state: 'active' } : entryOf(await createCa(now, policy), 'active');
  const retired: StoredCaEntry = {
    state: 'retired',
    certPem: old.certPem,
    trustedUntil: new Date(now + overlapMs).toISOString(),
  };
  const others = pruned(
    stored.entries.filter((e) => e.state === 'retired'),
    now,
  );
  return { entries: [next, ...(overlapMs > 0 ? [retired] : []), ...others] };
}

/** The certificates (PEM) a client must trust at `now`: active, next, retired within overlap; none expired. */
export function trustedCaPems(stored: StoredCa, now: number): string[] {
  return pruned(stored.entries, now)
    .filter((e) => notAfter(e.certPem) > now)
    .map((e) => e.certPem);
}

/**
 * The CA bundle an agent container mounts: the system roots (Node's `tls.rootCertificates`) plus
 * every trusted pai CA, PEM. The system roots are needed because SSL_CERT_FILE and friends replace
 * the default bundle rather than add to it. Duplicates are dropped; the text is PEM blocks only
 * (no comments: some parsers read nothing but PEM).
 */
export function caBundle(systemRoots: readonly string[], caPems: readonly string[]): string {
  const seen = new Set<string>();
  const blocks: string[] = [];
  for (const pem of [...systemRoots, ...caPems]) {
    const block = pem.trim();
    if (block.length === 0 || seen.has(block)) continue;
    seen.add(block);
    blocks.push(block);
  }
  return blocks.join('\n') + '\n';
}

interface WireEntry {
  state: CaEntryState;
  cert: string;
  key?: string;
  trustedUntil?: string;
}

/** The bytes the store keeps (inside its encrypted record): JSON with the keys in clear. */
export function encodeStoredCa(stored: StoredCa): Buffer {
  const entries: WireEntry[] = stored.entries.map((e) => ({
    state: e.state,
    cert: e.certPem,
    ...(e.key ? { key: e.key.reveal() } : {}),
    ...(e.trustedUntil ? { trustedUntil: e.trustedUntil } : {}),
  }));
  return Buffer.from(JSON.stringify({ format: FORMAT, entries }), 'utf8');
}

function malformed(what: string): PaiError {
  return new PaiError('integrity', `the stored pai CA record is malformed: ${what}`);
}

function decodeEntry(raw: unknown, index: number): StoredCaEntry {
  if (typeof raw !== 'object' || raw === null) throw malformed(`entry ${index} is not an object`);
  const e = raw as Record<string, unknown>;
  const state = e['state'];
  if (state !== 'active' && state !== 'next' && state !== 'retired') throw malformed(`entry ${index} has no valid state`);
  const cert = e['cert'];
  if (typeof cert !== 'string' || !cert.includes('-----BEGIN CERTIFICATE-----'))
    throw malformed(`entry ${index} has no certificate`);
  const key = e['key'];
  if (state === 'retired') {
    const until = e['trustedUntil'];
    if (key !== undefined) throw malformed(`retired entry ${index} still has a key`);
    if (typeof until !== 'string' || Number.isNaN(Date.parse(until)))
      throw malformed(`retired entry ${index} has no trustedUntil`);
    return { state, certPem: cert, trustedUntil: until };
  }
  if (typeof key !== 'string' || !key.includes('-----BEGIN PRIVATE KEY-----')) throw malformed(`entry ${index} has no key`);
  return { state, certPem: cert, key: new SecretPem(key) };
}

/** Parses what encodeStoredCa wrote. Throws PaiError `integrity` naming the problem, never quoting the content. */
export function decodeStoredCa(bytes: Buffer | Uint8Array): StoredCa {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw malformed('not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null) throw malformed('not an object');
  const { format, entries } = parsed as Record<string, unknown>;
  if (format !== FORMAT) throw malformed(`format is not ${FORMAT}`);
  if (!Array.isArray(entries)) throw malformed('entries is not a list');
  const stored: StoredCa = { entries: entries.map((e: unknown, i) => decodeEntry(e, i)) };
  activeEntry(stored);
  if (stored.entries.filter((e) => e.state === 'next').length > 1) throw malformed('more than one next CA');
  return stored;
}
