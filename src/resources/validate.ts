/**
 * Parsing of untrusted resource documents (YAML documents, request bodies, stored JSON) into typed
 * resources, once, at the edge (STYLE habit 4). Every problem of a document is collected and
 * reported together, each under its field path; unknown fields are errors (a misspelt field that
 * was silently ignored would leave a credential unset or sent somewhere unexpected).
 */
import { PaiError } from '../errors.js';
import { describeType, fieldValue, isMapping, Problems, readEnum, readMapping, readString, type Mapping } from './fields.js';
import { convertAgent, convertModelProvider, convertProvider } from './legacy/convert.js';
import { AGENT_FIELDS as LEGACY_AGENT_FIELDS, readAgentSpec as readLegacyAgent } from './legacy/agent.js';
import {
  MODEL_PROVIDER_FIELDS as LEGACY_MODEL_PROVIDER_FIELDS,
  readModelProviderSpec as readLegacyModelProvider,
} from './legacy/model-provider.js';
import { PROVIDER_FIELDS as LEGACY_PROVIDER_FIELDS, readProviderSpec as readLegacyProvider } from './legacy/provider.js';
import { readMetadata } from './metadata.js';
import { quoteName } from './names.js';
import { API_VERSION, API_VERSIONS, LEGACY_API_VERSION, type ObjectMeta, type Resource, type ResourceKind } from './types.js';
import { AGENT_FIELDS, readAgentSpec } from './validate-agent.js';
import { MODEL_PROVIDER_FIELDS, readModelProviderSpec } from './validate-model-provider.js';
import { PROVIDER_FIELDS, readProviderSpec } from './validate-provider.js';

/** The kinds a document may have. */
export const RESOURCE_KINDS = ['ModelProvider', 'Provider', 'Agent'] as const satisfies readonly ResourceKind[];
const TOP_FIELDS = ['apiVersion', 'kind', 'metadata', 'spec'] as const;
const SPEC_FIELDS = { ModelProvider: MODEL_PROVIDER_FIELDS, Provider: PROVIDER_FIELDS, Agent: AGENT_FIELDS } as const;
const LEGACY_SPEC_FIELDS = {
  ModelProvider: LEGACY_MODEL_PROVIDER_FIELDS,
  Provider: LEGACY_PROVIDER_FIELDS,
  Agent: LEGACY_AGENT_FIELDS,
} as const;

type Dialect = typeof API_VERSION | typeof LEGACY_API_VERSION;

/** Reads `spec` of a mapping in Pai's form, or in the earlier dialect converted to Pai's form. */
function readSpecOf(kind: ResourceKind, spec: Mapping, dialect: Dialect, problems: Problems) {
  if (dialect === LEGACY_API_VERSION) {
    switch (kind) {
      case 'ModelProvider': {
        const read = readLegacyModelProvider(spec, problems);
        return { kind, spec: read === undefined ? undefined : convertModelProvider(read) } as const;
      }
      case 'Provider': {
        const read = readLegacyProvider(spec, problems);
        return { kind, spec: read === undefined ? undefined : convertProvider(read) } as const;
      }
      case 'Agent':
        return { kind, spec: convertAgent(readLegacyAgent(spec, problems)) } as const;
    }
  }
  switch (kind) {
    case 'ModelProvider':
      return { kind, spec: readModelProviderSpec(spec, problems) } as const;
    case 'Provider':
      return { kind, spec: readProviderSpec(spec, problems) } as const;
    case 'Agent':
      return { kind, spec: readAgentSpec(spec, problems) } as const;
  }
}

/** Reads `spec` for `kind`; an Agent may omit it (no bindings), the other kinds may not. */
function readSpec(kind: ResourceKind | undefined, raw: unknown, dialect: Dialect, problems: Problems) {
  if (raw === undefined) {
    if (kind === 'Agent') return { kind, spec: {} } as const;
    problems.add('spec', 'required');
    return undefined;
  }
  if (kind === undefined) {
    // Without a kind the spec's fields are unknown: only its type can be checked.
    if (!isMapping(raw)) problems.add('spec', `must be a mapping (got ${describeType(raw)})`);
    return undefined;
  }
  const fields = dialect === LEGACY_API_VERSION ? LEGACY_SPEC_FIELDS[kind] : SPEC_FIELDS[kind];
  const spec: Mapping | undefined = readMapping(raw, 'spec', fields, problems);
  if (spec === undefined) return undefined;
  return readSpecOf(kind, spec, dialect, problems);
}

