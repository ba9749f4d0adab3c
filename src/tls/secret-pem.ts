/**
 * A private key in PEM form that cannot print itself. Keys travel inside this wrapper from where
 * they are made to the one place they are written out (an SDS answer, or the store's encrypted
 * record), so that an accidental log call, JSON.stringify, template string or util.inspect shows
 * `REDACTED` instead of the key (the tokenizer habit, STYLE.md).
 */
import { inspect } from 'node:util';

const REDACTED = '[REDACTED private key]';

export class SecretPem {
  readonly #pem: string;

  constructor(pem: string) {
    this.#pem = pem;
  }

  /** The PEM text. Call only where the key is meant to leave: an SDS answer or the store. */
  reveal(): string {
    return this.#pem;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}

/** PEM armour around DER bytes (64-column base64, as RFC 7468 asks). */
export function toPem(label: string, der: ArrayBuffer | Uint8Array): string {
  const b64 = Buffer.from(der instanceof ArrayBuffer ? new Uint8Array(der) : der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The DER bytes of the first PEM block labelled `label`; undefined when there is none. */
export function fromPem(label: string, pem: string): Buffer | undefined {
  const match = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(pem);
  return match?.[1] === undefined ? undefined : Buffer.from(match[1].replace(/\s+/g, ''), 'base64');
}
