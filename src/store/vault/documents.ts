/**
 * Documents in Vault: resources (agents, providers, modelproviders) at their namespace's
 * `resources/<kind>/<name>` (paths.ts), cluster-wide tokens and agenttokens at
 * `resources/<kind>/<name>`, each holding `{"createdAt": "<ISO time>", "body": {…}}`. Reads need only `data/` (the injector and
 * renderer have nothing else); writes are check-and-set like secrets.
 */
import { PaiError } from '../../errors.js';
import { assertName, assertNamespace, nameProblem } from '../../resources/names.js';
import { DOC_KINDS, type DocKind, type DocRecord, type WriteOptions } from '../types.js';
import { checkVersion, docSubject } from '../validate.js';
import { clusterDir, docsDir } from './paths.js';
import { type DataRead, isCasMismatch, isGone, type KvClient } from './kv.js';
import { byName, LIST_CONCURRENCY, mapLimit } from './shared.js';

/** Which documents: a kind, and the namespace of a resource kind (absent for cluster-wide kinds). */
export interface DocPlace {
  readonly kind: DocKind;
  readonly namespace?: string;
}

function assertDoc(place: DocPlace, name?: string): string {
  if (!(DOC_KINDS as readonly string[]).includes(place.kind))
    throw new PaiError('invalid', `unknown document kind ${JSON.stringify(place.kind)}`);
  if (place.namespace !== undefined) assertNamespace(place.namespace);
  if (name !== undefined) assertName(name, `${place.kind} name`);
  return place.namespace === undefined ? clusterDir(place.kind) : docsDir(place.kind, place.namespace);
}

/** Lost races a put without ifVersion (last writer wins) retries before it reports `conflict`. */
const PUT_ATTEMPTS = 3;

export class VaultDocuments {
  constructor(
    private readonly kv: KvClient,
    private readonly now: () => number,
  ) {}

  private recordOf(place: DocPlace, name: string, read: DataRead): DocRecord {
    const { kind } = place;
    const body = read.data['body'];
    const created = read.data['createdAt'];
    if (body === null || typeof body !== 'object' || Array.isArray(body) || typeof created !== 'string') {
      throw new PaiError('integrity', `${docSubject(kind, name)} in Vault is not in pai's format (written outside pai?)`);
    }
    const ns = place.namespace === undefined ? {} : { namespace: place.namespace };
    const record = { kind, ...ns, name, body: body as Record<string, unknown>, version: read.version };
    return { ...record, createdAt: new Date(created), updatedAt: read.createdTime };
  }

  /** Creates or replaces a document (check-and-set on the version read). */
  async put(
    place: DocPlace,
    name: string,
    body: Readonly<Record<string, unknown>>,
    opts: WriteOptions | undefined,
    deadline: number,
  ): Promise<DocRecord> {
    const path = `${assertDoc(place, name)}${name}`;
    const { kind } = place;
    const stored = JSON.parse(JSON.stringify(body)) as Record<string, unknown>;
    if (opts?.blind === true && opts.ifVersion !== undefined) {
      // The only writer knows the version: no read, so the role needs only create and update.
      const createdAt = new Date(this.now());
      const written = await this.kv
        .writeData(path, { createdAt: createdAt.toISOString(), body: stored }, opts.ifVersion, deadline)
        .catch((err: unknown) => {
          throw isCasMismatch(err) ? new PaiError('conflict', `${docSubject(kind, name)} was changed concurrently`) : err;
        });
      const ns = place.namespace === undefined ? {} : { namespace: place.namespace };
      return { kind, ...ns, name, body: stored, version: written.version, createdAt, updatedAt: written.createdTime };
    }
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
      const createdAt = read ? this.recordOf(place, name, read).createdAt : new Date(this.now());
      try {
        const written = await this.kv.writeData(path, { createdAt: createdAt.toISOString(), body: stored }, cas, deadline);
        const ns = place.namespace === undefined ? {} : { namespace: place.namespace };
        return { kind, ...ns, name, body: stored, version: written.version, createdAt, updatedAt: written.createdTime };
      } catch (err) {
        if (!isCasMismatch(err) || opts?.ifVersion !== undefined || attempt >= PUT_ATTEMPTS) throw err;
      }
    }
  }

  /** One document; `not_found` when absent. */
  async get(place: DocPlace, name: string, deadline: number): Promise<DocRecord> {
    const dir = assertDoc(place, name);
    const read = await this.kv.readData(`${dir}${name}`, deadline);
    if (!read) throw new PaiError('not_found', `${docSubject(place.kind, name)} not found`);
    return this.recordOf(place, name, read);
  }

  /** Every document of a kind, sorted by name (needs list on metadata/). */
  async list(place: DocPlace, deadline: number): Promise<DocRecord[]> {
    const dir = assertDoc(place);
    const names = (await this.kv.list(dir, deadline)).filter((n) => nameProblem(n) === undefined);
    const docs = await mapLimit(names, LIST_CONCURRENCY, async (name) => {
      const read = await this.kv.readData(`${dir}${name}`, deadline);
      return read ? this.recordOf(place, name, read) : undefined;
    });
    return docs.filter((d): d is DocRecord => d !== undefined).sort(byName);
  }

  /** Deletes a document and all its versions; `not_found` when absent. */
  async delete(place: DocPlace, name: string, deadline: number): Promise<void> {
    const path = `${assertDoc(place, name)}${name}`;
    const meta = await this.kv.readMeta(path, deadline);
    if (!meta || isGone(meta)) throw new PaiError('not_found', `${docSubject(place.kind, name)} not found`);
    await this.kv.deleteMeta(path, deadline);
  }
}
