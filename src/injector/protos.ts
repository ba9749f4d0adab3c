/**
 * Loads Envoy's ext_authz and ext_proc service definitions from the protos shipped in the registry
 * package @grpc/grpc-js-xds (its deps/ folders), with the loader options the generated types in
 * src/generated/ were produced with (the Makefile's gen target): keepCase, longs and enums as strings,
 * virtual oneof fields, no defaults.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType as AuthProto } from '../generated/external_auth.js';
import type { ProtoGrpcType as ExtProcProto } from '../generated/external_processor.js';

const require = createRequire(import.meta.url);

/** The deps/ folders of @grpc/grpc-js-xds holding Envoy's protos and their imports. */
export function envoyProtoDirs(): string[] {
  const root = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
  return ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(root, d));
}

export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
};

export interface EnvoyServices {
  readonly auth: AuthProto;
  readonly extProc: ExtProcProto;
}

let cached: EnvoyServices | undefined;

/** Loads (once per process) the Authorization and ExternalProcessor service definitions. */
export function loadEnvoyServices(): EnvoyServices {
  if (cached) return cached;
  const options = { ...LOADER_OPTIONS, includeDirs: envoyProtoDirs() };
  const authDef = protoLoader.loadSync('envoy/service/auth/v3/external_auth.proto', options);
  const procDef = protoLoader.loadSync('envoy/service/ext_proc/v3/external_processor.proto', options);
  cached = {
    auth: grpc.loadPackageDefinition(authDef) as unknown as AuthProto,
    extProc: grpc.loadPackageDefinition(procDef) as unknown as ExtProcProto,
  };
  return cached;
}
