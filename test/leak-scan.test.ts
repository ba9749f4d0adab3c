/**
 * The leak scan: one full scenario through the real binary (`pai serve`, PAI_LOG_LEVEL=debug, and
 * the `pai` CLI), then everything observable from the outside is searched for every canary in
 * plain, base64, hex and URL-encoded forms (helpers/canary.ts findCanary).
 *
 * The scenario: secrets through every input path (CLI --from-literal, --from-file, stdin,
 * --from-env-file, --overwrite; API data, binaryData, PUT, PATCH), resources applied with the CLI,
 * an env render (CLI and API), ext_authz and ext_proc requests through the sidecar simulator for
 * every provider type (header, basic, query, path, SigV4, Azure and GCP OAuth), denials of every
 * kind the API can produce, gateway requests with agent tokens, token create/list/revoke, and a
 * master-key rotation.
 *
 * Collected: every admin API response, all CLI output, the server's logs, /metrics, the audit log,
 * every file in the data directory, and every answer the agent got (denial bodies included).
 * Allowed: an env value in an env render; an agent token in the answer that created it; an
 * injected credential in the requests that reach the upstream (which must carry it). Never
 * anywhere: AWS secret keys, OAuth client secrets, private keys, a value refused as a header.
 */
import fs from 'node:fs';
import path from 'node:path';
import anyTest, { type TestFn } from 'ava';
import { findCanary, makeCanary } from './helpers/canary.js';
import { ExtAuthzFilter } from './helpers/ext-authz-filter.js';
import { ExtProcFilter, extProcClient } from './helpers/ext-proc-filter.js';
import { GatewayFilter } from './helpers/gateway-filter.js';
import { Admin, authClient, paiResource, resource } from './helpers/injector.js';
import { type ServeHandle, adminToken, runPai, startServe, tempDir } from './helpers/process.js';
import {
  type Sidecar,
  type SidecarFilter,
  type UpstreamRecorder,
  agentRequest,
  startSidecar,
  startUpstream,
} from './helpers/sidecar-sim.js';
import { CLOUD_HOSTS, type CloudFixture, startCloudServers } from './helpers/token-servers.js';

type Place = 'upstream' | 'render' | 'token-create' | 'elsewhere';

interface Canary {
  readonly label: string;
  readonly value: string;
  /** Where it may appear; `mustReach` ones must also be found there. */
  readonly allowed: ReadonlySet<Place>;
  readonly mustReach?: Place;
}

interface Ctx {
  server: ServeHandle;
  admin: RecordingAdmin;
  upstream: UpstreamRecorder;
  cloud: CloudFixture;
  work: string;
  closers: (() => Promise<void> | void)[];
}
const test = anyTest as TestFn<Ctx>;

/** An Admin that keeps every response, filed under the place it belongs to. */
class RecordingAdmin extends Admin {
  readonly seen: { place: Place; text: string }[] = [];

  override async call(method: string, p: string, body?: unknown): ReturnType<Admin['call']> {
    const res = await super.call(method, p, body);
    const place: Place =
      /\/env(\?|$)/.test(p) && res.status === 200
        ? 'render'
        : p === '/v1/tokens' && method === 'POST'
          ? 'token-create'
          : 'elsewhere';
    this.seen.push({
      place,
      text: `${method} ${p} ${res.status}\n${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n${res.text}`,
    });
    return res;
  }
}

test.before(async (t) => {
  const servers = await startCloudServers(makeCanary);
  const server = await startServe({
    env: { PAI_LOG_LEVEL: 'debug', PAI_MAX_SIGNED_BODY: '1Ki', PAI_ALLOWED_TOKEN_URLS: servers.allowedTokenUrls },
  });
  const admin = new RecordingAdmin(server.adminUrl, adminToken(server.dataDir));
  const upstream = await startUpstream();
  const cloud = await servers.seed(admin);
  t.context = {
    server,
    admin,
    upstream,
    cloud,
    work: tempDir('pai-leak-'),
    closers: [() => cloud.close(), () => upstream.close(), async () => void (await server.stop())],
  };
});

test.after.always(async (t) => {
  for (const close of t.context.closers ?? []) await close();
  if (t.context.work) fs.rmSync(t.context.work, { recursive: true, force: true });
});

