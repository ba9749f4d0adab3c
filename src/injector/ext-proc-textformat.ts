/**
 * A reader for protobuf *text format*, just enough for what Envoy prints: Envoy hands message-valued
 * CEL attributes (such as `xds.route_metadata`, an envoy.config.core.v3.Metadata) to ext_proc as
 * one-line text format (`ShortDebugString`). Written by hand because no maintained JavaScript
 * library parses text format (protobufjs reads .proto files and binary/JSON, not text format).
 *
 * Grammar (protobuf's text format spec, the parts a printer emits): a message is a sequence of
 * fields `name: scalar`, `name { message }` or `name < message >` (the colon optional before a
 * message), optionally separated by `,` or `;`; names are identifiers or `[type.url/...]`
 * (extensions, expanded Any); scalars are quoted strings (adjacent ones concatenated, C escapes),
 * numbers, identifiers (enums, true/false) or `[a, b]` lists. The result is an untyped tree: field
 * names with their values in order, so that callers decide what a well-formed document is.
 */

export type TextValue =
  | { readonly kind: 'scalar'; readonly text: string; readonly quoted: boolean }
  | { readonly kind: 'message'; readonly fields: TextFields };

/** The fields of one message, in order, repeated names kept. */
export type TextFields = readonly (readonly [string, TextValue])[];

/** A text-format document that does not parse; the message names the position, never the text. */
export class TextFormatError extends Error {
  override readonly name = 'TextFormatError';
}

const MAX_INPUT = 64 * 1024;
const MAX_DEPTH = 32;
const IDENT = /[A-Za-z0-9_.+-]/;

class Reader {
  private pos = 0;

  constructor(private readonly src: string) {}

  fail(what: string): never {
    throw new TextFormatError(`text format: ${what} at offset ${this.pos}`);
  }

  private skipSpace(): void {
    const s = this.src;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.pos++;
      else if (c === 0x23 /* # comment */) {
        while (this.pos < s.length && s.charCodeAt(this.pos) !== 0x0a) this.pos++;
      } else break;
    }
  }

  peek(): string {
    this.skipSpace();
    return this.src.charAt(this.pos);
  }

  eat(ch: string): boolean {
    if (this.peek() !== ch) return false;
    this.pos++;
    return true;
  }

  expect(ch: string): void {
    if (!this.eat(ch)) this.fail(`expected "${ch}"`);
  }

  atEnd(): boolean {
    this.skipSpace();
    return this.pos >= this.src.length;
  }

  identifier(): string {
    this.skipSpace();
    const start = this.pos;
    while (this.pos < this.src.length && IDENT.test(this.src.charAt(this.pos))) this.pos++;
    if (this.pos === start) this.fail('expected a name or value');
    return this.src.slice(start, this.pos);
  }

  /** `[type.googleapis.com/x.y]` or `[ext.name]`, returned with its brackets. */
  bracketName(): string {
    const start = this.pos;
    const close = this.src.indexOf(']', start);
    if (close === -1) this.fail('unterminated "["');
    this.pos = close + 1;
    return this.src.slice(start - 1, close + 1).replace(/\s+/g, '');
  }

  /** One or more adjacent quoted strings, concatenated and unescaped (bytes decoded as UTF-8). */
  strings(): string {
    const bytes: number[] = [];
    while (this.peek() === '"' || this.peek() === "'") this.quoted(bytes);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
    } catch {
      return this.fail('string is not valid UTF-8');
    }
  }

  private quoted(out: number[]): void {
    const s = this.src;
    const quote = s.charAt(this.pos++);
    for (;;) {
      if (this.pos >= s.length) this.fail('unterminated string');
      const c = s.charAt(this.pos++);
      if (c === quote) return;
      if (c === '\n') this.fail('line break in string');
      if (c !== '\\') {
        for (const b of Buffer.from(c, 'utf8')) out.push(b);
        continue;
      }
      this.escape(out);
    }
  }

  private escape(out: number[]): void {
    const s = this.src;
    const e = s.charAt(this.pos++);
    const simple: Record<string, number> = { n: 10, r: 13, t: 9, a: 7, b: 8, f: 12, v: 11, '\\': 92, "'": 39, '"': 34, '?': 63 };
    const known = simple[e];
    if (known !== undefined) {
      out.push(known);
    } else if (e >= '0' && e <= '7') {
      let n = Number(e);
      for (let i = 0; i < 2 && /[0-7]/.test(s.charAt(this.pos)); i++) n = n * 8 + Number(s.charAt(this.pos++));
      if (n > 255) this.fail('octal escape out of range');
      out.push(n);
    } else if (e === 'x') {
      const m = /^[0-9A-Fa-f]{1,2}/.exec(s.slice(this.pos, this.pos + 2));
      if (!m) this.fail('bad \\x escape');
      this.pos += m[0].length;
      out.push(parseInt(m[0], 16));
    } else if (e === 'u' || e === 'U') {
      const len = e === 'u' ? 4 : 8;
      const hex = s.slice(this.pos, this.pos + len);
      const code = /^[0-9A-Fa-f]+$/.test(hex) && hex.length === len ? parseInt(hex, 16) : NaN;
      if (!(code >= 0 && code <= 0x10ffff)) this.fail('bad unicode escape');
      this.pos += len;
      for (const b of Buffer.from(String.fromCodePoint(code), 'utf8')) out.push(b);
    } else {
      this.fail('unknown escape');
    }
  }
}

