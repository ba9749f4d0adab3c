/**
 * grpc.health.v1.Health (Check, Watch, List) for the injector's gRPC server, with its three small
 * messages read and written by hand (wire.ts), so that the injector does not load a second proto
 * toolchain for it (grpc-health-check builds its definition with @grpc/proto-loader: ~1.9 MiB of
 * RSS in every pod, docs/PERFORMANCE.md). Behaviour as grpc-health-check 2.x and the protocol
 * (grpc/grpc doc/health-checking.md):
 *
 *   Check   the service's status; NOT_FOUND for a service never set
 *   Watch   the current status (SERVICE_UNKNOWN for a service never set), then every change,
 *           until the client cancels
 *   List    every service and its status (RESOURCE_EXHAUSTED beyond 100 services)
 *
 * Wire: HealthCheckRequest { string service = 1 }, HealthCheckResponse { ServingStatus status = 1 },
 * HealthListRequest {}, HealthListResponse { map<string, HealthCheckResponse> statuses = 1 }.
 */
import * as grpc from '@grpc/grpc-js';
import { LENGTH, Reader, VARINT, lengthDelimited, varint } from './wire.js';

export const SERVING_STATUSES = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;
export type ServingStatus = (typeof SERVING_STATUSES)[number];

const SERVICE = 'grpc.health.v1.Health';
const LIST_LIMIT = 100;

/** HealthCheckRequest's `service` (field 1; "" when absent). */
export function decodeHealthRequest(bytes: Buffer): { service: string } {
  const r = new Reader(bytes, 0, bytes.length);
  let service = '';
  while (r.pos < r.end) {
    const tag = r.uint32();
    if (tag >>> 3 === 1 && (tag & 7) === LENGTH) service = r.string();
    else r.skip(tag & 7);
  }
  return { service };
}

/** HealthCheckResponse's `status` (field 1; UNKNOWN when absent or not a known value). */
export function decodeHealthResponse(bytes: Buffer): { status: ServingStatus } {
  const r = new Reader(bytes, 0, bytes.length);
  let status = 0;
  while (r.pos < r.end) {
    const tag = r.uint32();
    if (tag >>> 3 === 1 && (tag & 7) === VARINT) status = r.uint32();
    else r.skip(tag & 7);
  }
  return { status: SERVING_STATUSES[status] ?? 'UNKNOWN' };
}

export function encodeHealthRequest(req: { service: string }): Buffer {
  return req.service === '' ? Buffer.alloc(0) : lengthDelimited(1, Buffer.from(req.service, 'utf8'));
}

export function encodeHealthResponse(res: { status: ServingStatus }): Buffer {
  const n = SERVING_STATUSES.indexOf(res.status);
  // proto3: the default value (UNKNOWN) is not written.
  return n <= 0 ? Buffer.alloc(0) : Buffer.from([0x08, ...varint(n)]);
}

function encodeHealthList(statuses: ReadonlyMap<string, ServingStatus>): Buffer {
  const entries = [...statuses].map(([service, status]) =>
    lengthDelimited(
      1,
      Buffer.concat([lengthDelimited(1, Buffer.from(service, 'utf8')), lengthDelimited(2, encodeHealthResponse({ status }))]),
    ),
  );
  return Buffer.concat(entries);
}

type Status = { status: ServingStatus };
type StatusList = { statuses: ReadonlyMap<string, ServingStatus> };
const none = (): Buffer => Buffer.alloc(0);

/** Check and Watch: the same messages, one answer or a stream of them. */
function statusMethod(name: 'Check' | 'Watch'): grpc.MethodDefinition<{ service: string }, Status> {
  return {
    path: `/${SERVICE}/${name}`,
    requestStream: false,
    responseStream: name === 'Watch',
    requestSerialize: encodeHealthRequest,
    requestDeserialize: decodeHealthRequest,
    responseSerialize: encodeHealthResponse,
    responseDeserialize: decodeHealthResponse,
    originalName: name.toLowerCase(),
  };
}

/** The grpc-js definition of grpc.health.v1.Health (server side; clients decode with the same functions). */
export const healthService: grpc.ServiceDefinition = {
  Check: statusMethod('Check'),
  Watch: statusMethod('Watch'),
  List: {
    path: `/${SERVICE}/List`,
    requestStream: false,
    responseStream: false,
    requestSerialize: none,
    requestDeserialize: () => ({}),
    responseSerialize: (list: StatusList) => encodeHealthList(list.statuses),
    responseDeserialize: () => {
      throw new Error('HealthListResponse is served, not read, here');
    },
    originalName: 'list',
  } satisfies grpc.MethodDefinition<object, StatusList>,
};

/** The statuses of the services a server offers, and the Health service reporting them. */
export class Health {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Map<string, Set<(status: ServingStatus) => void>>();

  constructor(initial: Readonly<Record<string, ServingStatus>> = {}) {
    for (const [service, status] of Object.entries(initial)) this.statuses.set(service, status);
  }

  setStatus(service: string, status: ServingStatus): void {
    this.statuses.set(service, status);
    for (const watcher of this.watchers.get(service) ?? []) watcher(status);
  }

  addToServer(server: grpc.Server): void {
    server.addService(healthService, {
      Check: (call: grpc.ServerUnaryCall<{ service: string }, Status>, callback: grpc.sendUnaryData<Status>) => {
        const service = call.request.service;
        const status = this.statuses.get(service);
        if (status !== undefined) callback(null, { status });
        else callback({ code: grpc.status.NOT_FOUND, details: `Health status unknown for service ${service}` });
      },
      Watch: (call: grpc.ServerWritableStream<{ service: string }, Status>) => {
        const service = call.request.service;
        const watcher = (status: ServingStatus): void => void call.write({ status });
        let set = this.watchers.get(service);
        if (set === undefined) this.watchers.set(service, (set = new Set()));
        set.add(watcher);
        const stop = (): void => {
          set.delete(watcher);
          if (set.size === 0 && this.watchers.get(service) === set) this.watchers.delete(service);
        };
        call.on('cancelled', stop);
        call.on('close', stop);
        call.write({ status: this.statuses.get(service) ?? 'SERVICE_UNKNOWN' });
      },
      List: (_call: grpc.ServerUnaryCall<object, StatusList>, callback: grpc.sendUnaryData<StatusList>) => {
        if (this.statuses.size > LIST_LIMIT) {
          callback({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'Too many services to list.' });
          return;
        }
        callback(null, { statuses: new Map(this.statuses) });
      },
    });
  }
}
