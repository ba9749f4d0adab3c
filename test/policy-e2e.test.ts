/**
 * Provider policies through Check and Process on a running injector (issue 13): a GitHub allow
 * list with `admin:*` and `repo:delete` denied and two repositories in scope; Stripe httpRules
 * (GET allowed, DELETE denied); audit mode passing with "would deny" recorded; a Telegram method
 * denied whatever its case; MCP tools/list filtered and a denied tools/call refused 403. A denied
 * request never carries the credential, and the request log names what happened, never a value.
 */
import fs from 'node:fs';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import type { CheckResponse__Output } from '../src/generated/envoy/service/auth/v3/CheckResponse.js';
import { findCanary, makeCanary } from './helpers/canary.js';
import {
  ScriptedStream,
  applyExtProcMutation,
  extProcClient,
  headerPairsOf,
  headersMessage,
  processHeaders,
} from './helpers/ext-proc-filter.js';
import { denialBody, paiResource, startStack, type Stack } from './helpers/injector.js';
import { GITHUB_ACTIONS } from '../src/providers/action-words.js';

interface World {
  stack: Stack;
  values: Record<string, string>;
}
let world: World;

const AGENT = { 'pai.agent': 'policy-bot' };

/** Every form of every credential value found in `text` (none expected). */
const leaks = (text: string): string[] => Object.values(world.values).flatMap((v) => findCanary(text, v));

test.before(async () => {
  const values = {
    github: makeCanary('github'),
    stripe: makeCanary('stripe'),
    audited: makeCanary('audited'),
    telegram: `123456:${makeCanary('tg').replace(/[^A-Za-z0-9_-]/g, '')}`,
    mcp: makeCanary('mcp'),
  };
  const stack = await startStack({ logLevel: 'warn', env: { PAI_USAGE_FLUSH: '0' } });
  const admin = stack.admin;
  await admin.createSecret('github-pat', { token: values.github });
  await admin.createSecret('stripe-key', { token: values.stripe });
  await admin.createSecret('audited-key', { token: values.audited });
  await admin.createSecret('tg', { token: values.telegram });
  await admin.createSecret('mcp-token', { token: values.mcp });
  // Every documented GitHub action but those the deny list names.
  const allowed = GITHUB_ACTIONS.filter((a) => !a.startsWith('admin:') && a !== 'repo:delete' && a !== 'org:update');
  await admin.apply(
    paiResource('Provider', 'github', {
      type: 'github',
      auth: { type: 'pat', secretRef: 'github-pat' },
      policy: { allow: allowed, deny: ['admin:*', 'repo:delete'] },
      scope: { repositories: ['myorg/repo-a', 'MyOrg/Repo-B'] },
    }),
    paiResource('Provider', 'stripe', {
      type: 'http-token',
      host: 'api.stripe.com',
      auth: { type: 'api-key', secretRef: 'stripe-key' },
      policy: {
        allow: ['*'],
        httpRules: [
          { methods: ['GET'], paths: ['*'], effect: 'allow' },
          { methods: ['DELETE'], paths: ['*'], effect: 'deny' },
        ],
      },
    }),
    paiResource('Provider', 'audited', {
      type: 'http-token',
      host: 'api.audited.example',
      auth: { type: 'api-key', secretRef: 'audited-key' },
      policy: { httpRules: [{ methods: ['GET'], paths: ['/v1/*'], effect: 'allow' }] },
      audit: { enforcement: 'audit' },
    }),
    paiResource('Provider', 'telegram', {
      type: 'telegram',
      auth: { type: 'bot-token', secretRef: 'tg' },
      policy: { allow: ['*'], deny: ['deleteMessage', 'banChatMember'] },
    }),
    paiResource('Provider', 'linear', {
      type: 'mcp',
      mcp: { url: 'https://mcp.linear.app/mcp' },
      auth: { type: 'api-key', secretRef: 'mcp-token' },
      policy: { mcp: { allowedTools: ['list_issues', 'create_issue'], deniedTools: ['delete_issue'] } },
    }),
    paiResource('Agent', 'policy-bot', { providers: ['github', 'stripe', 'audited', 'telegram', 'linear'] }),
  );
  world = { stack, values };
});

test.after.always(async () => {
  await world?.stack.close();
});

