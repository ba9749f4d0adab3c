/**
 * Manifest files (`pai apply -f`): multi-document YAML, or JSON (one resource or a list of them,
 * the `-o json` output). Parsing is bounded: at most 10 MiB in, alias expansion capped (YAML
 * bombs), and duplicate keys found in linear time (yaml's own check is quadratic in the size of a
 * mapping, so 10 MiB of keys would hold the event loop for minutes).
 */
import { isNode, isScalar, LineCounter, parseAllDocuments, stringify, visit, type Document, type YAMLError } from 'yaml';
import { PaiError } from '../errors.js';
import { describeType, isMapping } from './fields.js';
import type { Resource } from './types.js';
import { parseResource } from './validate.js';

/** Largest manifest accepted, in bytes (UTF-8). */
export const MAX_MANIFEST_BYTES = 10 * 1024 * 1024;
/** yaml's bound on alias expansion: an anchor used more widely than this is refused as a bomb. */
export const MAX_ALIAS_COUNT = 100;

/** One document of a manifest, with the label messages use for it ("document 2 of app.yaml"). */
export interface ManifestDocument {
  readonly where: string;
  readonly value: Readonly<Record<string, unknown>>;
}

/** The error for a YAML syntax problem in document `index`, naming its line and column. */
function syntaxError(source: string, index: number, err: YAMLError, lines: LineCounter, total: number): PaiError {
  const { line, col } = lines.linePos(err.pos[0]);
  // yaml's messages name tokens and indicators, not the text around them; keep the first line only.
  const text = (err.message.split('\n')[0] ?? '').slice(0, 200);
  const more = total > 1 ? ` (and ${total - 1} more)` : '';
  return new PaiError('bad_request', `${source}: document ${index}: YAML error at line ${line}, column ${col}: ${text}${more}`, {
    details: { document: `document ${index} of ${source}`, line, column: col },
  });
}

/** Where a node starts in the text, when it is a node with a range. */
function rangeStart(node: unknown): number | undefined {
  return isNode(node) ? node.range?.[0] : undefined;
}

/** Reports duplicate and non-scalar mapping keys of a YAML document in linear time; returns whether it has aliases. */
function checkKeys(doc: Document, fail: (offset: number, message: string) => never): boolean {
  let aliases = false;
  visit(doc, {
    Alias() {
      aliases = true;
    },
    Map(_, map) {
      const seen = new Set<string>();
      for (const { key } of map.items) {
        const offset = rangeStart(key) ?? rangeStart(map) ?? 0;
        if (!isScalar(key)) fail(offset, 'mapping keys must be plain scalars');
        const name = String(key.value);
        if (seen.has(name)) fail(offset, 'mapping keys must be unique');
        seen.add(name);
      }
    },
  });
  return aliases;
}

/** Approximate JSON size of `value` with shared (aliased) parts counted once per use; stops past `limit`. */
function expandedSize(value: unknown, limit: number, memo = new Map<object, number>()): number {
  if (typeof value === 'string') return value.length + 2;
  if (typeof value !== 'object' || value === null) return 8;
  const known = memo.get(value);
  if (known !== undefined) return known;
  let size = 2;
  for (const [k, v] of Object.entries(value)) {
    size += k.length + 4 + expandedSize(v, limit, memo);
    if (size > limit) break;
  }
  memo.set(value, size);
  return size;
}

/** Converts one parsed YAML document to plain data, refusing alias bombs; undefined for an empty document. */
function documentValue(doc: Document, source: string, index: number, lines: LineCounter): unknown {
  const fail = (offset: number, message: string): never => {
    const { line, col } = lines.linePos(offset);
    throw new PaiError('bad_request', `${source}: document ${index}: YAML error at line ${line}, column ${col}: ${message}`, {
      details: { document: `document ${index} of ${source}`, line, column: col },
    });
  };
  const hasAliases = checkKeys(doc, fail);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // yaml throws a ReferenceError once alias expansion passes maxAliasCount.
    const bomb = err instanceof ReferenceError;
    const message = bomb ? 'YAML aliases expand too much (an alias bomb?)' : 'YAML document could not be read';
    throw new PaiError(bomb ? 'too_large' : 'bad_request', `${source}: document ${index}: ${message}`, {
      cause: err,
      details: { document: `document ${index} of ${source}` },
    });
  }
  if (hasAliases && expandedSize(value, MAX_MANIFEST_BYTES) > MAX_MANIFEST_BYTES) {
    throw new PaiError('too_large', `${source}: document ${index}: YAML aliases expand to more than 10 MiB`, {
      details: { document: `document ${index} of ${source}` },
    });
  }
  return value;
}

