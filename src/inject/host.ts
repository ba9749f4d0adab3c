/**
 * Host canonicalisation for the injection decision (DESIGN §6): the request's authority is reduced
 * to one canonical form before it is matched against provider hosts, and anything ambiguous is
 * refused (PaiError `bad_host`, denied 400) rather than guessed at.
 *
 * Decisions:
 * - Registered names: ASCII letters, digits, `-` and `_` in dot-separated labels of 1–63 characters,
 *   at most 253 characters in all; lower-cased; one trailing dot removed. Non-ASCII is refused: on
 *   the wire HTTP carries the IDNA A-label (`xn--…`), which is matched as the plain ASCII it is; no
 *   IDNA mapping is done here, so a provider host must be written in its punycode form.
 * - Percent-encoding, userinfo (`user@host`), spaces, control characters and any other punctuation
 *   are refused: none of them has a place in an HTTP authority sent by a real client.
 * - Ports: 1–65535, decimal, no sign and no leading zero; the scheme's default port (80, 443) is
 *   removed, so `a.com:443` and `a.com` are the same host under https. `host:` is refused.
 * - IPv4: a name whose last label is numeric (or `0x…`) is an IP literal in WHATWG URL terms and
 *   in getaddrinfo's eyes; only the dotted-quad decimal form is accepted (`127.1`, `0x7f.0.0.1`,
 *   `2130706433`, `010.0.0.1` are refused), so one address has one spelling.
 * - IPv6: `[…]` literals are normalised to their RFC 5952 form (lower case, zeros compressed);
 *   zone identifiers and IPvFuture are refused.
 * IP literals are reported with `kind` so that matching can keep them away from DNS wildcards.
 */
import { PaiError } from '../errors.js';

export type HostKind = 'dns' | 'ipv4' | 'ipv6';

/** A canonical authority: the host (IPv6 in brackets) and the port when it is not the default. */
export interface CanonicalHost {
  readonly host: string;
  readonly port: number | undefined;
  readonly kind: HostKind;
}

const MAX_NAME = 253;
const MAX_LABEL = 63;
const IPV6_CHARS = /^[0-9a-fA-F:.]+$/;

function badHost(reason: string): PaiError {
  return new PaiError('bad_host', `bad host: ${reason}`, { details: { reason } });
}

/**
 * The canonical form of `authority` (the `:authority` or `Host` value) under `scheme`.
 * Throws PaiError `bad_host` naming the problem; the message quotes at most the one offending character.
 */
export function canonicalAuthority(authority: string, scheme: 'http' | 'https'): CanonicalHost {
  const len = authority.length;
  if (len === 0) throw badHost('empty authority');
  if (len > MAX_NAME + 7) throw badHost('authority too long');
  if (authority.indexOf('@') !== -1) throw badHost('userinfo ("user@host") is not allowed in an authority');
  if (authority.charCodeAt(0) === 0x5b /* [ */) return canonicalIpv6(authority, scheme);

  // One pass over the name: character classes, label lengths, where the port starts and whether
  // lower-casing is needed.
  let colon = -1;
  let upper = false;
  let labelStart = 0;
  for (let i = 0; i < len; i++) {
    const c = authority.charCodeAt(i);
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f) {
      // the common case: nothing to do
    } else if (c >= 0x41 && c <= 0x5a) {
      upper = true;
    } else if (c === 0x2e /* . */) {
      checkLabel(i - labelStart);
      labelStart = i + 1;
    } else if (c === 0x3a /* : */) {
      colon = i;
      break;
    } else {
      throw badHost(describeBadChar(c));
    }
  }
  const nameEnd = colon === -1 ? len : colon;
  if (nameEnd === 0) throw badHost('empty host name');
  const trailingDot = authority.charCodeAt(nameEnd - 1) === 0x2e;
  const end = trailingDot ? nameEnd - 1 : nameEnd;
  if (end === 0) throw badHost('empty host name');
  if (!trailingDot) checkLabel(nameEnd - labelStart);
  if (end > MAX_NAME) throw badHost(`host name longer than ${MAX_NAME} characters`);

  const port = colon === -1 ? undefined : parsePort(authority, colon + 1, scheme);
  let host = end === len ? authority : authority.slice(0, end);
  if (upper) host = host.toLowerCase();

  // The last label decides whether this is an IPv4 literal (WHATWG "ends in a number").
  if (endsInNumber(host, host.lastIndexOf('.') + 1)) return ipv4(host, port);
  return { host, port, kind: 'dns' };
}

function checkLabel(length: number): void {
  if (length === 0) throw badHost('empty label in host name');
  if (length > MAX_LABEL) throw badHost(`label longer than ${MAX_LABEL} characters in host name`);
}

