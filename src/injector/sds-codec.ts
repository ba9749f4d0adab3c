/**
 * The SDS server's codec, by hand over wire.ts (Reader, Writer): DiscoveryRequests in, the
 * DiscoveryResponses and Secrets the service builds out (sds-messages.ts leafResponse).
 *
 * Why: the generic codec (envoy-grpc.ts) loads Envoy's protos into a protobufjs Root, 4-5 MiB of
 * heap in every pod for the few fields SDS touches (docs/PERFORMANCE.md). Nothing here imports
 * protobufjs; clients and tests keep the generic codec (sds-protos.ts), and test/sds-codec.test.ts
 * compares the two.
 *
 * Decoding reads what the SDS code reads (sds.ts, sds-messages.ts), and the node's id and cluster
 * (which name the sidecar):
 *
 *   version_info, node.{id, cluster, metadata}, resource_names, type_url, response_nonce,
 *   error_detail.{code, message}
 *
 * with protobufjs's wire rules (check-decode.ts lists them; struct-decode.ts the Struct's), the same
 * object form as its toObject, and its nesting bound. Every other field is skipped undecoded. One
 * departure comes from wire.ts: a string running past the end of its message is refused, where
 * protobufjs's Buffer reader cuts it short.
 *
 * Encoding writes the fields that are set (not undefined), empty strings included, in field-number
 * order: what protobufjs's encode(fromObject(x)) writes, byte for byte. The Secret carries the
 * leaf's private key: nothing here logs or throws with a value.
 */
import type { DiscoveryRequest__Output } from '../generated/envoy/service/discovery/v3/DiscoveryRequest.js';
import type { Node__Output } from '../generated/envoy/config/core/v3/Node.js';
import type { Status__Output } from '../generated/google/rpc/Status.js';
import type { Struct__Output } from '../generated/google/protobuf/Struct.js';
import type { ServerCodec } from './service-shapes.js';
import { decodeStruct } from './struct-decode.js';
import { LENGTH, Reader, VARINT, Writer } from './wire.js';

/** The type URL of every resource SDS serves, and of the requests that ask for them. */
export const SECRET_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';

/** envoy.config.core.v3.DataSource as served: the bytes or text inline (both written when both are set). */
export interface InlineDataSource {
  readonly inline_bytes?: Uint8Array;
  readonly inline_string?: string;
}

/** envoy.extensions.transport_sockets.tls.v3.Secret as served: a name and a tls_certificate. */
export interface ServedSecret {
  readonly name?: string;
  readonly tls_certificate?: {
    readonly certificate_chain?: InlineDataSource;
    readonly private_key?: InlineDataSource;
  };
}

/** envoy.service.discovery.v3.DiscoveryResponse as served (resources are Anys holding encoded Secrets). */
export interface ServedDiscoveryResponse {
  readonly version_info?: string;
  readonly resources?: readonly { readonly type_url: string; readonly value: Uint8Array }[];
  readonly canary?: boolean;
  readonly type_url?: string;
  readonly nonce?: string;
  readonly control_plane?: { readonly identifier?: string };
}

/** envoy.config.core.v3.Node: id 1, cluster 2, metadata 3 (a Struct, at message depth `depth` + 1). */
function node(r: Reader, depth: number): Node__Output {
  const n: { id?: string; cluster?: string; metadata?: Struct__Output } = {};
  while (r.pos < r.end) {
    const tag = r.uint32();
    if ((tag & 7) !== LENGTH) {
      r.skip(tag & 7);
      continue;
    }
    switch (tag >>> 3) {
      case 1:
        n.id = r.string();
        break;
      case 2:
        n.cluster = r.string();
        break;
      case 3:
        n.metadata = decodeStruct(r.sub(), depth + 1);
        break;
      default:
        r.skip(LENGTH);
    }
  }
  return n;
}

