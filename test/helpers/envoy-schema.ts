/**
 * A strict checker for Envoy bootstrap YAML against Envoy's own config protos (the copies shipped in
 * @grpc/grpc-js-xds). No Envoy binary can be installed here, so this stands in for
 * `envoy --mode validate` as far as the protos can say: field names, types, enums, oneofs, `Any`
 * types, deprecated fields and the simple `validate.rules` (required, min_len, min_items, ranges).
 *
 * Written by hand because protobufjs's `fromObject` coerces values and drops unknown fields, and no
 * library checks proto3 JSON strictly against a reflected schema (STYLE.md habit 10).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import protobuf from 'protobufjs';
import { parseDocument } from 'yaml';
import type { ScalarTag } from 'yaml';

const require = createRequire(import.meta.url);
const DEPS = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
// descriptor.proto (extended by the validate/udpa annotations) ships with protobufjs, not the deps.
const INCLUDE_DIRS = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate']
  .map((d) => path.join(DEPS, d))
  .concat(path.dirname(require.resolve('protobufjs/package.json')));
const ENTRY_DIRS = ['envoy/config', 'envoy/extensions'];
const EXTRA_ENTRIES = ['xds/type/v3/typed_struct.proto', 'udpa/type/v1/typed_struct.proto'];
const TYPE_URL_PREFIX = 'type.googleapis.com/';
const WKT = 'google.protobuf.';
const WRAPPERS: Record<string, string> = {
  DoubleValue: 'double',
  FloatValue: 'float',
  Int64Value: 'int64',
  UInt64Value: 'uint64',
  Int32Value: 'int32',
  UInt32Value: 'uint32',
  BoolValue: 'bool',
  StringValue: 'string',
  BytesValue: 'bytes',
};
const INT_RANGES: Record<string, [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  sint32: [-(2n ** 31n), 2n ** 31n - 1n],
  sfixed32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  fixed32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  sint64: [-(2n ** 63n), 2n ** 63n - 1n],
  sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  fixed64: [0n, 2n ** 64n - 1n],
};
// Well-known types whose JSON form is not an object of their fields: inside an Any they sit in "value".
const SPECIAL_JSON = new Set([
  ...Object.keys(WRAPPERS),
  'Duration',
  'Timestamp',
  'FieldMask',
  'Struct',
  'ListValue',
  'Value',
  'Any',
]);
const DURATION = /^-?\d+(\.\d{1,9})?s$/;
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/;

let cachedRoot: protobuf.Root | undefined;

function locate(file: string): string | undefined {
  for (const dir of INCLUDE_DIRS) {
    const full = path.join(dir, file);
    if (existsSync(full)) return full;
  }
  return undefined;
}

function protoFilesUnder(dir: string): string[] {
  return readdirSync(path.join(DEPS, 'envoy-api', dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.proto') && f.split(path.sep).includes('v3'))
    .map((f) => path.posix.join(dir, f.split(path.sep).join('/')));
}

/**
 * True when `file` and everything it imports exist. The deps lack opencensus and opentelemetry, so
 * three entry protos are left out (trace/v3/opencensus, trace/v3/trace, access_loggers/open_telemetry);
 * their types then fail as unresolvable, which no config here uses.
 */
function importsResolve(file: string, memo: Map<string, boolean>): boolean {
  if (file in protobuf.common) return true;
  const known = memo.get(file);
  if (known !== undefined) return known;
  memo.set(file, true); // cycles: assume fine while visiting
  const full = locate(file);
  const imports = full ? [...readFileSync(full, 'utf8').matchAll(/^import\s+(?:public\s+|weak\s+)?"([^"]+)";/gm)] : [];
  const ok = full !== undefined && imports.every((m) => importsResolve(m[1] ?? '', memo));
  memo.set(file, ok);
  return ok;
}

/**
 * Loads (once per process) Envoy's v3 config and extension protos and resolves every type.
 * Returns the shared root; throws if protobufjs cannot parse a proto.
 */
export function loadEnvoyRoot(): protobuf.Root {
  if (cachedRoot) return cachedRoot;
  const memo = new Map<string, boolean>();
  const entries = [...ENTRY_DIRS.flatMap(protoFilesUnder), ...EXTRA_ENTRIES].filter((f) => importsResolve(f, memo));
  const root = new protobuf.Root();
  // Unknown targets fall through to protobufjs's bundled google/protobuf/*.proto.
  root.resolvePath = (_origin, target) => locate(target) ?? target;
  root.loadSync(entries, { keepCase: true });
  root.resolveAll();
  cachedRoot = root;
  return root;
}

