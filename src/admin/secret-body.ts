/**
 * Parses the JSON bodies of the secrets API into typed values, once. Values arrive as UTF-8
 * strings in `data` or as base64 in `binaryData` (for bytes that are not UTF-8), as in a
 * Kubernetes Secret's stringData / data.
 */
import { PaiError } from '../errors.js';
import { quoteName } from '../resources/names.js';

export interface SecretBody {
  readonly name: string | undefined;
  readonly data: Map<string, Buffer>;
  readonly remove: string[];
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function invalid(message: string, field: string): PaiError {
  return new PaiError('invalid', message, { details: { field } });
}

function stringMap(body: Record<string, unknown>, field: 'data' | 'binaryData', into: Map<string, Buffer>): void {
  const raw = body[field];
  if (raw === undefined) return;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw invalid(`${field} must be an object of key → string`, field);
  }
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value !== 'string') throw invalid(`${field}.${key} must be a string`, `${field}.${key}`);
    if (into.has(key)) throw invalid(`key ${quoteName(key)} is given twice (in data and binaryData)`, `${field}.${key}`);
    if (field === 'binaryData') {
      if (value.length % 4 !== 0 || !BASE64.test(value)) throw invalid(`${field}.${key} must be base64`, `${field}.${key}`);
      into.set(key, Buffer.from(value, 'base64'));
    } else {
      into.set(key, Buffer.from(value, 'utf8'));
    }
  }
}

/**
 * Parses a create/replace/patch body. `allowed` lists the top-level fields the operation accepts;
 * any other field is rejected by name.
 */
export function parseSecretBody(body: Record<string, unknown>, allowed: readonly string[]): SecretBody {
  for (const field of Object.keys(body)) {
    if (!allowed.includes(field)) {
      throw invalid(`unknown field ${quoteName(field)} (expected ${allowed.join(', ')})`, field);
    }
  }
  const name = body['name'];
  if (name !== undefined && typeof name !== 'string') throw invalid('name must be a string', 'name');
  const data = new Map<string, Buffer>();
  stringMap(body, 'data', data);
  stringMap(body, 'binaryData', data);
  const remove = body['remove'];
  if (remove !== undefined && (!Array.isArray(remove) || remove.some((k) => typeof k !== 'string'))) {
    throw invalid('remove must be a list of key names', 'remove');
  }
  const removeList = (remove as string[] | undefined) ?? [];
  if (new Set(removeList).size !== removeList.length) throw invalid('remove lists a key twice', 'remove');
  return { name, data, remove: removeList };
}
