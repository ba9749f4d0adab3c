/**
 * Field-level reading of untrusted documents: every reader checks one field's type, reports a
 * problem under the field's path, and returns the typed value or undefined. Problems collect so
 * that one pass reports everything wrong with a document. Messages name fields and expectations,
 * never the value found (a value in the wrong field may be a credential).
 *
 * Hand-written rather than a schema library: no schema validator is a project dependency, and
 * the rules that matter here (suggestions for misspelt fields, per-type field sets, value-free
 * messages) would need custom code on top of one anyway.
 */
import { quoteName } from './names.js';

/** One thing wrong with a document: the field path (e.g. `spec.env[2].name`) and why. */
export interface Problem {
  readonly field: string;
  readonly message: string;
}

/** Most problems kept per document; the rest are counted, so a garbage document cannot flood a message. */
export const MAX_PROBLEMS = 50;

/** Collects the problems of one document. */
export class Problems {
  readonly list: Problem[] = [];
  dropped = 0;

  /** How many problems were reported in all (kept and dropped). */
  get total(): number {
    return this.list.length + this.dropped;
  }

  /** Records that `field` is wrong because of `message`. */
  add(field: string, message: string): void {
    if (this.list.length < MAX_PROBLEMS) this.list.push({ field, message });
    else this.dropped++;
  }

  /** Records `message` under `field` when it is defined (for the `...Problem()` validators). */
  addIf(field: string, message: string | undefined): void {
    if (message !== undefined) this.add(field, message);
  }
}

/** A parsed YAML/JSON mapping, not yet validated. */
export type Mapping = Readonly<Record<string, unknown>>;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** The path of `key` under `parent`: `a.b`, `a[3]`, or `a["odd key"]` for keys that are not identifiers. */
export function fieldPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  if (!IDENTIFIER.test(key)) return `${parent}[${quoteName(key)}]`;
  return parent === '' ? key : `${parent}.${key}`;
}

/** How a value's type reads in a message: "a string", "a list", "null", … (never the value itself). */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return 'a string';
    case 'number':
    case 'bigint':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    case 'object':
      return isMapping(value) ? 'a mapping' : 'an object';
    default:
      return typeof value;
  }
}

/** True for a plain object (what a YAML/JSON mapping parses to). */
export function isMapping(value: unknown): value is Mapping {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Optimal-string-alignment edit distance, bounded: returns `limit + 1` as soon as it is exceeded. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (prev2[j - 2] ?? 0) + 1);
      row.push(d);
    }
    if (Math.min(...row) > limit) return limit + 1;
    prev2 = prev;
    prev = row;
  }
  return prev[b.length] ?? limit + 1;
}

/** The candidate closest to `word` (case-insensitive, within about a third of its length), if any. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of candidates) {
    const d = editDistance(lower, candidate.toLowerCase(), limit);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

/** The message for an unknown field: a suggestion when one is close, else the known fields. */
function unknownFieldMessage(key: string, known: readonly string[]): string {
  const near = closest(key, known);
  if (near !== undefined) return `unknown field (did you mean "${near}"?)`;
  return known.length === 0 ? 'unknown field' : `unknown field (known fields: ${known.join(', ')})`;
}

/**
 * Reads a mapping at `path`: reports a wrong type, and every key outside `known` as an unknown
 * field. Returns the mapping, or undefined when it is not one.
 */
export function readMapping(value: unknown, path: string, known: readonly string[], problems: Problems): Mapping | undefined {
  if (!isMapping(value)) {
    problems.add(path, `must be a mapping (got ${describeType(value)})`);
    return undefined;
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) problems.add(fieldPath(path, key), unknownFieldMessage(key, known));
  }
  return value;
}

/** `obj[key]`, treating null like an absent field (as Kubernetes does for `field:` with no value). */
export function fieldValue(obj: Mapping, key: string): unknown {
  const value = Object.hasOwn(obj, key) ? obj[key] : undefined;
  return value === null ? undefined : value;
}

/** Reports `path` as required when `value` is undefined; returns whether it was present. */
function present(value: unknown, path: string, required: boolean, problems: Problems): boolean {
  if (value !== undefined) return true;
  if (required) problems.add(path, 'required');
  return false;
}

/** Reads a string field; `check` returns why a string is not acceptable. */
export function readString(
  obj: Mapping,
  key: string,
  path: string,
  problems: Problems,
  opts: { required?: boolean; check?: (s: string) => string | undefined } = {},
): string | undefined {
  const field = fieldPath(path, key);
  const value = fieldValue(obj, key);
  if (!present(value, field, opts.required ?? false, problems)) return undefined;
  if (typeof value !== 'string') {
    problems.add(field, `must be a string (got ${describeType(value)})`);
    return undefined;
  }
  const problem = opts.check?.(value);
  if (problem !== undefined) {
    problems.add(field, problem);
    return undefined;
  }
  return value;
}

