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

/** A cursor over `buf`, bounded by `end` for the message being read. */
export class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    pos: number,
    readonly end: number,
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
    const text = this.buf.toString('utf8', this.pos, end);
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