function describeBadChar(c: number): string {
  if (c === 0x25) return 'percent-encoding is not allowed in an authority';
  if (c === 0x20 || c === 0x09) return 'whitespace in authority';
  if (c < 0x20 || c === 0x7f) return 'control character in authority';
  if (c >= 0x80) return 'non-ASCII host name (use the punycode "xn--" form)';
  if (c === 0x5b || c === 0x5d) return 'misplaced "[" or "]" in authority';
  return `character "${String.fromCharCode(c)}" is not allowed in a host name`;
}

/** True when the label starting at `start` is all digits or `0x` + hex digits (WHATWG). */
function endsInNumber(host: string, start: number): boolean {
  const n = host.length;
  if (start >= n) return false;
  let i = start;
  if (n - start >= 2 && host.charCodeAt(start) === 0x30 && host.charCodeAt(start + 1) === 0x78 /* x */) {
    for (i = start + 2; i < n; i++) if (!isHex(host.charCodeAt(i))) return false;
    return true;
  }
  for (; i < n; i++) {
    const c = host.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66);
}

function ipv4(host: string, port: number | undefined): CanonicalHost {
  const parts = host.split('.');
  if (parts.length !== 4) throw badHost('IPv4 literal not in dotted-quad form');
  for (const part of parts) {
    if (part.length === 0 || part.length > 3 || (part.length > 1 && part.charCodeAt(0) === 0x30)) {
      throw badHost('IPv4 literal not in canonical decimal form');
    }
    for (let i = 0; i < part.length; i++) {
      const c = part.charCodeAt(i);
      if (c < 0x30 || c > 0x39) throw badHost('IPv4 literal not in canonical decimal form');
    }
    if (Number(part) > 255) throw badHost('IPv4 literal out of range');
  }
  return { host, port, kind: 'ipv4' };
}

function canonicalIpv6(authority: string, scheme: 'http' | 'https'): CanonicalHost {
  const close = authority.indexOf(']');
  if (close === -1) throw badHost('unterminated "[" in authority');
  const inner = authority.slice(1, close);
  if (inner.length === 0 || !IPV6_CHARS.test(inner)) {
    throw badHost('bad IPv6 literal (zone identifiers and IPvFuture are not allowed)');
  }
  let port: number | undefined;
  if (close + 1 < authority.length) {
    if (authority.charCodeAt(close + 1) !== 0x3a) throw badHost('unexpected text after "]" in authority');
    port = parsePort(authority, close + 2, scheme);
  }
  let host: string;
  try {
    // The WHATWG serialiser is the RFC 5952 canonical form; it only parses here, no I/O.
    host = new URL(`http://[${inner}]/`).hostname;
  } catch {
    throw badHost('bad IPv6 literal');
  }
  return { host, port, kind: 'ipv6' };
}

function parsePort(authority: string, start: number, scheme: 'http' | 'https'): number | undefined {
  const n = authority.length - start;
  if (n === 0) throw badHost('empty port');
  if (authority.indexOf(':', start) !== -1) throw badHost('more than one ":" in authority');
  if (n > 5) throw badHost('bad port');
  if (n > 1 && authority.charCodeAt(start) === 0x30) throw badHost('bad port (leading zero)');
  let port = 0;
  for (let i = start; i < authority.length; i++) {
    const c = authority.charCodeAt(i);
    if (c < 0x30 || c > 0x39) throw badHost('bad port');
    port = port * 10 + (c - 0x30);
  }
  if (port === 0 || port > 65535) throw badHost('port out of range');
  return port === (scheme === 'https' ? 443 : 80) ? undefined : port;
}

/** `host[:port]` of a canonical host: the inverse of canonicalAuthority on its own output. */
export function formatAuthority(h: CanonicalHost): string {
  return h.port === undefined ? h.host : `${h.host}:${h.port}`;
}

/**
 * The one authority of a request given as (name, value) pairs, canonicalised: `:authority`, else
 * `host`. Throws PaiError `bad_host` when there is none, when either appears twice, or when both are
 * present and differ after canonicalisation (an HTTP/2 client must send them equal).
 */
export function requestHost(headers: readonly (readonly [string, string])[], scheme: 'http' | 'https'): CanonicalHost {
  let authority: string | undefined;
  let hostHeader: string | undefined;
  for (const [name, value] of headers) {
    const n = name.length;
    if (n !== 10 && n !== 4) continue;
    const lower = name.toLowerCase();
    if (lower === ':authority') {
      if (authority !== undefined) throw badHost('duplicate :authority header');
      authority = value;
    } else if (lower === 'host') {
      if (hostHeader !== undefined) throw badHost('duplicate host header');
      hostHeader = value;
    }
  }
  if (authority === undefined && hostHeader === undefined) throw badHost('no :authority or host header');
  if (authority === undefined) return canonicalAuthority(hostHeader ?? '', scheme);
  const canonical = canonicalAuthority(authority, scheme);
  if (hostHeader !== undefined && hostHeader !== authority) {
    const other = canonicalAuthority(hostHeader, scheme);
    if (other.host !== canonical.host || other.port !== canonical.port) {
      throw badHost(':authority and host headers disagree');
    }
  }
  return canonical;
}
