/**
 * Envoy's Secret Discovery Service and its Secret message, loaded like the other Envoy services
 * (src/injector/protos.ts): from the protos shipped in @grpc/grpc-js-xds's deps/, never copied.
 *
 * DiscoveryResponse carries its resources as google.protobuf.Any, whose `value` is the encoded
 * Secret: grpc-js (through proto-loader) serialises the envelope but not what is inside an Any,
 * so the Secret is encoded with protobufjs, which proto-loader itself is built on, from the same
 * proto files.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import type { ProtoGrpcType as SdsProto } from '../generated/sds.js';
import type { Secret, Secret__Output } from '../generated/envoy/extensions/transport_sockets/tls/v3/Secret.js';
import { LOADER_OPTIONS, envoyProtoDirs } from './protos.js';

const require = createRequire(import.meta.url);
const SECRET_PROTO = 'envoy/extensions/transport_sockets/tls/v3/secret.proto';
const SECRET_TYPE = 'envoy.extensions.transport_sockets.tls.v3.Secret';

/** The type URL of every resource SDS serves, and of the requests that ask for them. */
export const SECRET_TYPE_URL = `type.googleapis.com/${SECRET_TYPE}`;

let service: SdsProto | undefined;
let secretType: protobuf.Type | undefined;

/** Loads (once per process) the SecretDiscoveryService definition and client constructor. */
export function loadSdsService(): SdsProto {
  if (service) return service;
  const definition = protoLoader.loadSync('envoy/service/secret/v3/sds.proto', {
    ...LOADER_OPTIONS,
    includeDirs: envoyProtoDirs(),
  });
  service = grpc.loadPackageDefinition(definition) as unknown as SdsProto;
  return service;
}

function loadSecretType(): protobuf.Type {
  if (secretType) return secretType;
  const dirs = envoyProtoDirs();
  // descriptor.proto and the other well-known types ship inside protobufjs, not in the deps.
  const bundled = path.dirname(require.resolve('protobufjs/package.json'));
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) =>
    [...dirs, bundled].map((dir) => path.join(dir, target)).find((full) => existsSync(full)) ?? target;
  root.loadSync(SECRET_PROTO, { keepCase: true });
  secretType = root.lookupType(SECRET_TYPE);
  return secretType;
}

/** The wire bytes of a Secret (the `value` of its Any). */
export function encodeSecret(secret: Secret): Buffer {
  const type = loadSecretType();
  return Buffer.from(type.encode(type.fromObject(secret)).finish());
}

/** Decodes a Secret from the `value` of an Any, in the loader's object form (tests, tools). */
export function decodeSecret(bytes: Uint8Array): Secret__Output {
  const type = loadSecretType();
  return type.toObject(type.decode(bytes), { longs: String, enums: String, bytes: Buffer, oneofs: true });
}
