/**
 * The injector's grpc.health.v1.Health (src/injector/health.ts), spoken to by an independent client:
 * grpc-health-check's service definition, which @grpc/proto-loader builds from the health.proto it
 * ships (the implementation the injector used before, kept as a test peer). Check, Watch and List
 * as the health-checking protocol describes them, and the hand-written codec against protobufjs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import test, { type ExecutionContext } from 'ava';
import { service as referenceService } from 'grpc-health-check';
import {
  Health,
  type ServingStatus,
  decodeHealthRequest,
  decodeHealthResponse,
  encodeHealthRequest,
  encodeHealthResponse,
} from '../src/injector/health.js';

interface HealthClient extends grpc.Client {
  check(req: { service: string }, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void): void;
  watch(req: { service: string }): grpc.ClientReadableStream<{ status: string }>;
  list(req: object, cb: (err: grpc.ServiceError | null, res?: { statuses: Record<string, { status: string }> }) => void): void;
}
const Client = grpc.makeGenericClientConstructor(referenceService, 'Health') as unknown as new (
  address: string,
  creds: grpc.ChannelCredentials,
) => HealthClient;

async function serve(t: ExecutionContext, health: Health): Promise<HealthClient> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pai-health-'));
  const address = `unix:${path.join(dir, 'h.sock')}`;
  const server = new grpc.Server();
  health.addToServer(server);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  const client = new Client(address, grpc.credentials.createInsecure());
  t.teardown(() => {
    client.close();
    server.forceShutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return client;
}

const check = (client: HealthClient, service: string): Promise<{ status: string }> =>
  new Promise((resolve, reject) => client.check({ service }, (err, res) => (err ? reject(err) : resolve(res ?? { status: '' }))));

/** The next `n` messages of a Watch stream. */
function next(stream: grpc.ClientReadableStream<{ status: string }>, n: number): Promise<string[]> {
  const got: string[] = [];
  return new Promise((resolve, reject) => {
    const onData = (m: { status: string }): void => {
      got.push(m.status);
      if (got.length === n) {
        stream.off('data', onData);
        stream.off('error', reject);
        resolve(got);
      }
    };
    stream.on('data', onData);
    stream.on('error', reject);
  });
}

test('Check: the status set for a service, "" for the server; NOT_FOUND for a service never set', async (t) => {
  const health = new Health({ '': 'NOT_SERVING' });
  const client = await serve(t, health);
  t.deepEqual(await check(client, ''), { status: 'NOT_SERVING' });
  health.setStatus('', 'SERVING');
  health.setStatus('envoy.service.auth.v3.Authorization', 'SERVING');
  t.deepEqual(await check(client, ''), { status: 'SERVING' });
  t.deepEqual(await check(client, 'envoy.service.auth.v3.Authorization'), { status: 'SERVING' });
  const err = await t.throwsAsync(check(client, 'no.such.Service'));
  t.is((err as grpc.ServiceError).code, grpc.status.NOT_FOUND);
  t.regex((err as grpc.ServiceError).details, /Health status unknown for service no\.such\.Service/);
});

test('Watch: the current status, then each change; an unknown service is SERVICE_UNKNOWN until set', async (t) => {
  const health = new Health({ '': 'SERVING' });
  const client = await serve(t, health);
  const server = client.watch({ service: '' });
  t.deepEqual(await next(server, 1), ['SERVING']);
  const changes = next(server, 2);
  health.setStatus('', 'NOT_SERVING');
  health.setStatus('', 'SERVING');
  t.deepEqual(await changes, ['NOT_SERVING', 'SERVING']);

  const later = client.watch({ service: 'later.Service' });
  t.deepEqual(await next(later, 1), ['SERVICE_UNKNOWN']);
  const set = next(later, 1);
  health.setStatus('later.Service', 'SERVING');
  t.deepEqual(await set, ['SERVING']);
  for (const stream of [server, later]) {
    stream.on('error', () => undefined); // CANCELLED, below
    stream.cancel();
  }
});

