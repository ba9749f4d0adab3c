/**
 * Manifest files (`pai apply -f`): multi-document YAML, or JSON (one resource or a list of them,
 * the `-o json` output), at most 10 MiB; and the YAML/JSON renderings of `pai get -o yaml|json`,
 * which read back through the same functions. YAML is read with the bounds of yaml-documents.ts.
 */
import { Document, parse, visit } from 'yaml';
import { PaiError } from '../errors.js';
import { describeType, isMapping } from './fields.js';
import { resourceDocument } from './document.js';
import type { Resource } from './types.js';
import { parseResource } from './validate.js';
import { yamlDocuments } from './yaml-documents.js';
import { MAX_FLOW_DEPTH } from './yaml-shape.js';

export { MAX_ALIAS_COUNT } from './yaml-documents.js';
export { MAX_FLOW_DEPTH, MAX_YAML_TOKENS } from './yaml-shape.js';

/** Largest manifest accepted, in bytes (UTF-8). */
export const MAX_MANIFEST_BYTES = 10 * 1024 * 1024;

/** One document of a manifest, with the label messages use for it ("document 2 of app.yaml"). */
export interface ManifestDocument {
  readonly where: string;
  readonly value: Readonly<Record<string, unknown>>;
}

/** True when JSON-like `text` nests "[" / "{" (outside strings) deeper than `max`: V8's JSON.parse takes seconds on 10 MiB of "[". */
function nestsDeeperThan(text: string, max: number): boolean {
  let [depth, inString, escaped] = [0, false, false];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) [escaped, inString] = [!escaped && c === 0x5c, escaped || c !== 0x22];
    else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/**
 * Parses `text` as JSON when it looks like JSON and is valid JSON; undefined otherwise (then it is
 * read as YAML). As everywhere JSON is read (the admin API too), a repeated key keeps its last value.
 */
function tryJson(text: string, source: string): { value: unknown } | undefined {
  const first = /\S/.exec(text)?.[0];
  if (first !== '{' && first !== '[') return undefined;
  if (nestsDeeperThan(text, MAX_FLOW_DEPTH)) {
    throw new PaiError('bad_request', `${source}: collections nested more than ${MAX_FLOW_DEPTH} deep`, { details: { source } });
  }
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return undefined;
  }
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
  const json = tryJson(text, source);
  const raw = json === undefined ? yamlDocuments(text, source, MAX_MANIFEST_BYTES) : jsonDocuments(json.value);
  return raw.map(({ index, value }) => {
    const where = `document ${index} of ${source}`;
    if (!isMapping(value)) throw notAMapping(where, value);
    return { where, value };
  });
}

/** The `invalid` error for a document that is not a mapping. */
function notAMapping(where: string, value: unknown): PaiError {
  const message = `${where} is not a mapping (got ${describeType(value)}): expected a resource with apiVersion, kind, metadata and spec`;
  return new PaiError('invalid', message, { details: { document: where } });
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

/** True when a YAML 1.1 or 1.2 reader would take `text`, written plain, for something other than that string. */
function ambiguousPlain(text: string): boolean {
  for (const version of ['1.1', '1.2'] as const) {
    try {
      if (parse(text, { version }) !== text) return true;
    } catch {
      return true;
    }
  }
  return false;
}

/**
 * Resources as multi-document YAML (`pai get -o yaml`); empty for none. A string is double-quoted
 * wherever a YAML 1.1 or 1.2 reader would take it, plain, for something else ("yes", "0755",
 * "0o17", "1e3"), so that `pai apply` and kubectl-era tools both read back exactly the string.
 */
export function renderResourceYaml(resources: readonly Resource[]): string {
  return resources
    .map((r) => {
      const doc = new Document(resourceDocument(r), { version: '1.2', aliasDuplicateObjects: false });
      visit(doc, {
        Scalar(_key, node) {
          if (typeof node.value === 'string' && ambiguousPlain(node.value)) node.type = 'QUOTE_DOUBLE';
        },
      });
      return doc.toString({ lineWidth: 0 });
    })
    .join('---\n');
}

/** A resource as a JSON object, or several as a JSON list (`pai get -o json`); both parse back with parseManifests. */
export function renderResourceJson(value: Resource | readonly Resource[]): string {
  const doc = Array.isArray(value) ? (value as readonly Resource[]).map(resourceDocument) : resourceDocument(value as Resource);
  return `${JSON.stringify(doc, null, 2)}\n`;
}
