/**
 * The gRPC service definitions the injector serves (ext_authz, ext_proc, SDS) and the Secret
 * message, built from ONE protobufjs Root shared by all of them, loaded from the protos shipped in
 * @grpc/grpc-js-xds's deps/ (never copied).
 *
 * Why not @grpc/proto-loader, as src/injector/protos.ts (tests, tools) does: proto-loader parses each
 * file's whole import graph into its own Root and builds a descriptor for every message of it; for
 * the three services that is ~20 MiB of RSS, against ~6 MiB here (docs/PERFORMANCE.md). The
 * serialize/deserialize functions below are the ones proto-loader builds (encode(fromObject(x)),
 * toObject(decode(b), options)) with the same options as the generated types in src/generated/
 * (keepCase, longs and enums as strings, virtual oneof fields, no defaults), so the wire and the
 * object forms are unchanged.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);

/** Envoy's ext_authz, ext_proc and SDS services, and the proto file each lives in. */
export const ENVOY_SERVICES = {
  auth: ['envoy/service/auth/v3/external_auth.proto', 'envoy.service.auth.v3.Authorization'],
  extProc: ['envoy/service/ext_proc/v3/external_processor.proto', 'envoy.service.ext_proc.v3.ExternalProcessor'],
  sds: ['envoy/service/secret/v3/sds.proto', 'envoy.service.secret.v3.SecretDiscoveryService'],
} as const;

export type EnvoyServiceName = keyof typeof ENVOY_SERVICES;

const CONVERSION: protobuf.IConversionOptions = { longs: String, enums: String, defaults: false, oneofs: true };

let root: protobuf.Root | undefined;
const loaded = new Set<string>();
const definitions = new Map<EnvoyServiceName, grpc.ServiceDefinition>();

/** The shared Root with `file` (and its imports) loaded into it. Throws when a proto is missing. */
function rootWith(file: string): protobuf.Root {
  if (!root) {
    const deps = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
    const dirs = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(deps, d));
    // descriptor.proto and the other well-known types ship inside protobufjs, not in the deps.
    dirs.push(path.dirname(require.resolve('protobufjs/package.json')));
    root = new protobuf.Root();
    root.resolvePath = (_origin, target) => dirs.map((dir) => path.join(dir, target)).find((full) => existsSync(full)) ?? target;
  }
  if (!loaded.has(file)) {
    root.loadSync(file, { keepCase: true });
    root.resolveAll();
    loaded.add(file);
  }
  return root;
}

function serializer(type: protobuf.Type): grpc.serialize<object> {
  return (value) => Buffer.from(type.encode(type.fromObject(value)).finish());
}

function deserializer(type: protobuf.Type): grpc.deserialize<object> {
  return (bytes) => type.toObject(type.decode(bytes), CONVERSION);
}

/** The grpc-js definition of one of Envoy's services (built once per process), for addService or makeClientConstructor. */
export function envoyService(name: EnvoyServiceName): grpc.ServiceDefinition {
  const cached = definitions.get(name);
  if (cached) return cached;
  const [file, fullName] = ENVOY_SERVICES[name];
  const service = rootWith(file).lookupService(fullName);
  const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const method of service.methodsArray) {
    method.resolve();
    const request = method.resolvedRequestType;
    const response = method.resolvedResponseType;
    if (!request || !response) throw new Error(`${fullName}/${method.name}: message types did not resolve`);
    definition[method.name] = {
      path: `/${fullName}/${method.name}`,
      requestStream: method.requestStream === true,
      responseStream: method.responseStream === true,
      requestSerialize: serializer(request),
      requestDeserialize: deserializer(request),
      responseSerialize: serializer(response),
      responseDeserialize: deserializer(response),
      originalName: method.name.charAt(0).toLowerCase() + method.name.slice(1),
    };
  }
  definitions.set(name, definition);
  return definition;
}

/** A message type of the shared Root, `file` loaded first (e.g. the Secret that SDS carries in an Any). */
export function envoyMessage(file: string, fullName: string): protobuf.Type {
  return rootWith(file).lookupType(fullName);
}

/** The object form of a decoded message, as the generated `__Output` types describe it (bytes as Buffer). */
export function toOutput(type: protobuf.Type, message: protobuf.Message): object {
  return type.toObject(message, { ...CONVERSION, bytes: Buffer });
}