test('Watch: a cancelled watch is forgotten (status changes after it reach only the open watches)', async (t) => {
  const health = new Health({ a: 'SERVING' });
  const client = await serve(t, health);
  const first = client.watch({ service: 'a' });
  const second = client.watch({ service: 'a' });
  // Both end as CANCELLED when this test cancels them (or when it fails and the client closes).
  first.on('error', () => undefined);
  second.on('error', () => undefined);
  await Promise.all([next(first, 1), next(second, 1)]);
  const watchers = (health as unknown as { watchers: Map<string, Set<unknown>> }).watchers;
  // The server learns of a cancellation asynchronously (an RST_STREAM): wait for it, bounded, rather
  // than for a fixed time, which a loaded machine can outlast.
  const settled = async (done: () => boolean): Promise<void> => {
    for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
  };
  first.cancel();
  await settled(() => watchers.get('a')?.size === 1);
  t.is(watchers.get('a')?.size, 1);
  const change = next(second, 1);
  health.setStatus('a', 'NOT_SERVING');
  t.deepEqual(await change, ['NOT_SERVING']);
  second.cancel();
  await settled(() => !watchers.has('a'));
  t.false(watchers.has('a'));
});

test('List: every service and its status; RESOURCE_EXHAUSTED beyond 100 services', async (t) => {
  const health = new Health({ '': 'SERVING', x: 'NOT_SERVING' });
  const client = await serve(t, health);
  const list = (): Promise<Record<string, { status: string }>> =>
    new Promise((resolve, reject) => client.list({}, (err, res) => (err ? reject(err) : resolve(res?.statuses ?? {}))));
  t.deepEqual(await list(), { '': { status: 'SERVING' }, x: { status: 'NOT_SERVING' } });
  for (let i = 0; i < 100; i++) health.setStatus(`s${i}`, 'SERVING');
  const err = await t.throwsAsync(list());
  t.is((err as grpc.ServiceError).code, grpc.status.RESOURCE_EXHAUSTED);
});

test('codec: the same bytes as protobufjs (proto-loader) for every status and for service names in UTF-8', (t) => {
  const check = referenceService['Check'];
  if (!check) throw new Error('no Check');
  const statuses: ServingStatus[] = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];
  for (const status of statuses) {
    const ours = encodeHealthResponse({ status });
    // protobufjs writes a field set to its default (08 00 for UNKNOWN); proto3 leaves it out, as here.
    if (status !== 'UNKNOWN') t.deepEqual(ours, Buffer.from(check.responseSerialize({ status })), status);
    else t.deepEqual(ours, Buffer.alloc(0));
    t.deepEqual(decodeHealthResponse(Buffer.from(check.responseSerialize({ status }))), { status });
    t.deepEqual(decodeHealthResponse(ours), { status });
    t.is((check.responseDeserialize(ours) as { status: string }).status, status);
  }
  for (const service of ['', 'envoy.service.auth.v3.Authorization', 'ünïcödé/☃', 'x'.repeat(300)]) {
    const ours = encodeHealthRequest({ service });
    if (service !== '') t.deepEqual(ours, Buffer.from(check.requestSerialize({ service })), service.slice(0, 20));
    else t.deepEqual(ours, Buffer.alloc(0));
    t.deepEqual(decodeHealthRequest(ours), { service });
    t.deepEqual(decodeHealthRequest(Buffer.from(check.requestSerialize({ service }))), { service });
  }
  // Unknown fields are skipped; malformed bytes throw.
  t.deepEqual(decodeHealthRequest(Buffer.from([0x10, 0x05, 0x0a, 0x01, 0x61])), { service: 'a' });
  t.throws(() => decodeHealthRequest(Buffer.from([0x0a, 0x05, 0x61])), { name: 'ProtoWireError' });
});