/** google.rpc.Status: code 1 (int32), message 2; details (3) are skipped. */
function status(r: Reader): Status__Output {
  const s: { code?: number; message?: string } = {};
  while (r.pos < r.end) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1 && (tag & 7) === VARINT) s.code = r.uint32() | 0;
    else if (field === 2 && (tag & 7) === LENGTH) s.message = r.string();
    else r.skip(tag & 7);
  }
  return s;
}

/**
 * Decodes the fields of a DiscoveryRequest the SDS service reads (module header); throws
 * ProtoWireError on malformed bytes or metadata nested too deep.
 */
export function decodeDiscoveryRequest(bytes: Buffer): DiscoveryRequest__Output {
  const r = new Reader(bytes, 0, bytes.length);
  const req: {
    version_info?: string;
    node?: Node__Output;
    resource_names?: string[];
    type_url?: string;
    response_nonce?: string;
    error_detail?: Status__Output;
  } = {};
  while (r.pos < r.end) {
    const tag = r.uint32();
    if ((tag & 7) !== LENGTH) {
      r.skip(tag & 7);
      continue;
    }
    switch (tag >>> 3) {
      case 1:
        req.version_info = r.string();
        break;
      case 2:
        req.node = node(r.sub(), 1);
        break;
      case 3:
        (req.resource_names ??= []).push(r.string());
        break;
      case 4:
        req.type_url = r.string();
        break;
      case 5:
        req.response_nonce = r.string();
        break;
      case 6:
        req.error_detail = status(r.sub());
        break;
      default:
        r.skip(LENGTH);
    }
  }
  return req;
}

/** DataSource: inline_bytes 2, inline_string 3. */
function dataSource(w: Writer, source: InlineDataSource): void {
  if (source.inline_bytes !== undefined) w.bytes(2, source.inline_bytes);
  if (source.inline_string !== undefined) w.string(3, source.inline_string);
}

/** The wire bytes of a Secret (the `value` of its Any): name 1, tls_certificate 2 {certificate_chain 1, private_key 2}. */
export function encodeSecret(secret: ServedSecret): Buffer {
  const w = new Writer();
  if (secret.name !== undefined) w.string(1, secret.name);
  const tls = secret.tls_certificate;
  if (tls !== undefined) {
    const { certificate_chain: chain, private_key: key } = tls;
    w.message(2, (t) => {
      if (chain !== undefined) t.message(1, (d) => dataSource(d, chain));
      if (key !== undefined) t.message(2, (d) => dataSource(d, key));
    });
  }
  return w.finish();
}

/**
 * The wire bytes of a DiscoveryResponse: version_info 1, resources 2 (Any: type_url 1, value 2),
 * canary 3, type_url 4, nonce 5, control_plane 6 {identifier 1}.
 */
export function encodeDiscoveryResponse(res: ServedDiscoveryResponse): Buffer {
  const w = new Writer();
  if (res.version_info !== undefined) w.string(1, res.version_info);
  for (const any of res.resources ?? []) w.message(2, (a) => a.string(1, any.type_url).bytes(2, any.value));
  if (res.canary !== undefined) w.bool(3, res.canary);
  if (res.type_url !== undefined) w.string(4, res.type_url);
  if (res.nonce !== undefined) w.string(5, res.nonce);
  const plane = res.control_plane;
  if (plane !== undefined) {
    w.message(6, (c) => {
      if (plane.identifier !== undefined) c.string(1, plane.identifier);
    });
  }
  return w.finish();
}

/** StreamSecrets' and FetchSecrets' messages, for service-shapes.ts servedService. */
export const DISCOVERY_CODEC: ServerCodec<DiscoveryRequest__Output, ServedDiscoveryResponse> = {
  requestDeserialize: decodeDiscoveryRequest,
  responseSerialize: encodeDiscoveryResponse,
};

/**
 * DeltaSecrets' messages: the call is refused before any request is read (sds.ts), so a request is
 * not decoded and no response is ever written.
 */
export const REFUSED_CODEC: ServerCodec<object, never> = {
  requestDeserialize: () => ({}),
  responseSerialize: () => {
    throw new Error('DeltaSecrets sends no response');
  },
};
