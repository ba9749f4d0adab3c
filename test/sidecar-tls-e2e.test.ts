/**
 * `pai render sidecar` output, through the project's test filter, injects on a request that arrived
 * over TLS (issue 14 acceptance). A real `pai serve`; an agent with a github Provider; its sidecar
 * rendered by the CLI; its `pai-leaf` fetched over SDS from the running injector with the node
 * metadata of the rendered bootstrap. A Node TLS terminator on loopback plays the HTTPS listener as
 * rendered (only the rendered server_names get a certificate; ALPN http/1.1 only: the simulator
 * speaks HTTP/1.1), and routes each request by the rendered virtual hosts through the ext_authz or
 * ext_proc filter simulation configured from the rendered route. A client trusting only
 * `pai render ca-bundle` calls https://api.github.com/… → the upstream double sees the canary token.
 */
import net from 'node:net';
import https from 'node:https';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import anyTest, { type TestFn } from 'ava';
import { parse } from 'yaml';
import { loadSdsService } from '../src/injector/sds-protos.js';
import { sanCovers } from '../src/tls/sans.js';
import { findCanary, makeCanary } from './helpers/canary.js';
import { ExtAuthzFilter } from './helpers/ext-authz-filter.js';
import { ExtProcFilter, extProcClient } from './helpers/ext-proc-filter.js';
import { Admin, authClient, paiResource } from './helpers/injector.js';
import { type ServeHandle, adminToken, runPai, startServe } from './helpers/process.js';
import { fetchSecrets, sdsRequest, secretsOf } from './helpers/sds.js';
import {
  type FilterResult,
  type SidecarFilter,
  type SimRequest,
  type UpstreamRecorder,
  headerValues,
  startSidecar,
  startUpstream,
} from './helpers/sidecar-sim.js';

type Json = Record<string, unknown>;
interface Context {
  server: ServeHandle;
  token: string;
  upstream: UpstreamRecorder;
  bundle: string;
  closers: (() => Promise<void> | void)[];
}
const test = anyTest as TestFn<Context>;

test.before(async (t) => {
  const server = await startServe();
  t.context = { server, token: '', upstream: await startUpstream(), bundle: '', closers: [] };
  const admin = new Admin(server.adminUrl, adminToken(server.dataDir));
  const token = makeCanary('ghp');
  await admin.createSecret('gh', { token });
  await admin.apply(
    paiResource('Provider', 'github', { type: 'github', auth: { type: 'pat', secretRef: 'gh' } }),
    paiResource('Agent', 'bot', { providers: ['github'] }),
  );
  const ca = await runPai(['render', 'ca-bundle'], server.env);
  if (ca.code !== 0) throw new Error(ca.stderr);
  t.context.token = token;
  t.context.bundle = ca.stdout;
});

test.after.always(async (t) => {
  for (const close of t.context.closers?.reverse() ?? []) await close();
  await t.context.upstream?.close();
  await t.context.server?.stop();
});

/** Every value under a key named `key`, anywhere in a tree. */
function valuesOf(tree: unknown, key: string): unknown[] {
  if (Array.isArray(tree)) return tree.flatMap((item) => valuesOf(item, key));
  if (typeof tree !== 'object' || tree === null) return [];
  return Object.entries(tree).flatMap(([k, v]) => [...(k === key ? [v] : []), ...valuesOf(v, key)]);
}

/** Envoy's domain match: exact, `*.suffix` (any deeper name), or `*`. */
const domainMatches = (domain: string, host: string): boolean =>
  domain === '*' || domain === host || (domain.startsWith('*.') && host.endsWith(domain.slice(1)));

/**
 * The rendered agent_https route table as a SidecarFilter: the virtual host of the request's host
 * (port stripped, as strip_any_host_port does) either answers itself (direct_response) or goes
 * through the mode's filter with the identity from that route.
 */
class RenderedRoutes implements SidecarFilter {
  constructor(
    private readonly virtualHosts: Json[],
    private readonly filterFor: (route: Json) => SidecarFilter,
  ) {}