// Envoy reads YAML with yaml-cpp and turns plain scalars into JSON by trying bool, then integer,
// then number (source/common/protobuf/yaml_utility.cc). yaml-cpp's bools include y/n/yes/no/on/off,
// and its integers read a leading 0 as octal; mirror both, so that `value: on` in a string field is
// caught and `mode: 0600` means 384 here as it does in Envoy.
const yamlCppBool: ScalarTag = {
  tag: 'tag:yaml.org,2002:bool',
  default: true,
  test: /^(?:[yY]|[yY]es|YES|[nN]|[nN]o|NO|[tT]rue|TRUE|[fF]alse|FALSE|[oO]n|ON|[oO]ff|OFF)$/,
  resolve: (s: string) => /^(?:[yY]|[yY]es|YES|[tT]rue|TRUE|[oO]n|ON)$/.test(s),
};
const yamlCppOctal: ScalarTag = {
  tag: 'tag:yaml.org,2002:int',
  default: true,
  test: /^[-+]?0[0-7]+$/,
  resolve: (s: string) => parseInt(s, 8),
};

/**
 * Checks an Envoy bootstrap YAML document against envoy.config.bootstrap.v3.Bootstrap.
 * Returns one problem per line ("path: what is wrong"); an empty list means valid. Never throws
 * for bad input.
 */
export function validateEnvoyBootstrap(yamlText: string): string[] {
  const doc = parseDocument(yamlText, { customTags: (tags) => [yamlCppBool, yamlCppOctal, ...tags], uniqueKeys: true });
  const yamlErrors = [...doc.errors, ...doc.warnings].map((e) => `yaml: ${e.message}`);
  if (yamlErrors.length > 0) return yamlErrors;
  return validateEnvoyMessage('envoy.config.bootstrap.v3.Bootstrap', doc.toJS({ maxAliasCount: 1000 }));
}

/**
 * Checks a parsed JSON/YAML value against the Envoy message `typeName` (e.g. a rendered Cluster).
 * Returns the problems found; throws if `typeName` is not a loaded message type.
 */
export function validateEnvoyMessage(typeName: string, value: unknown): string[] {
  const problems: string[] = [];
  const type = loadEnvoyRoot().lookupType(typeName);
  new Checker(problems).message(type, value, '');
  return problems;
}

type Fields = Map<string, protobuf.Field>;
const fieldIndex = new WeakMap<protobuf.Type, Fields>();

function fieldsByName(type: protobuf.Type): Fields {
  let index = fieldIndex.get(type);
  if (!index) {
    index = new Map();
    for (const f of type.fieldsArray) {
      index.set(f.name, f);
      index.set((f.options?.json_name as string | undefined) ?? camel(f.name), f);
    }
    fieldIndex.set(type, index);
  }
  return index;
}

