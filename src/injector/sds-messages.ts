/**
 * The SDS wire: who is asking (the node metadata Envoy's bootstrap sets), which resources it may ask
 * for, and the DiscoveryResponse that carries an agent's leaf. Pure, apart from the protobuf encoding
 * of the Secret (sds-codec.ts).
 *
 * Resources served (decided): exactly one, `pai-leaf`, a tls_certificate (chain leaf + CA, key) for
 * the sidecar's HTTPS listener. No validation context is served: nothing in the sidecar validates
 * a peer against the pai CA (the agent presents no client certificate, and upstream connections are
 * checked against the system roots), and a name nobody needs is one more thing to misuse.
 */
import * as grpc from '@grpc/grpc-js';
import { PaiError, type ErrorCode } from '../errors.js';
import type { DiscoveryRequest__Output } from '../generated/envoy/service/discovery/v3/DiscoveryRequest.js';
import type { IssuedLeaf } from '../tls/leaf.js';
import type { AgentId } from '../tls/types.js';
import { SECRET_TYPE_URL, type ServedDiscoveryResponse, encodeSecret } from './sds-codec.js';

/** The tls_certificate the sidecar's listener names in its `sds_config` (what `pai render sidecar` references). */
export const LEAF_RESOURCE = 'pai-leaf';
/** Every resource name this service answers; anything else is refused. */
export const SDS_RESOURCE_NAMES: readonly string[] = [LEAF_RESOURCE];
/** node.metadata keys that name the agent (set in the bootstrap by `pai render sidecar`). */
export const AGENT_METADATA = 'pai.agent';
export const NAMESPACE_METADATA = 'pai.namespace';
export const DEFAULT_NAMESPACE = 'default';
/** control_plane.identifier in every answer (Envoy shows it in its config dump). */
export const CONTROL_PLANE = 'pai-injector';

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function metadataString(req: DiscoveryRequest__Output, key: string): string | undefined {
  const value = req.node?.metadata?.fields?.[key];
  return typeof value?.stringValue === 'string' ? value.stringValue : undefined;
}

/**
 * The agent and namespace `node.metadata` names, as raw strings (undefined when absent), for shared
 * mode's comparison with the client certificate (peer-identity.ts).
 */
export function namedOfNode(req: DiscoveryRequest__Output): { agent: string | undefined; namespace: string | undefined } {
  return { agent: metadataString(req, AGENT_METADATA), namespace: metadataString(req, NAMESPACE_METADATA) };
}

/**
 * The agent a request names through `node.metadata`, or undefined when the request carries no
 * node (Envoy sends it on the first request of a stream only). Throws PaiError `no_identity` when
 * a node is present without a valid `pai.agent` / `pai.namespace` (DNS-1123 labels).
 */
export function agentOfRequest(req: DiscoveryRequest__Output): AgentId | undefined {
  if (req.node === undefined || req.node === null) return undefined;
  const name = metadataString(req, AGENT_METADATA);
  if (name === undefined || name === '') {
    throw new PaiError('no_identity', `node.metadata has no "${AGENT_METADATA}": the sidecar's bootstrap must name its agent`);
  }
  const namespace = metadataString(req, NAMESPACE_METADATA) ?? DEFAULT_NAMESPACE;
  for (const [key, value] of [
    [AGENT_METADATA, name],
    [NAMESPACE_METADATA, namespace],
  ] as const) {
    if (value.length > 63 || !LABEL.test(value)) {
      throw new PaiError('no_identity', `node.metadata "${key}" is not a valid name (a DNS-1123 label)`);
    }
  }
  return { namespace, name };
}

/**
 * The resource names a request asks for (an empty list, SotW's wildcard, means all). Throws
 * PaiError `not_found` for a type other than Secret or a name this service does not serve.
 */
export function requestedNames(req: DiscoveryRequest__Output): readonly string[] {
  if (req.type_url && req.type_url !== SECRET_TYPE_URL) {
    throw new PaiError('bad_request', `type_url must be ${SECRET_TYPE_URL}`);
  }
  const names = req.resource_names ?? [];
  if (names.length === 0) return SDS_RESOURCE_NAMES;
  const unknown = names.find((name) => !SDS_RESOURCE_NAMES.includes(name));
  if (unknown !== undefined) {
    throw new PaiError(
      'not_found',
      `unknown SDS resource ${JSON.stringify(unknown.slice(0, 64))}; this injector serves ${SDS_RESOURCE_NAMES.join(', ')}`,
    );
  }
  return [...new Set(names)].sort();
}

/** The version_info of a leaf: the CA's id and the leaf's serial (both public). */
export function leafVersion(leaf: IssuedLeaf): string {
  return `${leaf.caId}.${leaf.serial}`;
}

/** The DiscoveryResponse carrying `leaf` as every resource in `names`. The key leaves the process here. */
export function leafResponse(leaf: IssuedLeaf, names: readonly string[], nonce: string): ServedDiscoveryResponse {
  return {
    version_info: leafVersion(leaf),
    type_url: SECRET_TYPE_URL,
    nonce,
    control_plane: { identifier: CONTROL_PLANE },
    resources: names.map((name) => ({
      type_url: SECRET_TYPE_URL,
      value: encodeSecret({
        name,
        tls_certificate: {
          certificate_chain: { inline_bytes: Buffer.from(leaf.chainPem, 'utf8') },
          private_key: { inline_bytes: Buffer.from(leaf.key.reveal(), 'utf8') },
        },
      }),
    })),
  };
}

const PEM_BLOCK = /-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(-----END [A-Z0-9 ]+-----|$)/g;
const LONG_BASE64 = /[A-Za-z0-9+/=_-]{40,}/g;

/**
 * A NACK's error message, safe to log: Envoy may quote what it failed to load, so PEM blocks and
 * long base64 runs are replaced, and the text is cut at 300 characters.
 */
export function scrubNackMessage(message: string | undefined): string {
  return (message ?? '').replace(PEM_BLOCK, '[PEM withheld]').replace(LONG_BASE64, '[data withheld]').slice(0, 300);
}

const STATUS: Partial<Record<ErrorCode, grpc.status>> = {
  no_identity: grpc.status.INVALID_ARGUMENT,
  bad_request: grpc.status.INVALID_ARGUMENT,
  unknown_agent: grpc.status.PERMISSION_DENIED,
  identity_mismatch: grpc.status.PERMISSION_DENIED,
  not_found: grpc.status.NOT_FOUND,
  invalid: grpc.status.FAILED_PRECONDITION,
  store_unavailable: grpc.status.UNAVAILABLE,
};

/** The gRPC error a stream or call ends with for `error` (messages are the PaiError's: value-free). */
export function grpcError(error: PaiError): Partial<grpc.StatusObject> {
  return { code: STATUS[error.code] ?? grpc.status.INTERNAL, details: `${error.code}: ${error.message}` };
}
