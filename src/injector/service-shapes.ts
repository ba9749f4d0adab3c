/**
 * grpc-js service definitions for the services the injector serves, built from hand-written codecs
 * (check-decode.ts, check-encode.ts, sds-codec.ts, ext-proc-codec.ts) and the methods' paths and
 * streaming shapes, which are fixed by Envoy's protos and written out here. Nothing here loads a
 * .proto file or protobufjs: a per-pod injector keeps no protobuf descriptors in its heap (the
 * shared Root of envoy-grpc.ts cost ~4-5 MiB; docs/PERFORMANCE.md). envoy-grpc.ts stays the
 * generic codec for clients (tests, tools, the benchmark's floor), and tests compare the two.
 */
import type * as grpc from '@grpc/grpc-js';

/** Each served method: its service's full name, whether requests and responses stream. */
export const METHOD_SHAPES = {
  auth: {
    service: 'envoy.service.auth.v3.Authorization',
    methods: { Check: { requestStream: false, responseStream: false } },
  },
  extProc: {
    service: 'envoy.service.ext_proc.v3.ExternalProcessor',
    methods: { Process: { requestStream: true, responseStream: true } },
  },
  sds: {
    service: 'envoy.service.secret.v3.SecretDiscoveryService',
    methods: {
      DeltaSecrets: { requestStream: true, responseStream: true },
      StreamSecrets: { requestStream: true, responseStream: true },
      FetchSecrets: { requestStream: false, responseStream: false },
    },
  },
} as const;

export type ShapedService = keyof typeof METHOD_SHAPES;

/** How one method's messages are read (requests) and written (responses) on the server side. */
export interface ServerCodec<Req, Res> {
  readonly requestDeserialize: (bytes: Buffer) => Req;
  readonly responseSerialize: (value: Res) => Buffer;
}

const clientSide = (path: string) => (): never => {
  throw new Error(`${path}: this definition is for serving; a client uses envoy-grpc.ts envoyService()`);
};

/**
 * The server-side definition of `name` with `codecs` for the methods it implements. A method
 * without a codec is left out, and grpc-js answers it UNIMPLEMENTED.
 */
export function servedService(
  name: ShapedService,
  // <unknown, never>: any codec fits (a deserializer's result widens to unknown, a serializer's
  // parameter narrows to never); <never, never> refused every real one.
  codecs: Readonly<Record<string, ServerCodec<unknown, never>>>,
): grpc.ServiceDefinition {
  const { service, methods } = METHOD_SHAPES[name];
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [method, shape] of Object.entries(methods)) {
    const codec = codecs[method];
    if (codec === undefined) continue;
    const path = `/${service}/${method}`;
    definition[method] = {
      path,
      requestStream: shape.requestStream,
      responseStream: shape.responseStream,
      requestDeserialize: codec.requestDeserialize,
      responseSerialize: codec.responseSerialize as (value: unknown) => Buffer,
      requestSerialize: clientSide(path),
      responseDeserialize: clientSide(path),
      originalName: method.charAt(0).toLowerCase() + method.slice(1),
    };
  }
  for (const method of Object.keys(codecs)) {
    if (!(method in methods)) throw new Error(`${service} has no method ${method}`);
  }
  return definition;
}
