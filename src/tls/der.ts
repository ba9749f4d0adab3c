/**
 * The little DER (ITU-T X.690) the pai CA needs: encoders for the types an X.509 certificate is
 * made of, and a reader that walks tag-length-value triples without interpreting more than asked.
 * node:crypto parses and verifies certificates but cannot build one; this, with node:crypto's keys
 * and signatures, replaces a general ASN.1 library whose module graph cost an injector ~20 MiB of
 * RSS (docs/PERFORMANCE.md).
 *
 * Encoders take and return Buffers and never throw on well-typed input; the reader throws
 * `DerError` on anything malformed (truncated, indefinite or non-minimal lengths), so a caller
 * parsing a peer's certificate turns one catch into its own refusal.
 */

export class DerError extends Error {
  override readonly name = 'DerError';
}

/** Universal and context tags used by certificates. */
export const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utf8String: 0x0c,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

function lengthOctets(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV: `tag` (a single identifier octet) around `content`. */
export function tlv(tag: number, ...content: readonly Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), lengthOctets(body.length), body]);
}

export const sequence = (...items: readonly Buffer[]): Buffer => tlv(TAG.sequence, ...items);
export const set = (...items: readonly Buffer[]): Buffer => tlv(TAG.set, ...items);
export const octetString = (bytes: Uint8Array): Buffer => tlv(TAG.octetString, Buffer.from(bytes));
export const utf8String = (text: string): Buffer => tlv(TAG.utf8String, Buffer.from(text, 'utf8'));
export const ia5String = (text: string): Buffer => tlv(TAG.ia5String, Buffer.from(text, 'ascii'));
export const boolean = (value: boolean): Buffer => tlv(TAG.boolean, Buffer.from([value ? 0xff : 0x00]));

/** [n] EXPLICIT: constructed context tag around one whole TLV. */
export const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 | n, inner);
/** [n] IMPLICIT over a primitive type: the content, re-tagged. */
export const implicitPrimitive = (n: number, content: Uint8Array): Buffer => tlv(0x80 | n, Buffer.from(content));
/** [n] IMPLICIT over a constructed type (SEQUENCE OF ...): the items, re-tagged. */
export const implicitConstructed = (n: number, ...items: readonly Buffer[]): Buffer => tlv(0xa0 | n, ...items);

/** A non-negative INTEGER from its big-endian magnitude: leading zeros dropped, a sign octet added when needed. */
export function unsignedInteger(magnitude: Uint8Array): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const bytes = Buffer.from(magnitude.subarray(start));
  if (bytes.length === 0) return tlv(TAG.integer, Buffer.from([0]));
  return (bytes[0] ?? 0) & 0x80 ? tlv(TAG.integer, Buffer.from([0]), bytes) : tlv(TAG.integer, bytes);
}

export const smallInteger = (value: number): Buffer => {
  const bytes: number[] = [];
  for (let n = value; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return unsignedInteger(Uint8Array.from(bytes));
};

/** An OBJECT IDENTIFIER from its dotted form ("2.5.29.17"). */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const [first = 0, second = 0, ...rest] = arcs;
  const out: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    const groups: number[] = [arc % 128];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) groups.unshift((n % 128) | 0x80);
    out.push(...groups);
  }
  return tlv(TAG.oid, Buffer.from(out));
}

/** A BIT STRING of whole octets (keys, signatures): no unused bits. */
export const bitStringOctets = (bytes: Uint8Array): Buffer => tlv(TAG.bitString, Buffer.from([0]), Buffer.from(bytes));

/**
 * A named-bit BIT STRING (keyUsage): `bits` are bit numbers, 0 the most significant bit of the
 * first octet. DER drops trailing zero bits and counts the unused ones (X.690 11.2.2).
 */
export function namedBits(bits: readonly number[]): Buffer {
  const highest = Math.max(...bits);
  const octets = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of bits) octets[bit >> 3] = (octets[bit >> 3] ?? 0) | (0x80 >> (bit & 7));
  return tlv(TAG.bitString, Buffer.from([7 - (highest & 7)]), octets);
}

/**
 * A certificate time (RFC 5280 4.1.2.5): UTCTime through 2049, GeneralizedTime from 2050, always
 * in seconds and Zulu. Milliseconds are dropped.
 */
export function time(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '') + 'Z';
  const year = date.getUTCFullYear();
  return year < 2050
    ? tlv(TAG.utcTime, Buffer.from(digits.slice(2), 'ascii'))
    : tlv(TAG.generalizedTime, Buffer.from(digits, 'ascii'));
}

/** One TLV as read: its tag, where its content lies in the buffer, and the whole encoding. */
export interface Tlv {
  readonly tag: number;
  readonly content: Buffer;
  /** The whole TLV (identifier, length and content), as encoded. */
  readonly encoded: Buffer;
}

/** Reads the TLV at `offset` of `buf`. Throws DerError when it is malformed or overruns the buffer. */
export function readTlv(buf: Buffer, offset = 0): Tlv {
  const tag = buf[offset];
  const first = buf[offset + 1];
  if (tag === undefined || first === undefined) throw new DerError('truncated DER');
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-octet DER tags are not used in certificates');
  let length = first;
  let header = 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) throw new DerError('indefinite or oversized DER length');
    length = 0;
    for (let i = 0; i < count; i++) {
      const b = buf[offset + 2 + i];
      if (b === undefined) throw new DerError('truncated DER length');
      length = length * 256 + b;
    }
    if (length < 0x80 || buf[offset + 2] === 0) throw new DerError('non-minimal DER length');
    header += count;
  }
  const end = offset + header + length;
  if (end > buf.length) throw new DerError('DER content overruns its buffer');
  return { tag, content: buf.subarray(offset + header, end), encoded: buf.subarray(offset, end) };
}

/** The TLVs inside a constructed value's content, in order. */
export function children(content: Buffer): Tlv[] {
  const out: Tlv[] = [];
  for (let offset = 0; offset < content.length;) {
    const item = readTlv(content, offset);
    out.push(item);
    offset += item.encoded.length;
  }
  return out;
}

/** The dotted form of an OBJECT IDENTIFIER's content octets. */
export function oidText(content: Buffer): string {
  const arcs: number[] = [];
  let value = 0;
  for (const b of content) {
    value = value * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      arcs.push(value);
      value = 0;
    }
  }
  const [head = 0, ...rest] = arcs;
  const first = head < 80 ? Math.floor(head / 40) : 2;
  return [first, head - first * 40, ...rest].join('.');
}
