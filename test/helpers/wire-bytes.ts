/** Hand-built protobuf wire bytes for the codecs' corner-case tests (varints from src/injector/wire.ts). */
import { LENGTH, varint } from '../../src/injector/wire.js';

/** A length-delimited field `num` holding `payload` (bytes, or a string as UTF-8). */
export function field(num: number, payload: number[] | string): number[] {
  const bytes = typeof payload === 'string' ? [...Buffer.from(payload)] : payload;
  return [...varint((num << 3) | LENGTH), ...varint(bytes.length), ...bytes];
}