/** The `invalid` error for a document, listing every problem (field paths and messages, no values). */
function invalidDocument(where: string, kind: ResourceKind | undefined, meta: ObjectMeta | undefined, problems: Problems) {
  const subject = kind !== undefined && meta !== undefined ? `${kind} ${quoteName(meta.name)} (${where})` : where;
  const lines = problems.list.map((p) => `${p.field === '' ? '(document)' : p.field}: ${p.message}`);
  if (problems.dropped > 0) lines.push(`and ${problems.dropped} more`);
  const count = problems.total === 1 ? '' : `${problems.total} problems: `;
  return new PaiError('invalid', `invalid ${subject}: ${count}${lines.join('; ')}`, {
    details: {
      document: where,
      ...(kind === undefined ? {} : { kind }),
      ...(meta === undefined ? {} : { name: meta.name }),
      problems: problems.list,
    },
  });
}

/**
 * Parses one document into a Resource. `where` names the document in messages (e.g. "document 2
 * of app.yaml", "request body"). Throws PaiError `invalid` listing every problem found, with
 * `details: { document, kind?, name?, problems: [{ field, message }] }`.
 */
export function parseResource(doc: unknown, where: string): Resource {
  const problems = new Problems();
  if (!isMapping(doc)) {
    const message = `${where} is not a mapping (got ${describeType(doc)}): expected a resource with apiVersion, kind, metadata and spec`;
    throw new PaiError('invalid', message, {
      details: { document: where, problems: [{ field: '', message: 'must be a mapping' }] },
    });
  }
  const top = readMapping(doc, '', TOP_FIELDS, problems) ?? {};
  const check = (v: string) =>
    (API_VERSIONS as readonly string[]).includes(v)
      ? undefined
      : `must be "${API_VERSION}" (or the earlier "${LEGACY_API_VERSION}")`;
  const apiVersion = readString(top, 'apiVersion', '', problems, { required: true, check });
  const dialect: Dialect = apiVersion === LEGACY_API_VERSION ? LEGACY_API_VERSION : API_VERSION;
  const kind = readEnum(top, 'kind', '', RESOURCE_KINDS, problems, { required: true });
  const rawMeta = fieldValue(top, 'metadata');
  if (rawMeta === undefined) problems.add('metadata', 'required');
  const metadata = rawMeta === undefined ? undefined : readMetadata(rawMeta, problems);
  const read = readSpec(kind, fieldValue(top, 'spec'), dialect, problems);
  if (problems.total > 0 || metadata === undefined || read?.spec === undefined) {
    if (problems.total === 0) problems.add('', 'could not be read'); // unreachable: readers report why
    throw invalidDocument(where, kind, metadata, problems);
  }
  switch (read.kind) {
    case 'ModelProvider':
      return { apiVersion: API_VERSION, kind: read.kind, metadata, spec: read.spec };
    case 'Provider':
      return { apiVersion: API_VERSION, kind: read.kind, metadata, spec: read.spec };
    case 'Agent':
      return { apiVersion: API_VERSION, kind: read.kind, metadata, spec: read.spec };
  }
}

/** Serializes one JSON value with sorted keys; undefined/function members are dropped like JSON.stringify does. */
function canonical(value: unknown): string | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number') {
    return JSON.stringify(value);
  }
  if (typeof value === 'bigint') throw new PaiError('internal', 'canonicalJson: a bigint is not JSON');
  if (typeof value !== 'object') return undefined; // undefined, function, symbol: dropped, as JSON.stringify does
  const withJson = value as { toJSON?: unknown };
  if (typeof withJson.toJSON === 'function') return canonical((withJson.toJSON as () => unknown).call(value));
  if (Array.isArray(value)) return `[${value.map((v: unknown) => canonical(v) ?? 'null').join(',')}]`;
  const members: string[] = [];
  for (const key of Object.keys(value).sort()) {
    const member = canonical((value as Mapping)[key]);
    if (member !== undefined) members.push(`${JSON.stringify(key)}:${member}`);
  }
  return `{${members.join(',')}}`;
}

/**
 * JSON text of `value` with object keys sorted at every level: equal for equal data whatever the
 * key order, so an applied resource can be compared with the stored one. Throws PaiError
 * `internal` for a bigint anywhere, or undefined or a function at the top level.
 */
export function canonicalJson(value: unknown): string {
  const text = canonical(value);
  if (text === undefined) throw new PaiError('internal', `canonicalJson: ${describeType(value)} is not JSON`);
  return text;
}