test.serial('no canary is observable anywhere but an env render, its token answer, or the upstream', async (t) => {
  const { server, admin, upstream, cloud, work } = t.context;
  const canaries: Canary[] = [];
  const mk = (label: string, allowed: Place[], mustReach?: Place): string => {
    const value = makeCanary(label);
    canaries.push({ label, value, allowed: new Set(allowed), ...(mustReach ? { mustReach } : {}) });
    return value;
  };
  const injected = (label: string): string => mk(label, ['upstream'], 'upstream');
  const cli: { place: Place; text: string }[] = [];
  const pai = async (args: string[], input?: string, place: Place = 'elsewhere'): Promise<string> => {
    const res = await runPai(args, server.env, input);
    // The arguments are our own input (they hold values): only the command's words are kept.
    cli.push({ place, text: `pai ${args.slice(0, 2).join(' ')} → ${res.code}\n${res.stdout}\n${res.stderr}` });
    return res.stdout;
  };

  // ---- secrets through every input path -------------------------------------------------------
  const github = injected('github');
  await pai(['add', 'secret', 'github-pat', '--from-literal', `token=${github}`]);
  const fileValue = injected('from-file');
  fs.writeFileSync(path.join(work, 'token'), fileValue);
  await pai(['add', 'secret', 'file-token', '--from-file', `token=${path.join(work, 'token')}`]);
  const stdinValue = injected('stdin');
  await pai(['add', 'secret', 'stdin-token', '--from-file', 'token=-'], stdinValue);
  const user = injected('user');
  const pass = injected('pass');
  fs.writeFileSync(path.join(work, 'basic.env'), `username=${user}\npassword=${pass}\n`);
  await pai(['add', 'secret', 'basic-creds', '--from-env-file', path.join(work, 'basic.env')]);
  const overwritten = mk('overwritten', []);
  await pai(['add', 'secret', 'query-key', '--from-literal', `token=${overwritten}`]);
  const query = injected('query');
  await pai(['add', 'secret', 'query-key', '--from-literal', `token=${query}`, '--overwrite']);
  const openai = injected('openai');
  await admin.createSecret('openai-key', { 'api-key': openai });
  const anthropicBytes = injected('anthropic');
  await admin.createSecret('anthropic-key', { 'api-key': Buffer.from(anthropicBytes) });
  const gemini = injected('gemini');
  const azureKey = injected('azure-openai');
  const compat = injected('compat');
  await admin.createSecret('llm-keys', { gemini, azure: azureKey, compat });
  const rotatedAway = mk('rotated-away', []);
  await admin.createSecret('custom-token', { token: rotatedAway });
  const custom = injected('custom');
  await admin.replaceSecret('custom-token', { token: custom });
  const patched = injected('patched');
  await admin.expect(200, 'PATCH', '/v1/secrets/custom-token', { data: { extra: patched } });
  const telegram = `123456:${makeCanary('telegram').replace(/[^A-Za-z0-9_-]/g, '_')}`;
  canaries.push({ label: 'telegram', value: telegram, allowed: new Set(['upstream']), mustReach: 'upstream' });
  await admin.createSecret('telegram-bot', { token: telegram });
  const akid = injected('akid');
  const awsSecret = mk('aws-secret', []);
  await admin.createSecret('aws-keys', { access_key_id: akid, secret_access_key: awsSecret });
  const crlf = mk('crlf', []);
  await admin.createSecret('crlf-value', { token: `${crlf}\r\nx-injected: 1` });
  const doomed = mk('doomed', []);
  await admin.createSecret('doomed', { token: doomed });
  const envValue = mk('env', ['render'], 'render');
  await admin.createSecret('env-only', { value: envValue });
  for (const [label, value] of [
    ['client-secret', cloud.values.clientSecret],
    ['private-key', cloud.values.privateKey],
    ['private-key-2', cloud.values.privateKey2],
    ['sts-secret', cloud.values.stsSecret],
  ] as const) {
    canaries.push({ label, value, allowed: new Set() });
  }

  // ---- resources, applied with the CLI ----------------------------------------------------------
  const docs = [
    resource('Provider', 'github', { type: 'github', auth: { secretRef: 'github-pat' } }),
    resource('Provider', 'file-api', { type: 'http', hosts: ['file.leak.example'], auth: { secretRef: 'file-token' } }),
    resource('Provider', 'stdin-api', { type: 'http', hosts: ['stdin.leak.example'], auth: { secretRef: 'stdin-token' } }),
    resource('Provider', 'basic-api', {
      type: 'http',
      hosts: ['basic.leak.example'],
      auth: { secretRef: 'basic-creds', scheme: 'basic' },
    }),
    resource('Provider', 'query-api', {
      type: 'http',
      hosts: ['query.leak.example'],
      auth: { secretRef: 'query-key', scheme: 'query', param: 'key' },
    }),
    resource('Provider', 'custom-api', {
      type: 'http',
      hosts: ['custom.leak.example'],
      auth: { secretRef: 'custom-token', header: 'X-Custom', prefix: 'Token ' },
    }),
    resource('Provider', 'patched-api', {
      type: 'http',
      hosts: ['patched.leak.example'],
      auth: { secretRef: 'custom-token', secretKey: 'extra' },
    }),
    // Pai's form with a policy: a denied method must carry no credential, and its record no value.
    paiResource('Provider', 'telegram', {
      type: 'telegram',
      auth: { type: 'bot-token', secretRef: 'telegram-bot', secretKey: 'token' },
      policy: { allow: ['*'], deny: ['deleteMessage'] },
    }),
    resource('Provider', 'aws', { type: 'aws', auth: { secretRef: 'aws-keys' } }),
    resource('Provider', 'crlf-api', { type: 'http', hosts: ['crlf.leak.example'], auth: { secretRef: 'crlf-value' } }),
    resource('Provider', 'doomed-api', { type: 'http', hosts: ['doomed.leak.example'], auth: { secretRef: 'doomed' } }),
    resource('ModelProvider', 'openai', { type: 'openai', apiKeySecretRef: { name: 'openai-key', key: 'api-key' } }),
    resource('ModelProvider', 'anthropic', { type: 'anthropic', apiKeySecretRef: { name: 'anthropic-key', key: 'api-key' } }),
    resource('ModelProvider', 'gemini', { type: 'gemini', apiKeySecretRef: { name: 'llm-keys', key: 'gemini' } }),
    resource('ModelProvider', 'azure-openai', {
      type: 'azure-openai',
      baseUrl: 'https://leak.openai.azure.com',
      apiKeySecretRef: { name: 'llm-keys', key: 'azure' },
    }),
    resource('ModelProvider', 'compat', {
      type: 'openai-compatible',
      baseUrl: 'https://llm.leak.example/v1',
      apiKeySecretRef: { name: 'llm-keys', key: 'compat' },
    }),
    resource('ModelProvider', 'bedrock', { type: 'bedrock', apiKeySecretRef: { name: 'aws-keys' } }),
    resource('Agent', 'bot', {
      modelProviders: ['openai', 'anthropic', 'gemini', 'azure-openai', 'compat', 'bedrock'],
      providers: [
        'github',
        'file-api',
        'stdin-api',
        'basic-api',
        'query-api',
        'custom-api',
        'patched-api',
        'telegram',
        'aws',
        'crlf-api',
        'doomed-api',
      ],
      env: [{ name: 'ENV_ONLY', secretRef: { name: 'env-only', key: 'value' } }],
    }),
    resource('Agent', 'strict-bot', { providers: ['github'], egress: 'deny' }),
    resource('Agent', 'lonely-bot', {}),
  ];
  const manifest = path.join(work, 'resources.json');
  fs.writeFileSync(manifest, docs.map((d) => JSON.stringify(d)).join('\n---\n'));
  await pai(['apply', '-f', manifest]);
  t.is((await admin.call('GET', '/v1/agents/bot')).status, 200, 'the CLI applied the resources');
  await admin.expect(200, 'DELETE', '/v1/secrets/doomed?force=true');

  // ---- env render --------------------------------------------------------------------------------
  await pai(['render', 'env', 'bot'], undefined, 'render');
  await pai(['render', 'env', 'bot', '-o', 'json'], undefined, 'render');
  await admin.call('GET', '/v1/agents/bot/env?format=dotenv');

  // ---- requests through the sidecars ----------------------------------------------------------------
  const socket = `unix:${server.dataDir}/injector.sock`;
  const authz = authClient(socket);
  const proc = extProcClient(socket);
  t.context.closers.unshift(
    () => authz.close(),
    () => proc.close(),
  );
  const sidecar = async (filter: SidecarFilter): Promise<Sidecar> => {
    const s = await startSidecar({ filter, upstreamPort: upstream.port });
    t.context.closers.unshift(() => s.close());
    return s;
  };
  const checkAs = (agent: string | undefined): Promise<Sidecar> =>
    sidecar(
      new ExtAuthzFilter({
        client: authz,
        contextExtensions: agent === undefined ? {} : { 'pai.agent': agent },
        statusOnError: 503,
      }),
    );
  const viaAuthz = await checkAs('bot');
  const viaProc = await sidecar(new ExtProcFilter({ client: proc, agent: 'bot' }));
  const answers: string[] = [];
  const send = async (
    s: Sidecar,
    host: string,
    p = '/',
    extra: { method?: string; body?: string; headers?: [string, string][] } = {},
  ): Promise<number> => {
    const res = await agentRequest(s.port, {
      host,
      path: p,
      headers: [['authorization', 'Bearer agent-own'], ...(extra.headers ?? [])],
      ...extra,
    });
    answers.push(`${host}${p} → ${res.status}\n${JSON.stringify(res.headers)}\n${res.body.toString('latin1')}`);
    return res.status;
  };
  const expectStatus = async (want: number, s: Sidecar, host: string, p = '/', extra = {}): Promise<void> => {
    t.is(await send(s, host, p, extra), want, `${host}${p}`);
  };
  for (const s of [viaAuthz, viaProc]) {
    for (const host of [
      'api.github.com',
      'file.leak.example',
      'stdin.leak.example',
      'basic.leak.example',
      'custom.leak.example',
      'patched.leak.example',
      'api.openai.com',
      'api.anthropic.com',
      'generativelanguage.googleapis.com',
      'leak.openai.azure.com',
      'llm.leak.example',
    ]) {
      await expectStatus(200, s, host);
    }
    await expectStatus(200, s, 'query.leak.example', '/search?q=1');
    await expectStatus(200, s, 'unmatched.leak.example');
    await expectStatus(500, s, 'crlf.leak.example');
    await expectStatus(500, s, 'doomed.leak.example');
    await expectStatus(400, s, 'user@api.github.com');
  }
  await expectStatus(200, viaProc, 'api.telegram.org', '/bot/getMe');
  await expectStatus(500, viaAuthz, 'api.telegram.org', '/bot/getMe');
  await expectStatus(403, viaProc, 'api.telegram.org', '/bot/DeleteMessage');
  await expectStatus(200, viaProc, 's3.us-east-1.amazonaws.com', '/bucket/key');
  await expectStatus(413, viaProc, 's3.us-east-1.amazonaws.com', '/bucket/key', { method: 'PUT', body: 'x'.repeat(4096) });
  await expectStatus(500, viaAuthz, 's3.us-east-1.amazonaws.com', '/bucket/key');
  await expectStatus(200, viaProc, 'bedrock-runtime.us-east-1.amazonaws.com', '/model/m/invoke', {
    method: 'POST',
    body: '{"prompt":"hi"}',
  });
  await expectStatus(403, await checkAs('ghost'), 'api.github.com');
  await expectStatus(403, await checkAs(undefined), 'api.github.com');
  await expectStatus(403, await checkAs('strict-bot'), 'unmatched.leak.example');
  for (const cloudBot of [await checkAs('cloud-bot'), await sidecar(new ExtProcFilter({ client: proc, agent: 'cloud-bot' }))]) {
    await expectStatus(200, cloudBot, CLOUD_HOSTS.arm);
    await expectStatus(200, cloudBot, CLOUD_HOSTS.gcs);
    await expectStatus(200, cloudBot, CLOUD_HOSTS.bq);
    await expectStatus(503, cloudBot, CLOUD_HOSTS.echo);
    await expectStatus(503, cloudBot, CLOUD_HOSTS.down);
    await expectStatus(500, cloudBot, CLOUD_HOSTS.badKey);
  }

  // ---- agent tokens and the gateway ---------------------------------------------------------------
  const cliToken = (await pai(['create', 'token', 'bot'], undefined, 'token-create')).trim();
  canaries.push({ label: 'cli-agent-token', value: cliToken, allowed: new Set(['token-create']), mustReach: 'token-create' });
  const created = await admin.expect(201, 'POST', '/v1/tokens', { role: 'agent', agent: 'bot' });
  const apiToken = created.json.token as string;
  canaries.push({ label: 'api-agent-token', value: apiToken, allowed: new Set(['token-create']), mustReach: 'token-create' });
  const lonely = (await admin.expect(201, 'POST', '/v1/tokens', { role: 'agent', agent: 'lonely-bot' })).json.token as string;
  canaries.push({ label: 'lonely-token', value: lonely, allowed: new Set(['token-create']) });
  const gateway = await sidecar(
    new GatewayFilter({
      client: authz,
      routes: [
        { modelProvider: 'openai', host: 'api.openai.com' },
        { modelProvider: 'anthropic', host: 'api.anthropic.com' },
      ],
    }),
  );
  const viaGateway = async (want: number, p: string, headers: [string, string][]): Promise<void> => {
    const res = await agentRequest(gateway.port, { method: 'POST', host: 'pai-gateway:8080', path: p, headers, body: '{}' });
    answers.push(`gateway ${p} → ${res.status}\n${JSON.stringify(res.headers)}\n${res.body.toString('latin1')}`);
    t.is(res.status, want, `gateway ${p}: ${res.body.toString()}`);
  };
  await viaGateway(200, '/openai/v1/chat/completions', [['authorization', `Bearer ${cliToken}`]]);
  await viaGateway(200, '/anthropic/v1/messages', [['x-api-key', apiToken]]);
  await viaGateway(403, '/openai/v1/chat/completions', [['authorization', `Bearer ${lonely}`]]);
  await viaGateway(401, '/openai/v1/chat/completions', [['authorization', `Bearer ${cliToken.slice(0, -4)}AAAA`]]);
  await pai(['get', 'tokens']);
  await pai(['get', 'tokens', '-o', 'json']);
  await pai(['delete', 'token', created.json.id as string]);
  await viaGateway(401, '/anthropic/v1/messages', [['x-api-key', apiToken]]);

  // ---- metadata reads, rotation, and everything else the CLI shows ---------------------------------
  for (const args of [
    ['get', 'secrets'],
    ['get', 'secrets', '-o', 'json'],
    ['describe', 'secret', 'basic-creds'],
    ['describe', 'secret', 'custom-token'],
    ['get', 'agents', '-o', 'yaml'],
    ['describe', 'agent', 'bot'],
    ['describe', 'provider', 'basic-api'],
    ['get', 'providers'],
    ['rotate', 'master-key'],
    ['add', 'secret', 'github-pat', '--from-literal', `token=${github}`],
    ['delete', 'secret', 'basic-creds'],
  ]) {
    await pai(args);
  }
  await expectStatus(200, viaAuthz, 'api.github.com');
  const metrics = await admin.call('GET', '/metrics');
  t.is(metrics.status, 200);

  // ---- collect and search ----------------------------------------------------------------------------
  await server.stop();
  const files: { place: Place; text: string }[] = [];
  for (const name of fs.readdirSync(server.dataDir)) {
    const file = path.join(server.dataDir, name);
    if (fs.statSync(file).isFile())
      files.push({ place: 'elsewhere', text: `${name}\n${fs.readFileSync(file).toString('latin1')}` });
  }
  const requestLog = files.find((f) => f.text.startsWith('requests.log\n'));
  t.truthy(requestLog, 'the request log is among the files searched');
  t.regex(requestLog?.text ?? '', /"decision":"deny"/, 'the denied request has its record');
  const upstreamText = upstream.requests
    .map((r) => `${r.method} ${r.path}\n${r.headers.map(([n, v]) => `${n}: ${v}`).join('\n')}\n${r.body.toString('latin1')}`)
    .join('\n\n');
  const haystacks: { name: string; place: Place; text: string }[] = [
    { name: 'upstream requests', place: 'upstream', text: upstreamText },
    { name: 'server stdout and logs', place: 'elsewhere', text: server.stdout() + server.stderr() },
    { name: 'answers to the agent', place: 'elsewhere', text: answers.join('\n\n') },
    ...admin.seen.map((s, i) => ({ name: `admin API response ${i}`, place: s.place, text: s.text })),
    ...cli.map((c, i) => ({ name: `CLI run ${i}: ${c.text.split('\n')[0] ?? ''}`, place: c.place, text: c.text })),
    ...files.map((f) => ({ name: `data file ${f.text.split('\n')[0] ?? ''}`, place: f.place, text: f.text })),
  ];
  const leaks: string[] = [];
  for (const c of canaries) {
    for (const h of haystacks) {
      if (c.allowed.has(h.place)) continue;
      const forms = findCanary(h.text, c.value);
      if (forms.length > 0) leaks.push(`${c.label} in ${h.name} (${forms.length} form(s))`);
    }
    if (c.mustReach) {
      const reached = haystacks.some((h) => h.place === c.mustReach && findCanary(h.text, c.value).length > 0);
      if (!reached) leaks.push(`${c.label} never reached ${c.mustReach}`);
    }
  }
  const bytes = haystacks.reduce((a, h) => a + h.text.length, 0);
  t.log(
    `${canaries.length} canaries × ${haystacks.length} haystacks (${(bytes / 1024).toFixed(0)} KiB: ${upstream.requests.length} upstream requests, ${answers.length} agent answers, ${admin.seen.length} API responses, ${cli.length} CLI runs, ${files.length} data files)`,
  );
  t.deepEqual(leaks, [], 'no canary outside its allowed places, and every injected one reached the upstream');
});