const check = (authority: string, p: string, method = 'GET') =>
  world.stack.check({ authority, path: p, method, contextExtensions: AGENT });

/** Asserts a 403 policy denial carrying no credential; returns its error body. */
function denied(t: ExecutionContext, res: CheckResponse__Output): Record<string, unknown> {
  t.is(res.denied_response?.status?.code, 'Forbidden' as never);
  const body = denialBody(res);
  t.is(body?.error.code, 'policy_denied');
  t.is(res.denied_response?.headers?.find((h) => h.header?.key === 'x-pai-deny-reason')?.header?.value, 'policy_denied');
  t.deepEqual(leaks(JSON.stringify(res)), [], 'no credential in a denial');
  return body?.error ?? {};
}

const github: [string, string, string, string][] = [
  ['GET', '/repos/myorg/repo-a/pulls', 'pulls:read on repo-a', 'allow'],
  ['POST', '/repos/myorg/repo-a/pulls', 'pulls:create on repo-a', 'allow'],
  ['GET', '/repos/myorg/repo-b/issues', 'repo-b, case-insensitive like GitHub', 'allow'],
  ['DELETE', '/repos/myorg/repo-a', 'repo:delete', 'action_denied'],
  ['PUT', '/repos/myorg/repo-a/collaborators/eve', 'admin:collaborators (admin:*)', 'action_denied'],
  ['GET', '/repos/myorg/other/pulls', 'a repository out of scope', 'out_of_scope'],
  ['GET', '/repos/myorg/repo-a/pulls/../../other/pulls', 'dot segments', 'not_normal_form'],
  ['GET', '/repos/myorg%2Frepo-a/pulls', 'an encoded /', 'not_normal_form'],
  ['POST', '/graphql', 'an unresolved action (allowed only by *)', 'action_unresolved'],
];

for (const [method, p, what, expected] of github) {
  test(`Check: github ${method} ${p} (${what}) → ${expected}`, async (t) => {
    const res = await check('api.github.com', p, method);
    if (expected === 'allow') {
      t.is(res.status?.code, 0, JSON.stringify(denialBody(res)));
      t.is(res.ok_response?.headers?.[0]?.header?.value, `Bearer ${world.values['github'] ?? ''}`);
      return;
    }
    const error = denied(t, res);
    t.is(error['reason'], expected);
    t.is(error['provider'], 'github');
  });
}

test('Check: Stripe httpRules allow GET and deny DELETE; a method no rule names is denied (an allow rule exists)', async (t) => {
  t.is(
    (await check('api.stripe.com', '/v1/charges')).ok_response?.headers?.[0]?.header?.value,
    `Bearer ${world.values['stripe'] ?? ''}`,
  );
  t.like(denied(t, await check('api.stripe.com', '/v1/customers/cus_1', 'DELETE')), {
    reason: 'http_rule',
    rule: 'httpRules[1]',
  });
  t.like(denied(t, await check('api.stripe.com', '/v1/charges', 'POST')), { reason: 'http_rule' });
});

test('Check: audit mode passes a violation with its credential, and the request log says "would deny"', async (t) => {
  const res = await check('api.audited.example', '/v2/anything', 'POST');
  t.is(res.status?.code, 0);
  t.is(res.ok_response?.headers?.[0]?.header?.value, `Bearer ${world.values['audited'] ?? ''}`);
  await world.stack.running.injectorServer?.requestLog.flush();
  const log = fs.readFileSync(path.join(world.stack.dataDir, 'requests.log'), 'utf8');
  const rec = log
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((r) => r['provider'] === 'audited');
  t.like(rec, {
    agent: 'policy-bot',
    namespace: 'default',
    method: 'POST',
    host: 'api.audited.example',
    path: '/v2/anything',
    decision: 'audit-deny',
    reason: 'http_rule',
  });
});

