/**
 * The one entry point to @peculiar/x509 (node:crypto verifies certificates but cannot create or
 * sign them). The library resolves its dependencies through tsyringe, which needs the Reflect
 * metadata polyfill loaded first: ES modules evaluate their imports in order, so importing
 * `reflect-metadata` on the line above guarantees that. It signs with WebCrypto; Node's own
 * implementation (OpenSSL) is set explicitly rather than relying on a global lookup.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };

/** WebCrypto's subtle interface, the one the certificates are signed with. */
export const subtle = webcrypto.subtle;

/** ECDSA over P-256 with SHA-256: small keys and signatures, cheap to issue, accepted by every TLS client. */
export const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** The WebCrypto key type under its DOM name (the project's tsconfig has no DOM lib). */
export type CryptoKey = webcrypto.CryptoKey;
