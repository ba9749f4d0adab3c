/**
 * Shared-injector mode (docs/ENVOY.md "Shared injector"): one pai-injector Deployment serves many
 * agent pods over mTLS, and the agent a call speaks for is the SPIFFE ID of THAT connection's client
 * certificate, never what the request says. The route's `pai.agent` / `pai.namespace` (ext_authz
 * context extensions, ext_proc route metadata, SDS node metadata) may still be sent: when present
 * they must name the same agent, or the call is denied (`identity_mismatch`), so a sidecar config
 * that names another agent fails loudly instead of silently serving the certificate's agent.
 *
 * `peerAgent` is the decision, pure over plain strings; `PeerIdentity` does the I/O around it
 * (the certificate grpc-js hands over, its URI SANs read once per certificate and cached).
 */
import type { PeerCertificate } from 'node:tls';
import { PaiError } from '../errors.js';
import { certificateParts, uriSubjectAltNames } from '../tls/certificate.js';
import type { AgentId } from './agents.js';
import { agentFromPrincipal } from './gateway.js';
import { AGENT_EXTENSION, NAMESPACE_EXTENSION, type NamedAgent } from './identity.js';

export type { NamedAgent } from './identity.js';

/** The longest SPIFFE ID quoted in a denial (the SPIFFE spec caps an ID at 2048 bytes). */
const QUOTE_MAX = 200;

function quote(uri: string): string {
  return JSON.stringify(uri.length > QUOTE_MAX ? `${uri.slice(0, QUOTE_MAX)}…` : uri);
}

/**
 * The agent of a call in shared mode: `uris` are the URI SANs of the peer's client certificate
 * (undefined: no certificate). Returns the agent, or the PaiError to deny with: `no_identity` when
 * there is no certificate, not exactly one URI SAN, or one that is not an agent of `trustDomain`
 * (`spiffe://TD/agent/NAME`, `spiffe://TD/ns/NS/agent/NAME`); `identity_mismatch` when `named` names
 * another agent or namespace. Never throws.
 */
export function peerAgent(uris: readonly string[] | undefined, trustDomain: string, named: NamedAgent): AgentId | PaiError {
  if (uris === undefined) {
    return new PaiError('no_identity', 'the connection has no client certificate: a shared injector needs mTLS');
  }
  if (uris.length !== 1) {
    return new PaiError(
      'no_identity',
      `the client certificate carries ${uris.length} URI SANs; an X509-SVID carries exactly one SPIFFE ID`,
    );
  }
  const uri = uris[0] ?? '';
  const agent = agentFromPrincipal(uri, trustDomain);
  if (agent === undefined) {
    return new PaiError(
      'no_identity',
      `the client certificate's SPIFFE ID ${quote(uri)} is not an agent of trust domain "${trustDomain}" ` +
        `(spiffe://${trustDomain}/ns/NAMESPACE/agent/NAME or spiffe://${trustDomain}/agent/NAME)`,
    );
  }
  const mismatch = (field: string, value: string | null): PaiError =>
    new PaiError(
      'identity_mismatch',
      `the request's ${field} ${value === null ? '(unreadable)' : JSON.stringify(value.slice(0, QUOTE_MAX))} ` +
        `disagrees with the client certificate, which is agent "${agent.name}" in namespace "${agent.namespace}"`,
      { details: { field } },
    );
  const name = named.agent;
  if (name === null || (name !== undefined && name !== '' && name !== agent.name)) return mismatch(AGENT_EXTENSION, name);
  const ns = named.namespace;
  if (ns === null || (ns !== undefined && ns !== '' && ns !== agent.namespace)) return mismatch(NAMESPACE_EXTENSION, ns);
  return agent;
}

/** The URI SANs of a DER certificate, in order; throws when the DER does not parse. */
export function uriSansOf(der: Uint8Array): string[] {
  return uriSubjectAltNames(certificateParts(der));
}

/** The part of a grpc-js server call this module reads (grpc-js exports no name for AuthContext). */
export interface PeerCall {
  getAuthContext(): { readonly sslPeerCertificate?: PeerCertificate } | null;
}

const CACHE_MAX = 4096;

/**
 * Reads the peer certificate of a grpc-js server call and decides with `peerAgent`. The URI SANs of
 * a certificate are parsed once and kept by its SHA-256 fingerprint (a Map bounded by insertion
 * order: see oauth.ts on why not lru-cache).
 */
export class PeerIdentity {
  private readonly sans = new Map<string, readonly string[]>();

  constructor(readonly trustDomain: string) {}

  /** The URI SANs of the call's verified client certificate; undefined when it has none. */
  urisOf(call: PeerCall): readonly string[] | undefined {
    // grpc-js returns a certificate only when the TLS socket verified it against the client CA.
    const cert = call.getAuthContext()?.sslPeerCertificate;
    if (cert === undefined || cert.raw.length === 0) return undefined;
    const key = cert.fingerprint256;
    let uris = this.sans.get(key);
    if (uris === undefined) {
      try {
        uris = uriSansOf(cert.raw);
      } catch {
        uris = [];
      }
      if (this.sans.size >= CACHE_MAX) {
        const oldest = this.sans.keys().next();
        if (oldest.done !== true) this.sans.delete(oldest.value);
      }
      this.sans.set(key, uris);
    }
    return uris;
  }

  /** The agent of `call` given what the request names; a PaiError to deny with otherwise (never throws). */
  agentOf(call: PeerCall, named: NamedAgent): AgentId | PaiError {
    return peerAgent(this.urisOf(call), this.trustDomain, named);
  }
}