/** Parses `text` as JSON when it looks like JSON and is valid JSON; undefined otherwise (then it is read as YAML). */
function tryJson(text: string): { value: unknown } | undefined {
  const first = /\S/.exec(text)?.[0];
  if (first !== '{' && first !== '[') return undefined;
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return undefined;
  }
}

/** Reads the YAML documents of `text`, numbered from 1 in file order (empty ones skipped). */
function yamlDocuments(text: string, source: string): { index: number; value: unknown }[] {
  const lines = new LineCounter();
  let docs;
  try {
    docs = parseAllDocuments(text, {
      lineCounter: lines,
      prettyErrors: false,
      uniqueKeys: false, // checked by checkKeys in linear time
      schema: 'core',
      merge: false,
      resolveKnownTags: false,
    });
  } catch (err) {
    throw new PaiError('bad_request', `${source}: YAML too deeply nested or malformed`, { cause: err });
  }
  const list = Array.isArray(docs) ? docs : [];
  const out: { index: number; value: unknown }[] = [];
  list.forEach((doc, i) => {
    const problems = [...doc.errors, ...doc.warnings];
    const first = problems[0];
    if (first !== undefined) throw syntaxError(source, i + 1, first, lines, problems.length);
    const value = documentValue(doc, source, i + 1, lines);
    if (value !== undefined && value !== null) out.push({ index: i + 1, value });
  });
  return out;
}

/**
 * The documents of a manifest with their labels. Throws PaiError `too_large` over 10 MiB or for
 * an alias bomb, `bad_request` for a syntax error (naming document and line), `invalid` for a
 * document that is not a mapping (naming it).
 */
export function parseManifestDocuments(text: string, source: string): ManifestDocument[] {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_MANIFEST_BYTES) {
    throw new PaiError('too_large', `${source} is larger than 10 MiB (${bytes} bytes)`, { details: { source, bytes } });
  }
  const json = tryJson(text);
  const raw = json === undefined ? yamlDocuments(text, source) : jsonDocuments(json.value);
  return raw.map(({ index, value }) => {
    const where = `document ${index} of ${source}`;
    if (!isMapping(value)) {
      throw new PaiError(
        'invalid',
        `${where} is not a mapping (got ${describeType(value)}): expected a resource with apiVersion, kind, metadata and spec`,
        {
          details: { document: where },
        },
      );
    }
    return { where, value };
  });
}

/** The documents of parsed JSON: each item of a list, or the one value. */
function jsonDocuments(value: unknown): { index: number; value: unknown }[] {
  const items: unknown[] = Array.isArray(value) ? value : [value];
  return items.map((item, i) => ({ index: i + 1, value: item }));
}

/** The documents of a manifest as plain data, in order; throws as parseManifestDocuments does. */
export function parseManifests(text: string, source: string): unknown[] {
  return parseManifestDocuments(text, source).map((doc) => doc.value);
}

/** Parses and validates every document of a manifest; throws the first document's PaiError. */
export function parseManifestResources(text: string, source: string): Resource[] {
  return parseManifestDocuments(text, source).map((doc) => parseResource(doc.value, doc.where));
}

/**
 * Resources as multi-document YAML (`pai get -o yaml`); empty for none. Strings are quoted where a
 * YAML 1.1 reader would take them for something else ("yes", "0755"), so kubectl-era tools agree.
 */
export function renderResourceYaml(resources: readonly Resource[]): string {
  return resources.map((r) => stringify(r, { version: '1.1', lineWidth: 0, aliasDuplicateObjects: false })).join('---\n');
}

/** A resource as a JSON object, or several as a JSON list (`pai get -o json`); both parse back with parseManifests. */
export function renderResourceJson(value: Resource | readonly Resource[]): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
