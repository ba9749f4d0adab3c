/**
 * Usage counts (issue 13): three injector processes on one store count requests, flush
 * concurrently every 200 ms for PAI_USAGE_TEST_SECONDS (default 30 s), and the admin API's sum
 * (`pai status`, LAST USED) is exact. Also the pure summing, and `pai status` output.
 */
import path from 'node:path';
import test from 'ava';
import { dayOf, summarize, usageDocName, usageKey } from '../src/usage/usage-doc.js';
import { api } from './helpers/api.js';
import { authClient, check, checkRequest, paiResource } from './helpers/injector.js';
import { adminToken, runPai, startServe, tempDir, type ServeHandle } from './helpers/process.js';

test('summarize adds every process document of today and keeps the latest use of any day', (t) => {
  const today = '2030-01-02';
  const key = usageKey({ agent: 'bot', kind: 'Provider', name: 'github' });
  const docs = [
    { day: today, instance: 'a', counts: { [key]: { requests: 3, lastUsedAt: '2030-01-02T10:00:00.000Z' } } },
    { day: today, instance: 'b', counts: { [key]: { requests: 4, lastUsedAt: '2030-01-02T11:00:00.000Z' } } },
    { day: '2030-01-01', instance: 'a', counts: { [key]: { requests: 100, lastUsedAt: '2030-01-01T23:00:00.000Z' } } },
  ];
  t.deepEqual(summarize(docs, today).get(key), { requestsToday: 7, lastUsedAt: '2030-01-02T11:00:00.000Z' });
  t.deepEqual(summarize(docs.slice(2), today).get(key), { requestsToday: 0, lastUsedAt: '2030-01-01T23:00:00.000Z' });
  t.is(usageDocName('2030-01-02', 'abc123'), 'u-20300102-abc123');
  t.is(dayOf(Date.parse('2030-01-02T23:59:59Z')), '2030-01-02');
});

const SECONDS = Number(process.env['PAI_USAGE_TEST_SECONDS'] ?? 30);

test('three injectors flushing concurrently to one store: the counts add up exactly', async (t) => {
  t.timeout((SECONDS + 90) * 1000);
  const dataDir = path.join(tempDir('pai-usage-'), 'data');
  const admin = await startServe({ dataDir, args: ['--role', 'admin'], env: { PAI_LOG_LEVEL: 'warn' } });
  const injectors: ServeHandle[] = [];
  t.teardown(async () => {
    for (const s of [...injectors, admin]) await s.kill();
  });
  const token = adminToken(dataDir);
  const call = (method: string, p: string, body?: unknown) => api(admin.adminUrl, token, method, p, body);
  t.is((await call('POST', '/v1/secrets', { name: 'gh', data: { token: 'ghp_usage' } })).status, 201);
  t.is(
    (await call('PUT', '/v1/providers/github', paiResource('Provider', 'github', { type: 'github', auth: { secretRef: 'gh' } })))
      .status,
    201,
  );
  t.is((await call('PUT', '/v1/agents/bot', paiResource('Agent', 'bot', { providers: ['github'] }))).status, 201);
  for (let i = 0; i < 3; i++) {
    injectors.push(
      await startServe({
        dataDir,
        args: ['--role', 'injector'],
        env: {
          PAI_LOG_LEVEL: 'warn',
          PAI_USAGE_FLUSH: '200ms',
          PAI_INJECTOR_LISTEN: `unix:${path.join(dataDir, `injector-${i}.sock`)}`,
          PAI_REQUEST_LOG: 'off',
        },
      }),
    );
  }
  const clients = injectors.map((s) => authClient(s.injectorAddress()));
  const sent = [0, 0, 0];
  const until = Date.now() + SECONDS * 1000;
  const request = checkRequest({ authority: 'api.github.com', path: '/user', agent: 'bot' });
  // Each injector gets its own paced stream of Checks, so flushes overlap for the whole run.
  await Promise.all(
    clients.map(async (client, i) => {
      while (Date.now() < until) {
        const burst = 1 + Math.floor(Math.random() * 20);
        const results = await Promise.all(Array.from({ length: burst }, () => check(client, request)));
        for (const r of results)
          if (r.status?.code === 0 && (r.ok_response?.headers?.length ?? 0) > 0) sent[i] = (sent[i] ?? 0) + 1;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 40));
      }
    }),
  );
  for (const c of clients) c.close();
  // A stopped injector writes what it still holds.
  for (const s of injectors) t.is(await s.stop(), 0);
  const total = sent.reduce((a, b) => a + b, 0);
  t.log(`injected requests per injector: ${sent.join(', ')} (total ${total}) over ${SECONDS} s, flushes every 200 ms`);
  const status = await call('GET', '/v1/agents/bot/status');
  t.is(status.status, 200, status.text);
  const github = (status.json as { providers: { name: string; requestsToday: number; lastUsedAt?: string }[] }).providers[0];
  t.is(github?.requestsToday, total, 'every injected request counted exactly once');
  t.truthy(github?.lastUsedAt);
  const listed = await call('GET', '/v1/providers');
  t.is((listed.json as { items: { lastUsedAt?: string }[] }).items[0]?.lastUsedAt, github?.lastUsedAt);
  const cli = await runPai(['status', 'bot'], { ...admin.env, PAI_SERVER: admin.adminUrl, PAI_TOKEN: token });
  t.is(cli.code, 0, cli.stderr);
  t.regex(
    cli.stdout,
    new RegExp(
      `^- github \\(github / api\\.github\\.com, uploads\\.github\\.com, …\\) — ${total} requests today, last used \\d+s ago$`,
      'm',
    ),
  );
  const described = await runPai(['describe', 'secret', 'gh'], { ...admin.env, PAI_SERVER: admin.adminUrl, PAI_TOKEN: token });
  t.regex(described.stdout, /^Last used: \S+ \(\d+s ago\)$/m, "the secret's last use through its Provider");
});
