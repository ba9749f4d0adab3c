/**
 * Which roles have a prom-client registry, with its default process metrics: only those serving
 * /metrics (all, admin). An injector or webhook process has no endpoint to read them from, and
 * their event-loop-delay monitor would wake every agent pod's injector 100 times a second while
 * idle. The injector's own counters are kept in every role.
 */
import path from 'node:path';
import test from 'ava';
import { loadConfig } from '../src/config.js';
import { silentLogger } from '../src/log.js';
import { type ServeRole, startServer } from '../src/main.js';
import { tempDir } from './helpers/process.js';

const rows: [ServeRole, boolean][] = [
  ['all', true],
  ['admin', true],
  ['injector', false],
];

for (const [role, defaults] of rows) {
  test(`role ${role}: default process metrics ${defaults ? 'collected' : 'not collected'}; the injector's counters registered`, async (t) => {
    const dir = tempDir('pai-serve-metrics-');
    const env: Record<string, string> = {
      HOME: dir,
      PAI_DATA_DIR: path.join(dir, 'data'),
      PAI_ADMIN_LISTEN: '127.0.0.1:0',
      PAI_INJECTOR_LISTEN: `unix:${path.join(dir, 'inj.sock')}`,
    };
    const running = await startServer(loadConfig(env), { role, logger: silentLogger() });
    try {
      const registry = running.metrics.registry;
      t.is(registry !== undefined, defaults);
      if (registry !== undefined) {
        const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
        t.true(names.includes('pai_process_cpu_seconds_total'));
        t.true(names.includes('pai_nodejs_eventloop_lag_seconds'));
        t.true(names.includes('pai_injector_requests_total'));
        t.true(names.includes('pai_store_requests_total'));
      }
    } finally {
      await running.close();
    }
  });
}
