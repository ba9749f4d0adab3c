/**
 * Protocol Buffers wire format, read by hand for the few small messages the injector decodes on
 * its own (check-decode.ts: CheckRequest; health.ts: grpc.health.v1), with protobufjs's rules:
 * varints as unsigned 32-bit (higher bits dropped), lengths bounded by the enclosing message,
 * UTF-8 with invalid sequences replaced, unknown fields and groups skipped, wire types 6 and 7
 * refused. Every malformed input throws ProtoWireError.
 */
export const VARINT = 0;
const FIXED64 = 1;
export const LENGTH = 2;
const START_GROUP = 3;
const END_GROUP = 4;
const FIXED32 = 5;
/** Deepest nesting of (deprecated) groups skipped; protobuf's own parsers stop at 100 levels of recursion. */
const MAX_GROUP_DEPTH = 64;

/** Malformed protobuf bytes (grpc-js answers a request that throws it with INTERNAL). */
export class ProtoWireError extends Error {
  override readonly name = 'ProtoWireError';
}

/** Node's Buffer method behind toString('utf8', start, end), without its argument normalization. */
interface Utf8Sliceable {
  utf8Slice(start: number, end: number): string;
}

/** A cursor over `buf`, bounded by `end` for the message being read. */
export class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    pos: number,
    public end: number,
  ) {
    this.pos = pos;
  }

  /** A varint as an unsigned 32-bit number (higher bits dropped, as protobufjs's uint32 does). */
  uint32(): number {
    const buf = this.buf;
    let value = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.pos >= this.end) throw new ProtoWireError('truncated varint');
      const byte = buf[this.pos++] as number;
      if (shift < 32) value |= (byte & 0x7f) << shift;
      if (byte < 0x80) return value >>> 0;
    }
    throw new ProtoWireError('varint longer than 10 bytes');
  }

  /** The end offset of a length-delimited field starting here (the length is consumed). */
  length(): number {
    const length = this.uint32();
    const end = this.pos + length;
    if (end > this.end) throw new ProtoWireError('length past the end of the message');
    return end;
  }

  string(): string {
    const end = this.length();
    const text = (this.buf as unknown as Utf8Sliceable).utf8Slice(this.pos, end);
    this.pos = end;
    return text;
  }

  bytes(): Buffer {
    const end = this.length();
    const bytes = this.buf.subarray(this.pos, end);
    this.pos = end;
    return bytes;
  }

  /** Skips the value of a field of `wireType` (a group up to its matching end). */
  skip(wireType: number, depth = 0): void {
    switch (wireType) {
      case VARINT:
        this.uint32();
        return;
      case FIXED64:
        this.advance(8);
        return;
      case LENGTH:
        this.pos = this.length();
        return;
      case START_GROUP:
        // Bounded: a message of nested start-group tags (one byte each) must not exhaust the stack.
        if (depth >= MAX_GROUP_DEPTH) throw new ProtoWireError(`groups nested deeper than ${MAX_GROUP_DEPTH}`);
        for (;;) {
          const tag = this.uint32();
          if ((tag & 7) === END_GROUP) return;
          this.skip(tag & 7, depth + 1);
        }
      case FIXED32:
        this.advance(4);
        return;
      default:
        throw new ProtoWireError(`invalid wire type ${wireType}`);
    }
  }

  private advance(n: number): void {
    if (this.pos + n > this.end) throw new ProtoWireError('truncated fixed-width field');
    this.pos += n;
  }

  /** A reader over the length-delimited field starting here; this one moves past it. */
  sub(): Reader {
    const end = this.length();
    const sub = new Reader(this.buf, this.pos, end);
    this.pos = end;
    return sub;
  }
}

/**
 * Stores a map entry in a plain object, the form protobufjs's toObject gives a map: `__proto__`,
 * the one key an assignment would not store (it would set the prototype), is defined as an own
 * property instead, as protobufjs 7.6 keeps it.
 */
export function putEntry<V>(into: Record<string, V>, key: string, value: V): void {
  if (key === '__proto__') Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true });
  else into[key] = value;
}

/** The bytes of `n` (an unsigned 32-bit number) as a varint. */
export function varint(n: number): number[] {
  const out: number[] = [];
  let v = n >>> 0;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

/** A length-delimited field: its tag, the length of `payload`, then `payload`. */
export function lengthDelimited(field: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([...varint((field << 3) | LENGTH), ...varint(payload.length)]), payload]);
}

