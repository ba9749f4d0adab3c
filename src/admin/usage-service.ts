/**
 * Usage as the admin API shows it (`pai status`, LAST USED): every injector's usage documents of a
 * namespace added up (src/usage/usage-doc.ts). Documents older than `keepDays` are deleted while
 * reading (best effort: a failure leaves them for the next read).
 */
import type { SecretStore } from '../store/types.js';
import { dayOf, readUsageDoc, summarize, type UsageDoc, type UsageKind, type UsageSummary } from '../usage/usage-doc.js';

export interface UsageServiceOptions {
  readonly store: SecretStore;
  readonly now?: () => number;
  readonly keepDays?: number;
}

export class UsageService {
  private readonly now: () => number;

  constructor(private readonly options: UsageServiceOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The namespace's usage by `<agent>/<kind>/<name>`: requests today (UTC) and the last use. */
  async summary(ns: string): Promise<Map<string, UsageSummary>> {
    const records = await this.options.store.listDocs('usage', ns);
    const now = this.now();
    const oldest = dayOf(now - (this.options.keepDays ?? 7) * 86_400_000);
    const docs: UsageDoc[] = [];
    for (const record of records) {
      const doc = readUsageDoc(record.body);
      if (doc === undefined) continue;
      if (doc.day < oldest) {
        void this.options.store.deleteDoc('usage', ns, record.name).catch(() => undefined);
        continue;
      }
      docs.push(doc);
    }
    return summarize(docs, dayOf(now));
  }

  /** The latest use of a Provider, ModelProvider or token by any agent of the summary. */
  static lastUsed(summary: ReadonlyMap<string, UsageSummary>, kind: UsageKind, name: string): string | undefined {
    let latest: string | undefined;
    const suffix = `/${kind}/${name}`;
    for (const [key, s] of summary) {
      if (key.endsWith(suffix) && s.lastUsedAt !== undefined && (latest === undefined || s.lastUsedAt > latest))
        latest = s.lastUsedAt;
    }
    return latest;
  }
}