function scalar(r: Reader): TextValue {
  const c = r.peek();
  if (c === '"' || c === "'") return { kind: 'scalar', text: r.strings(), quoted: true };
  const negative = r.eat('-');
  const text = r.identifier();
  return { kind: 'scalar', text: negative ? `-${text}` : text, quoted: false };
}

function message(r: Reader, depth: number, close: string | undefined): TextFields {
  if (depth > MAX_DEPTH) r.fail('nesting too deep');
  const fields: [string, TextValue][] = [];
  for (;;) {
    if (close === undefined ? r.atEnd() : r.eat(close)) return fields;
    if (close !== undefined && r.atEnd()) r.fail(`expected "${close}"`);
    const name = r.eat('[') ? r.bracketName() : r.identifier();
    const colon = r.eat(':');
    const open = r.peek();
    if (open === '{' || open === '<') {
      r.eat(open);
      fields.push([name, { kind: 'message', fields: message(r, depth + 1, open === '{' ? '}' : '>') }]);
    } else if (!colon) {
      r.fail(`expected ":" after ${JSON.stringify(name)}`);
    } else if (r.eat('[')) {
      // A list of scalars or messages: each element becomes one occurrence of the field.
      if (!r.eat(']')) {
        do {
          const p = r.peek();
          if (p === '{' || p === '<') {
            r.eat(p);
            fields.push([name, { kind: 'message', fields: message(r, depth + 1, p === '{' ? '}' : '>') }]);
          } else {
            fields.push([name, scalar(r)]);
          }
        } while (r.eat(','));
        r.expect(']');
      }
    } else {
      fields.push([name, scalar(r)]);
    }
    if (!r.eat(',')) r.eat(';');
  }
}

/** Parses one text-format message. Throws TextFormatError for anything that does not parse. */
export function parseTextFormat(text: string): TextFields {
  if (text.length > MAX_INPUT) throw new TextFormatError(`text format: input longer than ${MAX_INPUT} characters`);
  return message(new Reader(text), 0, undefined);
}

/** Every value of field `name` in `fields`. */
export function fieldValues(fields: TextFields, name: string): TextValue[] {
  return fields.filter(([n]) => n === name).map(([, v]) => v);
}

/**
 * The value of the map entry with string key `key` in map field `name` (a map is printed as
 * repeated `name { key: "…" value … }` entries). Undefined when absent; throws TextFormatError when
 * the key occurs more than once (ambiguous) or an entry is malformed.
 */
export function mapEntry(fields: TextFields, name: string, key: string): TextValue | undefined {
  let found: TextValue | undefined;
  let seen = false;
  for (const entry of fieldValues(fields, name)) {
    if (entry.kind !== 'message') throw new TextFormatError(`text format: map ${name} has a malformed entry`);
    const keys = fieldValues(entry.fields, 'key');
    const k = keys[0];
    if (keys.length !== 1 || k?.kind !== 'scalar') throw new TextFormatError(`text format: map ${name} entry without one key`);
    if (k.text !== key) continue;
    if (seen) throw new TextFormatError(`text format: map ${name} repeats key ${JSON.stringify(key)}`);
    seen = true;
    const values = fieldValues(entry.fields, 'value');
    if (values.length > 1) throw new TextFormatError(`text format: map ${name} entry with more than one value`);
    found = values[0];
  }
  return found;
}
