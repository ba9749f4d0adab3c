/**
 * Envoy's Secret Discovery Service as a client sees it, from the shared protobufjs Root
 * (src/injector/envoy-grpc.ts: the protos shipped in @grpc/grpc-js-xds's deps/, never copied): the
 * service's client constructor and the Secret decoder, for tests and tools.
 *
 * The server does not import this module: it serves SDS with the hand-written codec of
 * sds-codec.ts, so that a per-pod injector loads neither protobufjs nor a .proto file.
 */
import * as grpc from '@grpc/grpc-js';
import type { ProtoGrpcType as SdsProto } from '../generated/sds.js';
import type { Secret__Output } from '../generated/envoy/extensions/transport_sockets/tls/v3/Secret.js';
import { ENVOY_SERVICES, envoyMessage, envoyService, toOutput } from './envoy-grpc.js';

const SECRET_PROTO = 'envoy/extensions/transport_sockets/tls/v3/secret.proto';
const SECRET_TYPE = 'envoy.extensions.transport_sockets.tls.v3.Secret';

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

/** Decodes a Secret from the `value` of an Any, in the loader's object form (tests, tools). */
export function decodeSecret(bytes: Uint8Array): Secret__Output {
  const type = envoyMessage(SECRET_PROTO, SECRET_TYPE);
  return toOutput(type, type.decode(bytes));
}