  onRequest(req: SimRequest): Promise<FilterResult> {
    const host = req.authority.replace(/:\d+$/, '');
    const vh = this.virtualHosts.find((v) => (v['domains'] as string[]).some((d) => domainMatches(d, host)));
    const route = (vh?.['routes'] as Json[] | undefined)?.[0];
    if (route === undefined) return Promise.resolve({ kind: 'deny', status: 404, headers: [], body: Buffer.alloc(0) });
    const direct = route['direct_response'] as { status: number; body?: { inline_string?: string } } | undefined;
    if (direct) {
      const body = Buffer.from(direct.body?.inline_string ?? '');
      return Promise.resolve({ kind: 'deny', status: direct.status, headers: [], body });
    }
    return this.filterFor(route).onRequest(req);
  }
}

/** A TLS terminator on 127.0.0.1:0: a certificate only for `serverNames` (SNI), the plain stream piped to `plainPort`. */
async function startTlsListener(
  serverNames: string[],
  chainPem: string,
  keyPem: string,
  plainPort: number,
): Promise<{ port: number; close(): Promise<void> }> {
  const context = tls.createSecureContext({ cert: chainPem, key: keyPem, minVersion: 'TLSv1.2' });
  const server = tls.createServer(
    {
      ALPNProtocols: ['http/1.1'],
      SNICallback: (name, cb) =>
        serverNames.some((d) => sanCovers(d, name)) ? cb(null, context) : cb(new Error(`no filter chain for ${name}`)),
    },
    (socket) => {
      const plain = net.connect(plainPort, '127.0.0.1');
      socket.pipe(plain).pipe(socket);
      socket.on('error', () => plain.destroy());
      plain.on('error', () => socket.destroy());
    },
  );
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An agent's HTTPS request: SNI and Host `host` (unless `hostHeader`), trusting only `ca`. */
function agentHttps(
  port: number,
  ca: string,
  host: string,
  r: { path: string; hostHeader?: string; headers?: Record<string, string> },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        servername: host,
        ca,
        path: r.path,
        headers: { host: r.hostHeader ?? host, ...r.headers },
        agent: false,
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

for (const mode of ['auto', 'ext-proc'] as const) {
  test.serial(`${mode}: an HTTPS request to api.github.com gets the token; other hosts are refused`, async (t) => {
    const { server, upstream, bundle, token } = t.context;
    upstream.requests.length = 0;
    const rendered = await runPai(['render', 'sidecar', 'bot', '--mode', mode], server.env);
    t.is(rendered.code, 0, rendered.stderr);
    t.deepEqual(findCanary(rendered.stdout, token), [], 'no credential in the sidecar config');
    const config = parse(rendered.stdout) as Json;
    const listeners = valuesOf(config, 'listeners').flat() as Json[];
    const httpsListener = listeners.find((l) => l['name'] === 'agent_https');
    const serverNames = valuesOf(httpsListener, 'server_names')[0] as string[];
    t.deepEqual(serverNames, ['api.github.com', 'github.com', 'uploads.github.com']);
    const isProc = valuesOf(httpsListener, 'request_attributes').length > 0;
    t.is(isProc, mode === 'ext-proc', 'auto picks ext_authz for github');

    // The leaf, over SDS from the running injector, for the agent the bootstrap names.
    const metadata = (config['node'] as { metadata: Record<string, string> }).metadata;
    const target = server.injectorAddress();
    const sds = new (loadSdsService().envoy.service.secret.v3.SecretDiscoveryService)(target, grpc.credentials.createInsecure());
    t.teardown(() => sds.close());
    const names = (valuesOf(httpsListener, 'tls_certificate_sds_secret_configs').flat() as Json[]).map((s) => String(s['name']));
    const req = sdsRequest({ agent: metadata['pai.agent'] ?? '', namespace: metadata['pai.namespace'] ?? '', names });
    const [leaf] = secretsOf(await fetchSecrets(sds, req));
    t.truthy(leaf?.keyPem, 'the injector served pai-leaf');

    const virtualHosts = valuesOf(httpsListener, 'virtual_hosts').flat() as Json[];
    const filter = new RenderedRoutes(virtualHosts, (route) => {
      if (isProc) {
        const pai = valuesOf(route, 'pai')[0] as { agent: string };
        return new ExtProcFilter({ client: extProcClient(target), agent: pai.agent });
      }
      const ext = valuesOf(route, 'context_extensions')[0] as Record<string, string>;
      return new ExtAuthzFilter({ client: authClient(target), contextExtensions: ext, scheme: 'https' });
    });
    const sidecar = await startSidecar({ filter, upstreamPort: upstream.port });
    t.context.closers.push(() => sidecar.close());
    const listener = await startTlsListener(serverNames, leaf?.chainPem ?? '', leaf?.keyPem ?? '', sidecar.port);
    t.context.closers.push(() => listener.close());
    const port = listener.port;

    const ok = await agentHttps(port, bundle, 'api.github.com', {
      path: '/repos/pai/pai/issues',
      headers: { authorization: 'Bearer agent-own-value' },
    });
    t.is(ok.status, 200, ok.body);
    const seen = upstream.requests.at(-1);
    t.deepEqual(headerValues(seen?.headers ?? [], 'authorization'), [`Bearer ${token}`]);
    t.deepEqual(headerValues(seen?.headers ?? [], 'host'), ['api.github.com']);

    // An unbound name gets no certificate at all; a bound name carrying another Host gets 403.
    // (Refused at the handshake by the listener, not only by the client's name check.)
    const refused = await t.throwsAsync(agentHttps(port, bundle, 'evil.example.com', { path: '/' }));
    t.notRegex(String((refused as NodeJS.ErrnoException | undefined)?.code), /ALTNAME|CERT/, refused?.message);
    const before = upstream.requests.length;
    const other = await agentHttps(port, bundle, 'api.github.com', { path: '/', hostHeader: 'evil.example.com' });
    t.is(other.status, 403);
    t.regex(other.body, /host_not_bound/);
    t.is(upstream.requests.length, before, 'nothing reached an upstream');
  });
}

test.serial('render sidecar: unknown agent 404, bad --mode refused, a viewer may read it', async (t) => {
  const { server } = t.context;
  const unknown = await runPai(['render', 'sidecar', 'nobody'], server.env);
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, /agent "nobody" not found/);
  const bad = await runPai(['render', 'sidecar', 'bot', '--mode', 'ext_authz'], server.env);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /ext-authz, ext-proc/);
  const viewer = await new Admin(server.adminUrl, adminToken(server.dataDir)).call('POST', '/v1/tokens', { role: 'viewer' });
  const viewerToken = (viewer.json as { token: string }).token;
  const read = await runPai(['render', 'sidecar', 'bot', '--shared-injector', 'pai-injector.pai-system:9443'], {
    ...server.env,
    PAI_TOKEN: viewerToken,
  });
  t.is(read.code, 0, read.stderr);
  t.regex(read.stdout, /address: pai-injector\.pai-system\n\s+port_value: 9443/);
  // A bound URL's port reaches its cluster (read from the stored resource, not assumed 443).
  const admin = new Admin(server.adminUrl, adminToken(server.dataDir));
  await admin.apply(
    paiResource('Provider', 'tools', {
      type: 'mcp',
      mcp: { url: 'https://mcp.example.com:8443/sse' },
      auth: { secretRef: 'gh' },
    }),
    paiResource('Agent', 'tooler', { providers: ['tools'] }),
  );
  const tooler = await runPai(['render', 'sidecar', 'tooler'], server.env);
  t.is(tooler.code, 0, tooler.stderr);
  const clusters = valuesOf(parse(tooler.stdout), 'clusters').flat() as Json[];
  const mcp = clusters.find((c) => c['name'] === 'upstream_mcp.example.com');
  t.deepEqual(valuesOf(mcp, 'socket_address'), [{ address: 'mcp.example.com', port_value: 8443 }]);
  const badAddress = await runPai(['render', 'sidecar', 'bot', '--shared-injector', 'nope'], server.env);
  t.is(badAddress.code, 1);
  t.regex(badAddress.stderr, /shared injector address must be HOST:PORT/);
});