test('Process: a Telegram method denied whatever its case (deleteMessage, DeleteMessage), others injected', async (t) => {
  const client = extProcClient(world.stack.injector);
  t.teardown(() => client.close());
  for (const method of ['deleteMessage', 'DeleteMessage', 'DELETEMESSAGE', 'banchatmember']) {
    const res = await processHeaders(client, { authority: 'api.telegram.org', path: `/bot/${method}`, agent: 'policy-bot' });
    t.is(res.immediate_response?.status?.code, 'Forbidden' as never, method);
    t.deepEqual(leaks(JSON.stringify(res)), []);
  }
  const spec = { authority: 'api.telegram.org', path: '/bot/sendMessage', agent: 'policy-bot' };
  const ok = await processHeaders(client, spec);
  const headers = headerPairsOf(spec);
  applyExtProcMutation(headers, ok.request_headers?.response?.header_mutation);
  t.is(headers.find(([n]) => n === ':path')?.[1], `/bot${world.values['telegram'] ?? ''}/sendMessage`);
});

/** One MCP JSON-RPC request through Process: headers, then the buffered body; the answer to the body. */
async function mcpCall(body: unknown) {
  const client = extProcClient(world.stack.injector);
  const stream = new ScriptedStream(client);
  const spec = {
    authority: 'mcp.linear.app',
    path: '/mcp',
    method: 'POST',
    agent: 'policy-bot',
    headers: [['content-type', 'application/json']] as [string, string][],
    endOfStream: false,
  };
  const first = await stream.send(headersMessage(spec));
  const text = Buffer.from(JSON.stringify(body));
  const second = first.mode_override ? await stream.send({ request_body: { body: text, end_of_stream: true } }) : undefined;
  return { stream, client, first, second, spec };
}

test('Process: a denied MCP tools/call is refused 403 without the credential; an allowed one gets it', async (t) => {
  const denyCall = await mcpCall({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: { name: 'delete_issue', arguments: {} },
  });
  t.teardown(() => denyCall.client.close());
  t.truthy(denyCall.first.mode_override, 'the policy reads the body: it is asked for');
  t.is(denyCall.second?.immediate_response?.status?.code, 'Forbidden' as never);
  t.deepEqual(leaks(JSON.stringify(denyCall.second)), []);
  denyCall.stream.end();
  const allowCall = await mcpCall({
    jsonrpc: '2.0',
    id: 2,
    method: 'tools/call',
    params: { name: 'list_issues', arguments: {} },
  });
  t.teardown(() => allowCall.client.close());
  const headers = headerPairsOf(allowCall.spec);
  applyExtProcMutation(headers, allowCall.second?.request_body?.response?.header_mutation);
  t.deepEqual(
    headers.find(([n]) => n === 'authorization'),
    ['authorization', `Bearer ${world.values['mcp'] ?? ''}`],
  );
  allowCall.stream.end();
});

test('Process: the tools/list answer reaches the agent without the denied and unlisted tools', async (t) => {
  const list = await mcpCall({ jsonrpc: '2.0', id: 3, method: 'tools/list' });
  t.teardown(() => list.client.close());
  t.truthy(list.second?.mode_override, 'the response is asked for');
  const headersAnswer = await list.stream.send({
    response_headers: { headers: { headers: [{ key: 'content-type', raw_value: Buffer.from('application/json') }] } },
  });
  t.deepEqual(headersAnswer.response_headers?.response?.header_mutation?.remove_headers, ['content-length']);
  const tools = ['list_issues', 'create_issue', 'delete_issue', 'drop_database'].map((name) => ({ name, inputSchema: {} }));
  const answer = await list.stream.send({
    response_body: { body: Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 3, result: { tools } })), end_of_stream: true },
  });
  const filtered = JSON.parse(Buffer.from(answer.response_body?.response?.body_mutation?.body ?? '').toString()) as {
    result: { tools: { name: string }[] };
  };
  t.deepEqual(
    filtered.result.tools.map((x) => x.name),
    ['list_issues', 'create_issue'],
  );
  list.stream.end();
});

test('the request log holds a record per request and never a value', async (t) => {
  await check('api.github.com', '/repos/myorg/repo-a/pulls?access_token=hidden-query-text');
  await world.stack.running.injectorServer?.requestLog.flush();
  const log = fs.readFileSync(path.join(world.stack.dataDir, 'requests.log'), 'utf8');
  t.deepEqual(leaks(log), []);
  t.false(log.includes('hidden-query-text'), 'the query is never logged');
  t.regex(log, /"provider":"github".*"action":"repo:delete".*"decision":"deny","reason":"action_denied"/);
  t.is(fs.statSync(path.join(world.stack.dataDir, 'requests.log')).mode & 0o777, 0o600);
});