/** Whether every UTF-16 unit of `text` (under 128 long) is ASCII. */
function isShortAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return false;
  return true;
}

/**
 * A protobuf encoder writing into one growing buffer: fields are written in the order they are
 * called (callers write them in field-number order, as protobufjs's generated encoders do), and a
 * nested message is written in place between `begin` and `end`. Proto3 defaults are the caller's
 * to omit.
 */
export class Writer {
  private buf: Buffer;
  private pos = 0;

  constructor(size = 128) {
    this.buf = Buffer.allocUnsafe(size);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  /** An unsigned 32-bit varint (a negative int32 is written sign-extended to 10 bytes, as protobuf does). */
  varint(n: number): this {
    this.ensure(10);
    const buf = this.buf;
    if (n < 0) {
      // Two's complement over 64 bits: the low 32 bits, then all ones.
      let low = n >>> 0;
      for (let i = 0; i < 4; i++) {
        buf[this.pos++] = (low & 0x7f) | 0x80;
        low >>>= 7;
      }
      buf[this.pos++] = (low & 0x0f) | 0xf0;
      for (let i = 0; i < 4; i++) buf[this.pos++] = 0xff;
      buf[this.pos++] = 0x01;
      return this;
    }
    let v = n >>> 0;
    while (v > 0x7f) {
      buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[this.pos++] = v;
    return this;
  }

  tag(field: number, wireType: number): this {
    return this.varint(((field << 3) | wireType) >>> 0);
  }

  /** A varint field (uint32, int32, enum, bool as 0/1). */
  uint32(field: number, n: number): this {
    return this.tag(field, VARINT).varint(n);
  }

  bool(field: number, b: boolean): this {
    return this.tag(field, VARINT).varint(b ? 1 : 0);
  }

  string(field: number, text: string): this {
    const n = text.length;
    if (n < 0x80 && isShortAscii(text)) {
      // Most strings here are header names and values: written byte by byte, which for short
      // ASCII text is cheaper than Buffer's byteLength and write (two calls into C++).
      this.tag(field, LENGTH);
      this.ensure(1 + n);
      const buf = this.buf;
      let p = this.pos;
      buf[p++] = n;
      for (let i = 0; i < n; i++) buf[p++] = text.charCodeAt(i);
      this.pos = p;
      return this;
    }
    const length = Buffer.byteLength(text, 'utf8');
    this.tag(field, LENGTH).varint(length);
    this.ensure(length);
    this.pos += this.buf.write(text, this.pos, length, 'utf8');
    return this;
  }

  bytes(field: number, bytes: Uint8Array): this {
    this.tag(field, LENGTH).varint(bytes.length);
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
    return this;
  }

  /**
   * Starts a nested message field; its body is what is written until `end(mark)` with the mark
   * returned here. One byte is reserved for the length, which fits bodies under 128 bytes (most of
   * them); a longer body is moved up by the length's extra bytes at `end`. No buffer or closure per
   * nested message.
   */
  begin(field: number): number {
    this.tag(field, LENGTH);
    this.ensure(1);
    return this.pos++;
  }

  /** Ends the nested message `begin` started at `mark` (an empty body still writes the field). */
  end(mark: number): this {
    const length = this.pos - mark - 1;
    if (length < 0x80) {
      this.buf[mark] = length;
      return this;
    }
    let extra = 0;
    for (let v = length >>> 7; v > 0; v >>>= 7) extra++;
    this.ensure(extra);
    const buf = this.buf;
    buf.copyWithin(mark + 1 + extra, mark + 1, this.pos);
    this.pos += extra;
    let p = mark;
    let v = length;
    while (v > 0x7f) {
      buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[p] = v;
    return this;
  }

  /** A nested message field, its body written by `fill` (begin and end around it). */
  message(field: number, fill: (w: Writer) => void): this {
    const mark = this.begin(field);
    fill(this);
    return this.end(mark);
  }

  /** The bytes written so far, without copying (valid until the next write). */
  view(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  /** The bytes written, in a buffer of their own. */
  finish(): Buffer {
    return Buffer.from(this.view());
  }
}
