/**
 * The target of the fuzz passes: the real `pai serve` (role all) as a child process, seeded through
 * its admin API with one http Provider whose token is a canary (`Authorization: Bearer <canary>` for
 * api.fuzz.example), a telegram Provider (canary in the rewritten path), agent `fuzz-bot` bound to
 * both, and agent `env-bot` whose env mounts a second canary (the one value the admin API may
 * return, on GET /v1/agents/env-bot/env). `alive()` is the check every pass ends with.
 */
import type * as grpc from '@grpc/grpc-js';
import type { ExecutionContext } from 'ava';
import { makeCanary } from './canary.js';
import { healthStatus, rawClient } from './fuzz.js';
import { Admin, resource } from './injector.js';
import { type ServeHandle, adminToken, startServe } from './process.js';

export const FUZZ_AGENT = 'fuzz-bot';
export const FUZZ_HOST = 'api.fuzz.example';
export const ENV_AGENT = 'env-bot';

export interface FuzzTarget {
  readonly server: ServeHandle;
  readonly admin: Admin;
  /** `unix:/…/injector.sock`. */
  readonly injector: string;
  /** A raw-bytes gRPC client on the injector (see fuzz.ts). */
  readonly client: grpc.Client;
  /** The http Provider's token: never anywhere but an injected Authorization header. */
  readonly canary: string;
  /** The telegram bot token: never anywhere but an injected path. */
  readonly telegram: string;
  /** Mounted in env-bot's env: allowed only in its env render. */
  readonly envCanary: string;
  /** Problems found by `alive()`; empty when the server is alive and healthy. */
  alive(): Promise<string[]>;
  close(): Promise<void>;
}

/** Starts and seeds the fuzz target. */
export async function startFuzzTarget(): Promise<FuzzTarget> {
  const server = await startServe({ env: { PAI_LOG_LEVEL: 'debug' } });
  const admin = new Admin(server.adminUrl, adminToken(server.dataDir));
  const canary = makeCanary('fuzz');
  const telegram = `123456:${makeCanary('tg').replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const envCanary = makeCanary('env');
  try {
    await admin.createSecret('fuzz-key', { token: canary });
    await admin.createSecret('tg-key', { token: telegram });
    await admin.createSecret('env-key', { value: envCanary });
    await admin.apply(
      resource('Provider', 'fuzz-api', { type: 'http', hosts: [FUZZ_HOST], auth: { secretRef: 'fuzz-key' } }),
      resource('Provider', 'tg', { type: 'telegram', auth: { secretRef: 'tg-key' } }),
      resource('Agent', FUZZ_AGENT, { providers: ['fuzz-api', 'tg'] }),
      resource('Agent', ENV_AGENT, { env: [{ name: 'ENV_VALUE', secretRef: { name: 'env-key', key: 'value' } }] }),
    );
  } catch (err) {
    await server.kill();
    throw err;
  }
  const injector = `unix:${server.dataDir}/injector.sock`;
  const client = rawClient(injector);
  return {
    server,
    admin,
    injector,
    client,
    canary,
    telegram,
    envCanary,
    async alive() {
      const problems: string[] = [];
      if (server.child.exitCode !== null || server.child.signalCode !== null) {
        problems.push(`pai serve exited (${server.child.exitCode ?? server.child.signalCode})`);
        return problems;
      }
      const healthz = await fetch(new URL('/healthz', server.adminUrl)).catch((err: unknown) => err);
      if (!(healthz instanceof Response) || healthz.status !== 200) problems.push(`/healthz: ${String(healthz)}`);
      // A fresh client: the fuzzing one may have seen its connection torn down.
      const probe = rawClient(injector);
      try {
        for (const service of ['', 'envoy.service.auth.v3.Authorization', 'envoy.service.ext_proc.v3.ExternalProcessor']) {
          const status = await healthStatus(probe, service);
          if (status !== 'SERVING') problems.push(`grpc health of "${service}": ${status}`);
        }
      } finally {
        probe.close();
      }
      if (/uncaught|unhandled/i.test(server.stderr())) problems.push('the log reports an uncaught exception');
      return problems;
    },
    async close() {
      client.close();
      await server.stop();
    },
  };
}

/** Asserts that the target is alive and healthy, and logs it. */
export async function assertAlive(t: ExecutionContext, target: FuzzTarget, after: string): Promise<void> {
  const problems = await target.alive();
  t.deepEqual(problems, [], `pai serve is alive and healthy after ${after}`);
}
