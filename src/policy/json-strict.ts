/**
 * Strict JSON for policy decisions on request bodies. JSON.parse keeps the last of two equal keys,
 * other parsers keep the first, and Go's encoding/json matches keys case-insensitively (Unicode
 * simple folding): `{"name":"a","NAME":"b"}` means "a" to one server and "b" to another. A policy
 * must read exactly what the upstream reads, so an object with two keys that are equal after
 * decoding and case folding is refused, and fields are looked up by folded name.
 * The syntax is checked by @humanwhocodes/momoa (ESLint's JSON parser, RFC 8259 mode), whose AST
 * keeps every member, duplicates included.
 */
import { parse } from '@humanwhocodes/momoa';
import type { ValueNode } from '@humanwhocodes/momoa';

/** A JSON object: `fields` by folded key (see foldKey; lookups go through jsonField), `keys` as written, in order. */
export interface JsonObject {
  readonly kind: 'object';
  readonly fields: ReadonlyMap<string, JsonValue>;
  readonly keys: readonly string[];
}
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | JsonObject;

/** The key as every server will compare it: Unicode-folded (ſ → s, K → k) and lower-cased. */
export function foldKey(key: string): string {
  return key.toUpperCase().toLowerCase();
}

export type StrictJson = { readonly ok: true; readonly value: JsonValue } | { readonly ok: false; readonly why: string };

const MAX_DEPTH = 64;

function convert(node: ValueNode, depth: number): JsonValue {
  if (depth > MAX_DEPTH) throw new RangeError(`nested deeper than ${MAX_DEPTH}`);
  switch (node.type) {
    case 'Null':
      return null;
    case 'Boolean':
    case 'Number':
    case 'String':
      return node.value;
    case 'Array':
      return node.elements.map((e) => convert(e.value, depth + 1));
    case 'Object': {
      const fields = new Map<string, JsonValue>();
      const keys: string[] = [];
      for (const member of node.members) {
        if (member.name.type !== 'String') throw new SyntaxError('object key is not a string');
        const key = foldKey(member.name.value);
        if (fields.has(key)) throw new SyntaxError(`duplicate key ${JSON.stringify(member.name.value.slice(0, 40))}`);
        fields.set(key, convert(member.value, depth + 1));
        keys.push(member.name.value);
      }
      return { kind: 'object', fields, keys };
    }
    default:
      throw new SyntaxError(`not JSON: ${node.type}`);
  }
}

/** Parses `text` as strict JSON: refused (ok false, with the reason) on a syntax error, a duplicated key, or nesting deeper than 64. */
export function parseStrictJson(text: string): StrictJson {
  try {
    const value = convert(parse(text, { mode: 'json' }).body, 0);
    // momoa accepts raw control characters inside strings; JSON.parse (what Node servers and
    // clients use) does not. Refuse whatever either refuses.
    JSON.parse(text);
    return { ok: true, value };
  } catch (err: unknown) {
    const why = err instanceof Error ? err.message : 'unparsable';
    // momoa's messages quote positions and the unexpected character, never whole values.
    return { ok: false, why: why.length > 120 ? `${why.slice(0, 120)}…` : why };
  }
}

/** True when `v` is a JSON object. */
export function isJsonObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && (v as JsonObject).kind === 'object';
}

/** The field `name` of `obj` (looked up case-folded), or undefined. */
export function jsonField(obj: JsonValue | undefined, name: string): JsonValue | undefined {
  return isJsonObject(obj) ? obj.fields.get(foldKey(name)) : undefined;
}

/** The string field `name` of `obj`, or undefined when absent or not a string. */
export function jsonString(obj: JsonValue | undefined, name: string): string | undefined {
  const v = jsonField(obj, name);
  return typeof v === 'string' ? v : undefined;
}
