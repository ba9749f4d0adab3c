/**
 * Documents (agents, providers, modelproviders, tokens, agenttokens) in Vault: `resources/<kind>/<name>`
 * holding `{"createdAt": "<ISO time>", "body": {…}}`. Reads need only `data/` (the injector and
 * renderer have nothing else); writes are check-and-set like secrets.
 */
import { PaiError } from '../../errors.js';
import { assertName, nameProblem } from '../../resources/names.js';
import type { DocKind, DocRecord, WriteOptions } from '../types.js';
import { assertDocKind, checkVersion, docSubject } from '../validate.js';
import { type DataRead, isCasMismatch, isGone, type KvClient } from './kv.js';
import { byName, LIST_CONCURRENCY, mapLimit } from './shared.js';

function assertDoc(kind: string, name?: string): asserts kind is DocKind {
  assertDocKind(kind);
  if (name !== undefined) assertName(name, `${kind} name`);
}

/** Lost races a put without ifVersion (last writer wins) retries before it reports `conflict`. */
const PUT_ATTEMPTS = 3;

export class VaultDocuments {
  constructor(
    private readonly kv: KvClient,
    private readonly now: () => number,
  ) {}

  private recordOf(kind: DocKind, name: string, read: DataRead): DocRecord {
    const body = read.data['body'];
    const created = read.data['createdAt'];
    if (body === null || typeof body !== 'object' || Array.isArray(body) || typeof created !== 'string') {
      throw new PaiError('integrity', `${docSubject(kind, name)} in Vault is not in pai's format (written outside pai?)`);
    }
    const record = { kind, name, body: body as Record<string, unknown>, version: read.version };
    return { ...record, createdAt: new Date(created), updatedAt: read.createdTime };
  }

  /** Creates or replaces a document (check-and-set on the version read). */
  async put(
    kind: string,
    name: string,
    body: Readonly<Record<string, unknown>>,
    opts: WriteOptions | undefined,
    deadline: number,
  ): Promise<DocRecord> {
    assertDoc(kind, name);
    const stored = JSON.parse(JSON.stringify(body)) as Record<string, unknown>;
    const path = `resources/${kind}/${name}`;
    for (let attempt = 1; ; attempt++) {
      const read = await this.kv.readData(path, deadline);
      checkVersion(docSubject(kind, name), read ? read.version : 0, opts);
      let cas = read?.version ?? 0;
      if (!read) {
        // A deleted current version leaves metadata behind: cas must name its version. But live
        // metadata means another writer created the document since the read: the version read
        // (none) is stale, and writing over it would turn a create-only put into an overwrite.
        const meta = await this.kv.readMeta(path, deadline);
        if (meta && !isGone(meta)) {
          checkVersion(docSubject(kind, name), meta.currentVersion, opts);
          if (attempt < PUT_ATTEMPTS) continue;
          throw new PaiError('conflict', `${docSubject(kind, name)} was changed concurrently; read it again and retry`);
        }
        cas = meta?.currentVersion ?? 0;
      }
      const createdAt = read ? this.recordOf(kind, name, read).createdAt : new Date(this.now());
      try {
        const written = await this.kv.writeData(path, { createdAt: createdAt.toISOString(), body: stored }, cas, deadline);
        return { kind, name, body: stored, version: written.version, createdAt, updatedAt: written.createdTime };
      } catch (err) {
        if (!isCasMismatch(err) || opts?.ifVersion !== undefined || attempt >= PUT_ATTEMPTS) throw err;
      }
    }
  }

  /** One document; `not_found` when absent. */
  async get(kind: string, name: string, deadline: number): Promise<DocRecord> {
    assertDoc(kind, name);
    const read = await this.kv.readData(`resources/${kind}/${name}`, deadline);
    if (!read) throw new PaiError('not_found', `${docSubject(kind, name)} not found`);
    return this.recordOf(kind, name, read);
  }

  /** Every document of a kind, sorted by name (needs list on metadata/). */
  async list(kind: string, deadline: number): Promise<DocRecord[]> {
    assertDoc(kind);
    const names = (await this.kv.list(`resources/${kind}/`, deadline)).filter((n) => nameProblem(n) === undefined);
    const docs = await mapLimit(names, LIST_CONCURRENCY, async (name) => {
      const read = await this.kv.readData(`resources/${kind}/${name}`, deadline);
      return read ? this.recordOf(kind, name, read) : undefined;
    });
    return docs.filter((d): d is DocRecord => d !== undefined).sort(byName);
  }

  /** Deletes a document and all its versions; `not_found` when absent. */
  async delete(kind: string, name: string, deadline: number): Promise<void> {
    assertDoc(kind, name);
    const path = `resources/${kind}/${name}`;
    const meta = await this.kv.readMeta(path, deadline);
    if (!meta || isGone(meta)) throw new PaiError('not_found', `${docSubject(kind, name)} not found`);
    await this.kv.deleteMeta(path, deadline);
  }
}
