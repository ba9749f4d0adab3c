/**
 * `pai apply -f FILE|- [-f …] [--dry-run]`: multi-document YAML or JSON. Every document is
 * validated locally first (nothing is applied if one is invalid); the valid set is then applied
 * ModelProviders and Providers before Agents, and the outcome of each document is printed
 * (`provider/github created|configured|unchanged`). A failure names which documents were applied
 * and which were not.
 */
import fs from 'node:fs';
import { isPaiError } from '../errors.js';
import { type ManifestDocument, parseManifestDocuments } from '../resources/manifest.js';
import { KIND_PLURAL, type Resource } from '../resources/types.js';
import { parseResource } from '../resources/validate.js';
import { resourceDocument } from '../resources/document.js';
import { type AdminClient, CliError, type CommandNamespace } from './client.js';
import type { CliIo } from './io.js';

const RANK = { ModelProvider: 0, Provider: 1, Agent: 2 } as const;

interface Doc {
  readonly label: string;
  readonly resource: Resource;
}

async function readSource(file: string, io: CliIo): Promise<string> {
  if (file === '-') return (await io.readStdin()).toString('utf8');
  try {
    const st = fs.statSync(file);
    if (st.size > 10 * 1024 * 1024) throw new CliError(`${file} is larger than 10 MiB; refusing to read it`);
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

function problemText(err: unknown): string {
  if (isPaiError(err)) {
    const problems = err.details?.['problems'];
    if (Array.isArray(problems) && problems.length > 0) {
      return problems
        .map((p: { field?: string; message?: string }) => `\n    ${p.field || '(document)'}: ${p.message ?? ''}`)
        .join('');
    }
    return ` ${err.message}`;
  }
  return ' invalid document';
}

/** Parses and validates every document of every file; throws CliError listing all problems. */
async function loadDocs(files: readonly string[], io: CliIo): Promise<Doc[]> {
  const docs: Doc[] = [];
  const errors: string[] = [];
  for (const file of files) {
    const source = file === '-' ? 'stdin' : file;
    let raw: ManifestDocument[];
    try {
      raw = parseManifestDocuments(await readSource(file, io), source);
    } catch (err) {
      if (err instanceof CliError) throw err;
      // The manifest parser's messages already name the source (and the document): no prefix.
      errors.push(isPaiError(err) ? err.message : `${source}: cannot be read`);
      continue;
    }
    for (const { where, value } of raw) {
      try {
        docs.push({ label: where, resource: parseResource(value, where) });
      } catch (err) {
        errors.push(`${where}:${problemText(err)}`);
      }
    }
  }
  if (errors.length > 0) throw new CliError(`nothing was applied; fix these documents first:\n  ${errors.join('\n  ')}`);
  if (docs.length === 0) throw new CliError('no documents to apply', 2);
  return docs;
}

/**
 * An Agent without the Providers and ModelProviders in `pending` (those a dry run has just found it
 * would create, which the server cannot know of), so that the server checks every other reference;
 * `resource` itself when it is no Agent or binds none of them.
 */
function withoutPending(resource: Resource, ns: string, pending: ReadonlySet<string>): Resource {
  if (resource.kind !== 'Agent') return resource;
  const { providers, modelProviders, models } = resource.spec;
  const keptProviders = providers?.filter((n) => !pending.has(`${ns}/Provider/${n}`));
  const keptModelProviders = modelProviders?.filter((n) => !pending.has(`${ns}/ModelProvider/${n}`));
  const keptModels = models?.filter((m) => !pending.has(`${ns}/ModelProvider/${m.slice(0, m.indexOf('/'))}`));
  if (
    keptProviders?.length === providers?.length &&
    keptModelProviders?.length === modelProviders?.length &&
    keptModels?.length === models?.length
  ) {
    return resource;
  }
  const spec = {
    ...resource.spec,
    ...(keptProviders ? { providers: keptProviders } : {}),
    ...(keptModelProviders ? { modelProviders: keptModelProviders } : {}),
    ...(keptModels ? { models: keptModels } : {}),
  };
  return { ...resource, spec };
}

/**
 * The namespace a document goes to: its own `metadata.namespace`, else the command's. A document
 * naming another namespace than an explicit -n is refused (as kubectl does).
 */
function targetNamespace(resource: Resource, label: string, ns: CommandNamespace): string {
  const own = resource.metadata.namespace;
  if (own === undefined) return ns.name;
  if (ns.explicit && own !== ns.name) {
    throw new CliError(`nothing was applied: ${label} is in namespace ${own}, but -n says ${ns.name}`);
  }
  return own;
}

/** Runs `pai apply`. */
export async function apply(client: AdminClient, files: readonly string[], dryRun: boolean, io: CliIo): Promise<void> {
  if (files.length === 0) throw new CliError('give at least one -f FILE (or -f - for stdin)', 2);
  const docs = (await loadDocs(files, io)).sort((a, b) => RANK[a.resource.kind] - RANK[b.resource.kind]);
  const namespaces = docs.map((d) => targetNamespace(d.resource, d.label, client.namespace));
  const seen = new Set<string>();
  docs.forEach((d, i) => {
    const id = `${namespaces[i] ?? ''}/${d.resource.kind}/${d.resource.metadata.name}`;
    if (seen.has(id))
      throw new CliError(
        `nothing was applied: ${d.resource.kind}/${d.resource.metadata.name} appears twice (again in ${d.label})`,
      );
    seen.add(id);
  });
  const applied: string[] = [];
  const failed: string[] = [];
  // A dry run writes nothing, so an Agent binding a Provider created earlier in the same run would
  // be refused as broken: the CLI leaves those bindings out of what the server checks.
  const pending = new Set<string>();
  for (const [i, { resource, label }] of docs.entries()) {
    const plural = KIND_PLURAL[resource.kind];
    const ns = namespaces[i] ?? client.namespace.name;
    const inNs = ns === client.namespace.name ? '' : ` (namespace ${ns})`;
    const id = `${resource.kind.toLowerCase()}/${resource.metadata.name}`;
    try {
      const body = dryRun ? withoutPending(resource, ns, pending) : resource;
      const res = await client.request<{ result: string }>(
        'PUT',
        client.nsPath(`${plural}/${encodeURIComponent(resource.metadata.name)}${dryRun ? '?dryRun=true' : ''}`, ns),
        resourceDocument(body),
      );
      // A stored agent cannot bind what does not exist yet: it would change (not be unchanged).
      const result = body !== resource && res.body.result === 'unchanged' ? 'configured' : res.body.result;
      if (dryRun && result === 'created') pending.add(`${ns}/${resource.kind}/${resource.metadata.name}`);
      io.stdout(`${id} ${result}${inNs}${dryRun ? ' (dry run)' : ''}\n`);
      applied.push(id);
    } catch (err) {
      if (!(err instanceof CliError) || err.apiCode === undefined) throw err;
      io.stderr(`error: ${id} (${label}): ${err.message}\n`);
      failed.push(id);
    }
  }
  if (failed.length > 0) {
    throw new CliError(
      `${failed.length} of ${docs.length} documents were not applied (${failed.join(', ')})` +
        (applied.length > 0 ? `; applied: ${applied.join(', ')}` : '; none was applied'),
    );
  }
}
