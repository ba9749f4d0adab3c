/**
 * Envoy's Secret Discovery Service and its Secret message, from the injector's shared protobufjs
 * Root (src/injector/envoy-grpc.ts): the protos shipped in @grpc/grpc-js-xds's deps/, never copied.
 *
 * DiscoveryResponse carries its resources as google.protobuf.Any, whose `value` is the encoded
 * Secret: grpc-js serialises the envelope but not what is inside an Any, so the Secret is encoded
 * with protobufjs from the same Root.
 */
import * as grpc from '@grpc/grpc-js';
import type { ProtoGrpcType as SdsProto } from '../generated/sds.js';
import type { Secret, Secret__Output } from '../generated/envoy/extensions/transport_sockets/tls/v3/Secret.js';
import { ENVOY_SERVICES, envoyMessage, envoyService, toOutput } from './envoy-grpc.js';

const SECRET_PROTO = 'envoy/extensions/transport_sockets/tls/v3/secret.proto';
const SECRET_TYPE = 'envoy.extensions.transport_sockets.tls.v3.Secret';

/** The type URL of every resource SDS serves, and of the requests that ask for them. */
export const SECRET_TYPE_URL = `type.googleapis.com/${SECRET_TYPE}`;

let service: SdsProto | undefined;

/**
 * The SecretDiscoveryService definition and client constructor (once per process), as
 * `loadPackageDefinition` shapes them; only the service is in it (no message descriptors).
 */
export function loadSdsService(): SdsProto {
  if (service) return service;
  const definition = { [ENVOY_SERVICES.sds[1]]: envoyService('sds') };
  service = grpc.loadPackageDefinition(definition) as unknown as SdsProto;
  return service;
}

/** The wire bytes of a Secret (the `value` of its Any). */
export function encodeSecret(secret: Secret): Buffer {
  const type = envoyMessage(SECRET_PROTO, SECRET_TYPE);
  return Buffer.from(type.encode(type.fromObject(secret)).finish());
}

/** Decodes a Secret from the `value` of an Any, in the loader's object form (tests, tools). */
export function decodeSecret(bytes: Uint8Array): Secret__Output {
  const type = envoyMessage(SECRET_PROTO, SECRET_TYPE);
  return toOutput(type, type.decode(bytes));
}
