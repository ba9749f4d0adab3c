/**
 * `metadata` of every resource: a DNS-1123 name, and optional labels and annotations following
 * Kubernetes' rules for their keys (and for label values), so manifests move between the two
 * without surprises.
 */
import { describeType, fieldPath, fieldValue, isMapping, readMapping, readString, type Problems } from './fields.js';
import { nameProblem, namespaceProblem } from './names.js';
import type { ObjectMeta } from './types.js';

const META_FIELDS = ['name', 'namespace', 'labels', 'annotations'] as const;
const QUALIFIED_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Kubernetes' bound on the total size of a resource's annotations. */
const MAX_ANNOTATION_BYTES = 256 * 1024;

/** Why `key` is not a Kubernetes label/annotation key (`[prefix/]name`), or undefined. */
export function metadataKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return 'key prefix must be a lower-case DNS subdomain of at most 253 characters';
  }
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME.test(name)) {
    return 'key must be [prefix/]name, the name 1-63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit';
  }
  return undefined;
}

/** Why `value` is not a Kubernetes label value, or undefined. */
export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !QUALIFIED_NAME.test(value)) {
    return 'must be at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit';
  }
  return undefined;
}

/** Reads a string → string map at `path`, checking each key and value; returns a copy or undefined. */
function readStringMap(
  value: unknown,
  path: string,
  problems: Problems,
  valueProblem: (v: string) => string | undefined,
): Readonly<Record<string, string>> | undefined {
  if (!isMapping(value)) {
    problems.add(path, `must be a mapping of strings (got ${describeType(value)})`);
    return undefined;
  }
  const entries: [string, string][] = [];
  for (const [key, v] of Object.entries(value)) {
    const field = fieldPath(path, key);
    const keyProblem = metadataKeyProblem(key);
    if (keyProblem !== undefined) problems.add(field, keyProblem);
    else if (typeof v !== 'string') problems.add(field, `must be a string (got ${describeType(v)})`);
    else {
      const problem = valueProblem(v);
      if (problem === undefined) entries.push([key, v]);
      else problems.add(field, problem);
    }
  }
  // fromEntries defines own properties, so a "__proto__" key stays a plain key.
  return entries.length === Object.keys(value).length ? Object.fromEntries(entries) : undefined;
}

/** Why a set of annotations is too large in total, or undefined. */
function annotationsSizeProblem(annotations: Readonly<Record<string, string>>): string | undefined {
  let size = 0;
  for (const [k, v] of Object.entries(annotations)) size += Buffer.byteLength(k) + Buffer.byteLength(v);
  return size > MAX_ANNOTATION_BYTES ? `must be at most ${MAX_ANNOTATION_BYTES} bytes in total (has ${size})` : undefined;
}

/**
 * Reads `metadata`, reporting every problem; returns what was readable (undefined without a valid
 * name). The caller rejects the document when any problem was reported.
 */
export function readMetadata(value: unknown, problems: Problems): ObjectMeta | undefined {
  const meta = readMapping(value, 'metadata', META_FIELDS, problems);
  if (meta === undefined) return undefined;
  const name = readString(meta, 'name', 'metadata', problems, { required: true, check: nameProblem });
  const namespace = readString(meta, 'namespace', 'metadata', problems, { check: namespaceProblem });
  const rawLabels = fieldValue(meta, 'labels');
  const rawAnnotations = fieldValue(meta, 'annotations');
  const labels = rawLabels === undefined ? undefined : readStringMap(rawLabels, 'metadata.labels', problems, labelValueProblem);
  const annotations =
    rawAnnotations === undefined ? undefined : readStringMap(rawAnnotations, 'metadata.annotations', problems, () => undefined);
  if (annotations !== undefined) problems.addIf('metadata.annotations', annotationsSizeProblem(annotations));
  if (name === undefined) return undefined;
  return {
    name,
    ...(namespace === undefined ? {} : { namespace }),
    ...(labels === undefined ? {} : { labels }),
    ...(annotations === undefined ? {} : { annotations }),
  };
}
