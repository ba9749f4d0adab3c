/**
 * The SDS service registered on the real injector server (as a ServiceRegistrar, the way the
 * composition root will): served on the same 0600 unix socket as Check, beside it.
 */
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { ChangeFeed } from '../src/changes.js';
import { loadConfig } from '../src/config.js';
import { InjectorServer, type ServiceRegistrar } from '../src/injector/server.js';
import { SdsService } from '../src/injector/sds.js';
import { LeafBook } from '../src/injector/sds-leaves.js';
import { loadSdsService } from '../src/injector/sds-protos.js';
import { silentLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import { CaAuthority } from '../src/tls/authority.js';
import { MemoryCaMaterialStore } from '../src/tls/memory-ca-store.js';
import * as grpc from '@grpc/grpc-js';
import { authClient, check, checkRequest, startStack } from './helpers/injector.js';
import { FakeHosts, SdsStreamClient, sdsRequest, secretsOf } from './helpers/sds.js';

test('SDS and Check on one injector socket (mode 0600)', async (t) => {
  const stack = await startStack({ logLevel: 'silent' });
  t.teardown(() => stack.close());
  const socket = path.join(stack.dataDir, 'with-sds.sock');
  const config = loadConfig({ HOME: stack.dataDir, PAI_DATA_DIR: stack.dataDir, PAI_INJECTOR_LISTEN: `unix:${socket}` });
  const hosts = new FakeHosts();
  hosts.set('triage-bot', ['api.github.com']);
  const logger = silentLogger();
  const book = new LeafBook({ signer: new CaAuthority({ store: new MemoryCaMaterialStore() }), hosts, logger });
  const sds: ServiceRegistrar = new SdsService({ book, logger });
  const server = new InjectorServer(
    { config, store: stack.running.store, changes: new ChangeFeed(), metrics: createMetrics(), logger },
    [sds],
  );
  const target = await server.listen();
  t.teardown(async () => {
    book.close();
    await server.close();
  });
  t.is(fs.statSync(socket).mode & 0o777, 0o600);

  const { SecretDiscoveryService } = loadSdsService().envoy.service.secret.v3;
  const client = new SecretDiscoveryService(target, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const stream = new SdsStreamClient(client);
  stream.send(sdsRequest({ agent: 'triage-bot' }));
  t.deepEqual(
    secretsOf(await stream.next()).map((s) => s.name),
    ['pai-leaf'],
  );
  stream.close();

  const auth = authClient(target);
  t.teardown(() => auth.close());
  const res = await check(auth, checkRequest({ agent: 'nobody', authority: 'api.github.com' }));
  t.deepEqual(res.denied_response?.status, { code: 'Forbidden' }, 'Check still answers on the same server');
});