function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function join(at: string, key: string): string {
  return at === '' ? key : `${at}.${key}`;
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  return typeof v === 'object' ? 'object' : typeof v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function rule(f: protobuf.Field | protobuf.OneOf, name: string): unknown {
  return f.options?.[`(validate.rules).${name}`];
}

/** Walks a value against a message type, collecting problems with their paths. */
class Checker {
  constructor(private readonly problems: string[]) {}

  private fail(at: string, message: string): void {
    this.problems.push(`${at === '' ? '(root)' : at}: ${message}`);
  }

  message(type: protobuf.Type, value: unknown, at: string): void {
    const name = type.fullName.slice(1);
    if (name.startsWith(WKT) && this.wellKnown(name.slice(WKT.length), value, at)) return;
    if (!isObject(value)) return this.fail(at, `expected an object for ${name}, got ${kind(value)}`);
    const index = fieldsByName(type);
    const seen = new Map<protobuf.Field, string>();
    const oneofSet = new Map<protobuf.OneOf, string>();
    for (const [key, v] of Object.entries(value)) {
      const field = index.get(key);
      const fieldAt = join(at, key);
      if (!field) {
        this.fail(fieldAt, `unknown field in ${name}`);
        continue;
      }
      const twice = seen.get(field);
      if (twice !== undefined) this.fail(fieldAt, `field ${field.name} is also set as ${twice}`);
      seen.set(field, key);
      if (field.options?.deprecated === true) this.fail(fieldAt, `deprecated field ${name}.${field.name}`);
      if (v === null && field.resolvedType?.fullName !== `.${WKT}Value`) continue; // proto3 JSON: null = unset
      const oneof = field.partOf;
      if (oneof) {
        const other = oneofSet.get(oneof);
        if (other !== undefined) this.fail(fieldAt, `oneof ${oneof.name} already set by ${other}`);
        oneofSet.set(oneof, key);
      }
      this.field(field, v, fieldAt);
    }
    this.required(type, value, seen, oneofSet, at);
  }

  private required(
    type: protobuf.Type,
    value: Record<string, unknown>,
    seen: Map<protobuf.Field, string>,
    oneofSet: Map<protobuf.OneOf, string>,
    at: string,
  ): void {
    for (const f of type.fieldsArray) {
      const key = seen.get(f);
      const v = key === undefined ? undefined : value[key];
      const fieldAt = join(at, f.name);
      if (v === undefined || v === null) {
        // PGV checks a oneof member's rules only when that member is the one set.
        if (f.partOf) continue;
        const needed = ['message', 'duration', 'any', 'timestamp'].some((k) => rule(f, `${k}.required`) === true);
        const least = rule(f, 'string.min_len') ?? rule(f, 'string.min_bytes') ?? rule(f, 'repeated.min_items');
        if (needed || (typeof least === 'number' && least > 0)) this.fail(fieldAt, 'required field is missing');
        continue;
      }
      const minLen = rule(f, 'string.min_len') ?? rule(f, 'string.min_bytes');
      if (typeof minLen === 'number' && typeof v === 'string' && v.length < minLen) {
        this.fail(fieldAt, `must be at least ${minLen} characters long`);
      }
      const minItems = rule(f, 'repeated.min_items');
      if (typeof minItems === 'number' && Array.isArray(v) && v.length < minItems) {
        this.fail(fieldAt, `needs at least ${minItems} item(s)`);
      }
    }
    for (const o of type.oneofsArray) {
      if (o.options?.['(validate.required)'] === true && !oneofSet.has(o)) {
        this.fail(at, `one of ${o.oneof.join(', ')} is required (oneof ${o.name})`);
      }
    }
  }

  private field(f: protobuf.Field, v: unknown, at: string): void {
    if (f instanceof protobuf.MapField) {
      if (!isObject(v)) return this.fail(at, `expected an object (map), got ${kind(v)}`);
      const keyType = f.keyType;
      for (const [k, item] of Object.entries(v)) {
        // JSON map keys are strings; non-string key types must still parse as that type.
        if (keyType === 'bool' && k !== 'true' && k !== 'false') this.fail(`${at}["${k}"]`, 'map key must be true or false');
        if (keyType !== 'string' && keyType !== 'bool') this.scalar(keyType, k, `${at}["${k}"]`);
        this.single(f, item, `${at}["${k}"]`);
      }
    } else if (f.repeated) {
      if (!Array.isArray(v)) return this.fail(at, `expected a list, got ${kind(v)}`);
      v.forEach((item, i) => (item === null ? this.fail(`${at}[${i}]`, 'null in a list') : this.single(f, item, `${at}[${i}]`)));
    } else {
      this.single(f, v, at);
    }
  }

  private single(f: protobuf.Field, v: unknown, at: string): void {
    const t = f.resolvedType;
    const wrapped = t instanceof protobuf.Type && t.fullName.startsWith(`.${WKT}`) ? WRAPPERS[t.name] : undefined;
    if (wrapped) {
      if (this.scalar(wrapped, v, at)) this.range(f, wrapped, v, at);
      return;
    }
    if (t instanceof protobuf.Type) return this.message(t, v, at);
    if (t instanceof protobuf.Enum) return this.enumValue(t, v, at);
    if (this.scalar(f.type, v, at)) this.range(f, f.type, v, at);
  }

  private enumValue(e: protobuf.Enum, v: unknown, at: string): void {
    const name = e.fullName.slice(1);
    if (typeof v === 'string') {
      if (!(v in e.values)) return this.fail(at, `"${v}" is not a value of enum ${name} (${Object.keys(e.values).join(', ')})`);
      if (e.valuesOptions?.[v]?.deprecated === true) this.fail(at, `deprecated enum value ${name}.${v}`);
    } else if (typeof v === 'number') {
      if (!Object.values(e.values).includes(v)) this.fail(at, `${v} is not a number of enum ${name}`);
    } else {
      this.fail(at, `expected an enum name or number for ${name}, got ${kind(v)}`);
    }
  }

  /** Checks a proto3 JSON scalar; returns true when the value has the right type. */
  private scalar(type: string, v: unknown, at: string): boolean {
    const bad = (what: string): boolean => {
      this.fail(at, `expected ${what} (${type}), got ${kind(v)} ${JSON.stringify(v)}`);
      return false;
    };
    const ints = INT_RANGES[type];
    if (ints) {
      const text =
        typeof v === 'number' && Number.isInteger(v) ? String(v) : typeof v === 'string' && /^-?\d+$/.test(v) ? v : undefined;
      if (text === undefined) return bad('an integer');
      if (BigInt(text) < ints[0] || BigInt(text) > ints[1]) return bad('an integer in range');
      return true;
    }
    switch (type) {
      case 'double':
      case 'float':
        return (
          typeof v === 'number' ||
          (typeof v === 'string' && /^(NaN|-?Infinity|-?\d+(\.\d+)?([eE][-+]?\d+)?)$/.test(v)) ||
          bad('a number')
        );
      case 'bool':
        return typeof v === 'boolean' || bad('true or false');
      case 'string':
        return typeof v === 'string' || bad('a string');
      case 'bytes':
        return (typeof v === 'string' && /^[A-Za-z0-9+/_-]*={0,2}$/.test(v)) || bad('base64 bytes');
      default:
        return bad(`a known scalar type`);
    }
  }

  /** Numeric `validate.rules` (gt, gte, lt, lte) on a scalar or wrapper field. */
  private range(f: protobuf.Field, type: string, v: unknown, at: string): void {
    const n = Number(v);
    const check = (op: string, ok: (b: number) => boolean): void => {
      const bound = rule(f, `${type}.${op}`);
      if (typeof bound === 'number' && !ok(bound)) this.fail(at, `${n} violates validate rule ${op} ${bound}`);
    };
    check('gt', (b) => n > b);
    check('gte', (b) => n >= b);
    check('lt', (b) => n < b);
    check('lte', (b) => n <= b);
  }

  /** Well-known types with a special JSON form; returns false for those mapped like plain messages. */
  private wellKnown(short: string, v: unknown, at: string): boolean {
    const wrapped = WRAPPERS[short];
    if (wrapped) {
      this.scalar(wrapped, v, at);
      return true;
    }
    switch (short) {
      case 'Duration':
        if (typeof v !== 'string' || !DURATION.test(v))
          this.fail(at, `expected a duration string like "1.5s", got ${JSON.stringify(v)}`);
        return true;
      case 'Timestamp':
        if (typeof v !== 'string' || !TIMESTAMP.test(v))
          this.fail(at, `expected an RFC 3339 timestamp, got ${JSON.stringify(v)}`);
        return true;
      case 'FieldMask':
        if (typeof v !== 'string') this.fail(at, `expected a field mask string, got ${kind(v)}`);
        return true;
      case 'Struct':
        if (!isObject(v)) this.fail(at, `expected an object (Struct), got ${kind(v)}`);
        return true;
      case 'ListValue':
        if (!Array.isArray(v)) this.fail(at, `expected a list (ListValue), got ${kind(v)}`);
        return true;
      case 'Value':
        return true;
      case 'Any':
        this.any(v, at);
        return true;
      default:
        return false;
    }
  }

  private any(v: unknown, at: string): void {
    if (!isObject(v)) return this.fail(at, `expected an object with "@type" (Any), got ${kind(v)}`);
    const url = v['@type'];
    if (typeof url !== 'string') return this.fail(join(at, '@type'), 'missing "@type" in Any');
    if (!url.startsWith(TYPE_URL_PREFIX)) return this.fail(join(at, '@type'), `type URL must start with ${TYPE_URL_PREFIX}`);
    const type = this.resolve(url.slice(TYPE_URL_PREFIX.length), join(at, '@type'));
    if (!type) return;
    const { ['@type']: _url, ...rest } = v;
    const name = type.fullName.slice(1);
    if (name.startsWith(WKT) && SPECIAL_JSON.has(type.name)) {
      const extra = Object.keys(rest).filter((k) => k !== 'value');
      for (const k of extra) this.fail(join(at, k), `unknown field in Any of ${name} (only "value")`);
      return this.message(type, rest['value'], join(at, 'value'));
    }
    this.message(type, rest, at);
    // Envoy unpacks a TypedStruct into the message its type_url names; check it as that message.
    if ((name === 'xds.type.v3.TypedStruct' || name === 'udpa.type.v1.TypedStruct') && typeof rest['type_url'] === 'string') {
      const inner = this.resolve(rest['type_url'].replace(/^.*\//, ''), join(at, 'type_url'));
      if (inner) this.message(inner, rest['value'] ?? {}, join(at, 'value'));
    }
  }

  private resolve(name: string, at: string): protobuf.Type | undefined {
    const found = loadEnvoyRoot().lookup(`.${name}`);
    if (found instanceof protobuf.Type) return found;
    this.fail(at, `unresolvable type ${name} (not in the loaded Envoy protos)`);
    return undefined;
  }
}
