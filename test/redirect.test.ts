/**
 * Redirect safety (docs/ENVOY.md §4): a 3xx from a matched host never carries that host's
 * credential to the host it points at. The upstream for api.github.com answers 302 to another host;
 * the agent's own client (Node's fetch with redirect: 'follow') follows it with a new request
 * through the sidecar simulator, which asks the injector again for the new host. So the second
 * request arrives with the new host's credential or none. The sidecar never follows redirects
 * itself, as Envoy with no internal_redirect_policy (asserted for envoy/ in envoy-config.test.ts).
 *
 * The agent's fetch reaches the sidecar the way the transparent mode of docs/ENVOY.md does: it
 * thinks it connects to api.github.com:80, and its connections land on the sidecar.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { makeCanary } from './helpers/canary.js';
import { ExtAuthzFilter } from './helpers/ext-authz-filter.js';
import { ExtProcFilter, extProcClient } from './helpers/ext-proc-filter.js';
import { type Stack, resource, startStack } from './helpers/injector.js';
import { type Sidecar, type SidecarFilter, startSidecar } from './helpers/sidecar-sim.js';

interface Seen {
  readonly host: string;
  readonly path: string;
  readonly authorization: string[];
}

interface Ctx {
  stack: Stack;
  github: string;
  other: string;
  seen: Seen[];
  upstreamPort: number;
  closers: (() => Promise<void> | void)[];
}
const test = anyTest as TestFn<Ctx>;

/** The upstream: api.github.com/redirect/<target> answers 302 to http://<target>/landing; everything else 200. */
function startRedirectingUpstream(seen: Seen[]): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const host = req.headers.host ?? '';
    const raw = req.rawHeaders;
    const authorization: string[] = [];
    for (let i = 0; i + 1 < raw.length; i += 2)
      if (raw[i]?.toLowerCase() === 'authorization') authorization.push(raw[i + 1] ?? '');
    seen.push({ host, path: req.url ?? '', authorization });
    const m = /^\/redirect\/([^/]+)$/.exec(req.url ?? '');
    if (host === 'api.github.com' && m?.[1]) {
      res.writeHead(302, { location: `http://${m[1]}/landing?from=github` });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`landed on ${host}`);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** undici's Agent class, the one behind Node's global fetch (Node ships undici without exporting it). */
async function undiciAgentClass(): Promise<new (options: Record<string, unknown>) => { close(): Promise<void> }> {
  const key = Symbol.for('undici.globalDispatcher.1');
  const global = globalThis as unknown as Record<
    symbol,
    { constructor: new (options: Record<string, unknown>) => { close(): Promise<void> } } | undefined
  >;
  if (!global[key]) await fetch('http://127.0.0.1:1/').catch(() => undefined);
  const dispatcher = global[key];
  if (!dispatcher) throw new Error('Node did not set up its fetch dispatcher');
  return dispatcher.constructor;
}

test.before(async (t) => {
  const stack = await startStack({ logLevel: 'silent' });
  const github = makeCanary('github');
  const other = makeCanary('other');
  await stack.admin.createSecret('github-pat', { token: github });
  await stack.admin.createSecret('other-token', { token: other });
  await stack.admin.apply(
    resource('Provider', 'github', { type: 'github', auth: { secretRef: 'github-pat' } }),
    resource('Provider', 'other', { type: 'http', hosts: ['bound.example'], auth: { secretRef: 'other-token' } }),
    resource('Agent', 'bot', { providers: ['github', 'other'] }),
  );
  const seen: Seen[] = [];
  const upstream = await startRedirectingUpstream(seen);
  t.context = {
    stack,
    github,
    other,
    seen,
    upstreamPort: (upstream.address() as AddressInfo).port,
    closers: [() => new Promise<void>((resolve) => upstream.close(() => resolve())), () => stack.close()],
  };
});

test.after.always(async (t) => {
  for (const close of t.context.closers ?? []) await close();
});

/** Follows `/redirect/<target>` from api.github.com with fetch through a sidecar using `filter`. */
async function follow(
  t: ExecutionContext<Ctx>,
  filter: SidecarFilter,
  target: string,
): Promise<{ first: Seen | undefined; second: Seen | undefined; status: number }> {
  const sidecar: Sidecar = await startSidecar({ filter, upstreamPort: t.context.upstreamPort });
  const Agent = await undiciAgentClass();
  const dispatcher = new Agent({
    connect: (_opts: unknown, callback: (err: Error | null, socket: net.Socket | null) => void) => {
      const socket = net.connect(sidecar.port, '127.0.0.1');
      socket.once('connect', () => callback(null, socket));
      socket.once('error', (err) => callback(err, null));
    },
  });
  try {
    t.context.seen.length = 0;
    const init = { redirect: 'follow', dispatcher } as RequestInit;
    const res = await fetch(`http://api.github.com/redirect/${target}`, init);
    await res.text();
    const first = t.context.seen.find((s) => s.host === 'api.github.com');
    const second = t.context.seen.find((s) => s.path.startsWith('/landing'));
    return { first, second, status: res.status };
  } finally {
    await dispatcher.close();
    await sidecar.close();
  }
}

const filters = {
  ext_authz: (t: ExecutionContext<Ctx>): SidecarFilter =>
    new ExtAuthzFilter({ client: t.context.stack.client, contextExtensions: { 'pai.agent': 'bot' }, statusOnError: 503 }),
  ext_proc: (t: ExecutionContext<Ctx>): SidecarFilter => {
    const client = extProcClient(t.context.stack.injector);
    t.context.closers.unshift(() => client.close());
    return new ExtProcFilter({ client, agent: 'bot' });
  },
};

for (const [api, make] of Object.entries(filters)) {
  test.serial(`${api}: a 302 from api.github.com to another host reaches it without the GitHub token`, async (t) => {
    const { first, second, status } = await follow(t, make(t), 'other.example');
    t.is(status, 200, 'the agent followed the redirect');
    t.deepEqual(first?.authorization, [`Bearer ${t.context.github}`], 'the first request carried the GitHub token');
    t.is(second?.host, 'other.example');
    t.deepEqual(second?.authorization, [], 'the redirected request carries no credential');
  });

  test.serial(`${api}: a 302 to another provider's host gets that host's credential, never GitHub's`, async (t) => {
    const { second } = await follow(t, make(t), 'bound.example');
    t.is(second?.host, 'bound.example');
    t.deepEqual(second?.authorization, [`Bearer ${t.context.other}`]);
  });

  test.serial(`${api}: a 302 to a look-alike host (api.github.com.evil.example) gets nothing`, async (t) => {
    const { second } = await follow(t, make(t), 'api.github.com.evil.example');
    t.is(second?.host, 'api.github.com.evil.example');
    t.deepEqual(second?.authorization, []);
  });
}

test.serial('a 302 to another GitHub host of the same provider is decided again and gets the token for that host', async (t) => {
  const { second } = await follow(t, filters.ext_authz(t), 'uploads.github.com');
  t.is(second?.host, 'uploads.github.com');
  t.deepEqual(second?.authorization, [`Bearer ${t.context.github}`], 'the provider covers uploads.github.com too');
});
