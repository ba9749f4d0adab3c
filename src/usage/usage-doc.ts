/**
 * Usage counts (`pai status`, LAST USED): how often and when each agent used each Provider,
 * ModelProvider and gateway token. Every injector process keeps its own counts and writes them to
 * its own document per namespace and day (`u-<yyyymmdd>-<instance>`), so concurrent flushes never
 * touch the same document and no count is lost; readers add the documents up. Pure: the shapes,
 * the key format, and the summing.
 */
import { isMapping } from '../resources/fields.js';

export type UsageKind = 'Provider' | 'ModelProvider' | 'Token';

export interface UsageKey {
  readonly agent: string;
  readonly kind: UsageKind;
  readonly name: string;
}

export interface UsageCount {
  readonly requests: number;
  /** ISO time of the last request. */
  readonly lastUsedAt: string;
}

/** The stored body of one process's usage document for one namespace and day. */
export interface UsageDoc {
  /** UTC day, YYYY-MM-DD. */
  readonly day: string;
  readonly instance: string;
  /** `<agent>/<kind>/<name>` → count. */
  readonly counts: Readonly<Record<string, UsageCount>>;
}

/** The map key of a usage key (names hold no "/"). */
export function usageKey(k: UsageKey): string {
  return `${k.agent}/${k.kind}/${k.name}`;
}

/** The UTC day of `ms`, YYYY-MM-DD. */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The document name of a process's usage for `day`: a DNS label. */
export function usageDocName(day: string, instance: string): string {
  return `u-${day.replace(/-/g, '')}-${instance}`;
}

/** A stored usage body read defensively (a bad document counts nothing rather than failing a listing). */
export function readUsageDoc(body: unknown): UsageDoc | undefined {
  if (!isMapping(body) || typeof body['day'] !== 'string' || typeof body['instance'] !== 'string') return undefined;
  const raw = body['counts'];
  if (!isMapping(raw)) return undefined;
  const counts: Record<string, UsageCount> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!isMapping(value)) continue;
    const requests = value['requests'];
    const last = value['lastUsedAt'];
    if (typeof requests !== 'number' || !Number.isSafeInteger(requests) || requests < 0 || typeof last !== 'string') continue;
    counts[key] = { requests, lastUsedAt: last };
  }
  return { day: body['day'], instance: body['instance'], counts };
}

/** Requests today and the last use of each key, summed over every process's documents. */
export interface UsageSummary {
  readonly requestsToday: number;
  readonly lastUsedAt: string | undefined;
}

/** Adds up usage documents: today's requests (documents of `today`) and the latest use over all days. */
export function summarize(docs: readonly UsageDoc[], today: string): Map<string, UsageSummary> {
  const out = new Map<string, { requestsToday: number; lastUsedAt: string | undefined }>();
  for (const doc of docs) {
    for (const [key, count] of Object.entries(doc.counts)) {
      const entry = out.get(key) ?? { requestsToday: 0, lastUsedAt: undefined };
      if (doc.day === today) entry.requestsToday += count.requests;
      if (entry.lastUsedAt === undefined || count.lastUsedAt > entry.lastUsedAt) entry.lastUsedAt = count.lastUsedAt;
      out.set(key, entry);
    }
  }
  return out;
}