/** Reads a field that must be one of `allowed`; suggests the closest on a near miss. */
export function readEnum<T extends string>(
  obj: Mapping,
  key: string,
  path: string,
  allowed: readonly T[],
  problems: Problems,
  opts: { required?: boolean } = {},
): T | undefined {
  const check = (s: string): string | undefined => {
    if ((allowed as readonly string[]).includes(s)) return undefined;
    const near = closest(s, allowed);
    return `must be one of ${allowed.join(', ')}${near === undefined ? '' : ` (did you mean "${near}"?)`}`;
  };
  return readString(obj, key, path, problems, { ...opts, check }) as T | undefined;
}

/** Options of readList: whether the list is required or must be non-empty, and what makes two items duplicates. */
export interface ListOptions<T> {
  readonly required?: boolean;
  readonly nonEmpty?: boolean;
  /** Items with equal `key` are duplicates; reported under `field(itemPath)` (default the item itself). */
  readonly unique?: { readonly key: (item: T) => string; readonly field?: (itemPath: string) => string };
}

/**
 * Reads a list field; `item` reads each element (reporting under `path[i]`) and returns it or
 * undefined. Returns the list when every element was read, else undefined.
 */
export function readList<T>(
  obj: Mapping,
  key: string,
  path: string,
  problems: Problems,
  item: (value: unknown, itemPath: string) => T | undefined,
  opts: ListOptions<T> = {},
): T[] | undefined {
  const field = fieldPath(path, key);
  const value = fieldValue(obj, key);
  if (!present(value, field, opts.required ?? false, problems)) return undefined;
  if (!Array.isArray(value)) {
    problems.add(field, `must be a list (got ${describeType(value)})`);
    return undefined;
  }
  if (opts.nonEmpty === true && value.length === 0) problems.add(field, 'must not be empty');
  const out: T[] = [];
  const first = new Map<string, string>();
  value.forEach((element: unknown, i) => {
    const itemPath = fieldPath(field, i);
    const read = item(element, itemPath);
    if (read === undefined) return;
    out.push(read);
    if (opts.unique === undefined) return;
    const dupKey = opts.unique.key(read);
    const at = opts.unique.field ?? ((p: string) => p);
    const seen = first.get(dupKey);
    if (seen === undefined) first.set(dupKey, at(itemPath));
    else problems.add(at(itemPath), `duplicate of ${seen}`);
  });
  return out.length === value.length ? out : undefined;
}

/** Item reader for lists of strings checked by `check` (e.g. nameProblem). */
export function stringItem(problems: Problems, check: (s: string) => string | undefined) {
  return (value: unknown, itemPath: string): string | undefined => {
    if (typeof value !== 'string') {
      problems.add(itemPath, `must be a string (got ${describeType(value)})`);
      return undefined;
    }
    const problem = check(value);
    if (problem !== undefined) {
      problems.add(itemPath, problem);
      return undefined;
    }
    return value;
  };
}

type DefinedKeys<T> = { [K in keyof T]-?: undefined extends T[K] ? never : K }[keyof T];
type OptionalKeys<T> = Exclude<keyof T, DefinedKeys<T>>;
/** `T` with every property that may be undefined made optional instead (for exactOptionalPropertyTypes). */
export type Compact<T> = { [K in DefinedKeys<T>]: T[K] } & { [K in OptionalKeys<T>]?: Exclude<T[K], undefined> };

/** A copy of `obj` without its undefined properties, so optional fields are absent rather than undefined. */
export function compact<T extends object>(obj: T): Compact<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Compact<T>;
}

/** Reads a boolean field. */
export function readBoolean(obj: Mapping, key: string, path: string, problems: Problems): boolean | undefined {
  const field = fieldPath(path, key);
  const value = fieldValue(obj, key);
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') {
    problems.add(field, `must be true or false (got ${describeType(value)})`);
    return undefined;
  }
  return value;
}

/** Reads a whole number field in [min, max]. */
export function readInteger(
  obj: Mapping,
  key: string,
  path: string,
  problems: Problems,
  range: { min: number; max: number },
): number | undefined {
  const field = fieldPath(path, key);
  const value = fieldValue(obj, key);
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    problems.add(field, `must be a whole number (got ${describeType(value)})`);
    return undefined;
  }
  if (value < range.min || value > range.max) {
    problems.add(field, `must be between ${range.min} and ${range.max}`);
    return undefined;
  }
  return value;
}

/** Reads an optional mapping at `obj[key]`; undefined when absent or not a mapping (reported). */
export function readChild(
  obj: Mapping,
  key: string,
  path: string,
  known: readonly string[],
  problems: Problems,
): Mapping | undefined {
  const value = fieldValue(obj, key);
  return value === undefined ? undefined : readMapping(value, fieldPath(path, key), known, problems);
}
