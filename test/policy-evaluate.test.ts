import test from 'ava';
import { isPaiError } from '../src/errors.js';
import { needsBody } from '../src/policy/compile.js';
import { compileProviderPolicy as compilePolicy } from '../src/providers/registry.js';
import type { CompiledPolicy } from '../src/policy/compile.js';
import type { ProviderType as PolicyProviderType } from '../src/resources/types.js';
import { evaluatePolicy } from '../src/policy/evaluate.js';
import type { PolicyDecision, PolicyReason } from '../src/policy/evaluate.js';
import type { ProviderAudit, ProviderPolicy, ProviderScope } from '../src/policy/spec.js';

interface Blocks {
  readonly policy?: ProviderPolicy;
  readonly scope?: ProviderScope;
  readonly audit?: ProviderAudit;
}
function compiled(type: PolicyProviderType, blocks: Blocks): CompiledPolicy {
  const c = compilePolicy(type, blocks);
  if (c === undefined) throw new Error('no policy');
  return c;
}
const input = (host: string, method: string, path: string, body?: string, headers: [string, string][] = []) => ({
  method,
  path,
  host,
  headers,
  ...(body === undefined ? {} : { body: Buffer.from(body) }),
});

// Pai's documented GitHub example, plus a deny of admin:* and a 2-repo scope.
const github = compiled('github', {
  policy: {
    allow: ['pulls:*', 'issues:read', 'issues:comment', 'contents:read', 'repo:delete'],
    deny: ['admin:*', 'repo:delete'],
  },
  scope: { repositories: ['MyOrg/my-repo', 'myorg/docs'] },
});
const API = 'api.github.com';
const stripe = compiled('http-token', {
  policy: {
    httpRules: [
      { methods: ['get'], paths: ['/v1/*'], effect: 'allow' },
      { methods: ['DELETE'], paths: ['*'], effect: 'deny' },
    ],
  },
});
const telegram = compiled('telegram', { policy: { allow: ['sendMessage', 'getUpdates'], deny: ['deleteMessage', 'ban*'] } });
const mcp = compiled('mcp', {
  policy: { mcp: { allowedTools: ['list_issues', 'create_issue', 'delete_issue'], deniedTools: ['delete_issue'] } },
});
const aws = compiled('aws', {
  policy: {
    allow: ['s3:GetObject', 's3:ListBucket', 's3:HeadObject', 'sqs:*', 'dynamodb:GetItem'],
    deny: ['s3:DeleteObject', 'sqs:DeleteMessage'],
  },
  scope: {
    resources: [
      'arn:aws:s3:::my-bucket/*',
      'arn:aws:sqs:eu-west-1:123456789012:jobs',
      'arn:aws:dynamodb:us-east-1:*:table/Orders',
    ],
  },
});
const slack = compiled('slack', { policy: { allow: ['chat.postMessage'] }, scope: { channels: ['#general', 'C0123'] } });
const azure = compiled('azure', {
  policy: { allow: ['Microsoft.Storage/*/read'] },
  scope: { resources: ['/subscriptions/S1/resourceGroups/RG/*'] },
});
const audit = compiled('github', { policy: { deny: ['repo:delete'] }, audit: { enforcement: 'audit' } });
const FORM: [string, string][] = [['content-type', 'application/x-www-form-urlencoded']];
const TARGET: [string, string][] = [['x-amz-target', 'DynamoDB_20120810.GetItem']];
const Q = encodeURIComponent('https://sqs.eu-west-1.amazonaws.com/123456789012/jobs');

type Row = [
  name: string,
  policy: CompiledPolicy,
  req: ReturnType<typeof input>,
  decision: PolicyDecision,
  reason: PolicyReason,
  rule?: string,
];
const rows: Row[] = [
  // Denials first.
  ['dot segments', github, input(API, 'GET', '/repos/myorg/my-repo/pulls/../../x'), 'deny', 'not_normal_form'],
  ['encoded slash', github, input(API, 'GET', '/repos/myorg%2Fmy-repo/pulls'), 'deny', 'not_normal_form'],
  ['lower-case method', github, input(API, 'delete', '/repos/myorg/my-repo'), 'deny', 'not_normal_form'],
  [
    'repo:delete denied although allowed',
    github,
    input(API, 'DELETE', '/repos/myorg/my-repo'),
    'deny',
    'action_denied',
    'deny: repo:delete',
  ],
  [
    'admin:* denies collaborators',
    github,
    input(API, 'PUT', '/repos/myorg/my-repo/collaborators/mallory'),
    'deny',
    'action_denied',
    'deny: admin:*',
  ],
  ['admin:* denies PATCH repo', github, input(API, 'PATCH', '/repos/myorg/my-repo'), 'deny', 'action_denied', 'deny: admin:*'],
  [
    'contents:write not allowed',
    github,
    input(API, 'PUT', '/repos/myorg/my-repo/contents/a'),
    'deny',
    'action_not_allowed',
    'policy.allow',
  ],
  ['graphql unresolved, allow has no *', github, input(API, 'POST', '/graphql', '{}'), 'deny', 'action_unresolved'],
  ['repo out of scope', github, input(API, 'GET', '/repos/other/repo/pulls'), 'deny', 'out_of_scope', 'scope.repositories'],
  ['look-alike trailing slash', github, input(API, 'GET', '/repos/myorg/my-repo/pulls/'), 'deny', 'bad_request'],
  [
    'stripe DELETE denied by rule',
    stripe,
    input('api.stripe.com', 'DELETE', '/v1/customers/c'),
    'deny',
    'http_rule',
    'httpRules[1]',
  ],
  [
    'stripe POST matches no rule, list has an allow',
    stripe,
    input('api.stripe.com', 'POST', '/v1/charges'),
    'deny',
    'http_rule',
    'httpRules',
  ],
  ['stripe GET outside /v1', stripe, input('api.stripe.com', 'GET', '/v2/x'), 'deny', 'http_rule', 'httpRules'],
  [
    'telegram DeleteMessage',
    telegram,
    input('api.telegram.org', 'POST', '/bot1:a/DeleteMessage'),
    'deny',
    'action_denied',
    'deny: deleteMessage',
  ],
  [
    'telegram DELETEMESSAGE',
    telegram,
    input('api.telegram.org', 'POST', '/bot1:a/DELETEMESSAGE'),
    'deny',
    'action_denied',
    'deny: deleteMessage',
  ],
  [
    'telegram banChatMember by ban*',
    telegram,
    input('api.telegram.org', 'POST', '/bot1:a/BanChatMember'),
    'deny',
    'action_denied',
    'deny: ban*',
  ],
  [
    'telegram sendPhoto not allowed',
    telegram,
    input('api.telegram.org', 'POST', '/bot1:a/sendPhoto'),
    'deny',
    'action_not_allowed',
  ],
  ['telegram method trailing slash', telegram, input('api.telegram.org', 'POST', '/bot1:a/sendMessage/'), 'deny', 'bad_request'],
  [
    'mcp denied tool',
    mcp,
    input('mcp.x', 'POST', '/mcp', '{"method":"tools/call","params":{"name":"delete_issue"}}'),
    'deny',
    'tool_denied',
  ],
  [
    'mcp denied tool, other case',
    mcp,
    input('mcp.x', 'POST', '/mcp', '{"method":"tools/call","params":{"name":"Delete_Issue"}}'),
    'deny',
    'tool_denied',
  ],
  [
    'mcp tool not in allowedTools',
    mcp,
    input('mcp.x', 'POST', '/mcp', '{"method":"tools/call","params":{"name":"drop_db"}}'),
    'deny',
    'tool_not_allowed',
  ],
  [
    'mcp allowedTools are exact',
    mcp,
    input('mcp.x', 'POST', '/mcp', '{"method":"tools/call","params":{"name":"LIST_ISSUES"}}'),
    'deny',
    'tool_not_allowed',
  ],
  [
    'mcp batch with tools/call',
    mcp,
    input('mcp.x', 'POST', '/mcp', '[{"method":"tools/call","params":{"name":"list_issues"}}]'),
    'deny',
    'bad_body',
  ],
  [
    'mcp duplicated name',
    mcp,
    input('mcp.x', 'POST', '/mcp', '{"method":"tools/call","params":{"name":"list_issues","name":"delete_issue"}}'),
    'deny',
    'bad_body',
  ],
  ['mcp without body', mcp, input('mcp.x', 'POST', '/mcp'), 'deny', 'needs_body'],
  ['s3 DeleteObject denied', aws, input('s3.us-east-1.amazonaws.com', 'DELETE', '/my-bucket/k'), 'deny', 'action_denied'],
  ['s3 other bucket', aws, input('s3.us-east-1.amazonaws.com', 'GET', '/other/k'), 'deny', 'out_of_scope', 'scope.resources'],
  [
    's3 listing under a narrower scope than the bucket',
    aws,
    input('s3.us-east-1.amazonaws.com', 'GET', '/other'),
    'deny',
    'out_of_scope',
  ],
  [
    's3 copy from an out-of-scope source',
    aws,
    input('s3.us-east-1.amazonaws.com', 'PUT', '/my-bucket/k', undefined, [['x-amz-copy-source', 'other/secret']]),
    'deny',
    'action_not_allowed',
  ],
  [
    'sqs deleteMessage (case) denied',
    aws,
    input('sqs.eu-west-1.amazonaws.com', 'POST', '/', `Action=deleteMessage&QueueUrl=${Q}`, FORM),
    'deny',
    'action_denied',
    'deny: sqs:DeleteMessage',
  ],
  [
    'sqs DeleteMessageBatch denied',
    aws,
    input('sqs.eu-west-1.amazonaws.com', 'POST', '/', `Action=DeleteMessageBatch&QueueUrl=${Q}`, FORM),
    'deny',
    'action_denied',
  ],
  ['sqs query POST without body', aws, input('sqs.eu-west-1.amazonaws.com', 'POST', '/'), 'deny', 'needs_body'],
  [
    'dynamodb table by name, out of scope',
    aws,
    input('dynamodb.us-east-1.amazonaws.com', 'POST', '/', '{"TableName":"Users"}', TARGET),
    'deny',
    'out_of_scope',
  ],
  ['ec2 unresolved', aws, input('ec2.us-east-1.amazonaws.com', 'GET', '/?Action=RunInstances'), 'deny', 'action_unresolved'],
  [
    'slack channel out of scope',
    slack,
    input('slack.com', 'POST', '/api/chat.postMessage', 'channel=random', FORM),
    'deny',
    'out_of_scope',
    'scope.channels',
  ],
  [
    'slack second channel out of scope',
    slack,
    input('slack.com', 'POST', '/api/chat.postMessage?channel=C0123', 'channel=random', FORM),
    'deny',
    'out_of_scope',
  ],
  ['slack needs the body for the channel', slack, input('slack.com', 'POST', '/api/chat.postMessage'), 'deny', 'needs_body'],
  [
    'slack multipart body with channel scope',
    slack,
    input('slack.com', 'POST', '/api/chat.postMessage', '--x', [['content-type', 'multipart/form-data']]),
    'deny',
    'bad_body',
  ],
  [
    'azure write not allowed',
    azure,
    input('management.azure.com', 'PUT', '/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a'),
    'deny',
    'action_not_allowed',
  ],
  [
    'azure other resource group',
    azure,
    input('management.azure.com', 'GET', '/subscriptions/s1/resourceGroups/rg2/providers/Microsoft.Storage/storageAccounts/a'),
    'deny',
    'out_of_scope',
  ],
  ['audit mode would deny', audit, input(API, 'DELETE', '/repos/o/r'), 'audit-deny', 'action_denied'],
  ['audit mode, not normal form', audit, input(API, 'GET', '/a/../b'), 'audit-deny', 'not_normal_form'],
  // Allowed.
  ['pulls:read in scope, owner case differs', github, input(API, 'GET', '/repos/myorg/MY-REPO/pulls'), 'allow', 'allowed'],
  ['pulls:create by pulls:*', github, input(API, 'POST', '/repos/myorg/docs/pulls', '{}'), 'allow', 'allowed'],
  [
    'org:read has no repository: scope does not apply',
    compiled('github', { policy: { allow: ['org:read'] }, scope: { repositories: ['o/r'] } }),
    input(API, 'GET', '/orgs/o'),
    'allow',
    'allowed',
  ],
  ['stripe GET allowed by rule', stripe, input('api.stripe.com', 'GET', '/v1/customers?limit=3'), 'allow', 'allowed'],
  ['telegram sendmessage (case)', telegram, input('api.telegram.org', 'POST', '/bot1:a/sendmessage'), 'allow', 'allowed'],
  [
    'mcp allowed tool',
    mcp,
    input('mcp.x', 'POST', '/mcp', '{"method":"tools/call","params":{"name":"list_issues"}}'),
    'allow',
    'allowed',
  ],
  ['mcp initialize', mcp, input('mcp.x', 'POST', '/mcp', '{"method":"initialize"}'), 'allow', 'allowed'],
  ['s3 GetObject in scope', aws, input('my-bucket.s3.us-east-1.amazonaws.com', 'GET', '/a/b'), 'allow', 'allowed'],
  [
    's3 ListBucket with the documented scope',
    aws,
    input('s3.us-east-1.amazonaws.com', 'GET', '/my-bucket?list-type=2'),
    'allow',
    'allowed',
  ],
  [
    'sqs SendMessage in scope',
    aws,
    input('sqs.eu-west-1.amazonaws.com', 'GET', `/?Action=SendMessage&QueueUrl=${Q}`),
    'allow',
    'allowed',
  ],
  [
    'dynamodb table by name with * account',
    aws,
    input('dynamodb.us-east-1.amazonaws.com', 'POST', '/', '{"TableName":"Orders"}', TARGET),
    'allow',
    'allowed',
  ],
  [
    'slack #general by name',
    slack,
    input('slack.com', 'POST', '/api/chat.postMessage', '{"channel":"general"}', [['content-type', 'application/json']]),
    'allow',
    'allowed',
  ],
  ['slack channel id, other case', slack, input('slack.com', 'GET', '/api/chat.postMessage?channel=c0123'), 'allow', 'allowed'],
  [
    'azure read, resource id lower-cased',
    azure,
    input('management.azure.com', 'GET', '/subscriptions/s1/resourcegroups/rg/providers/Microsoft.Storage/storageAccounts/a'),
    'allow',
    'allowed',
  ],
  [
    'allow * passes unresolved requests',
    compiled('github', { policy: { allow: ['*'] } }),
    input(API, 'POST', '/graphql'),
    'allow',
    'allowed',
  ],
  [
    'allow * passes an unreadable body when nothing looks at it',
    compiled('mcp', { policy: { allow: ['*'] } }),
    input('mcp.x', 'POST', '/mcp', '[{"method":"tools/call"}]'),
    'allow',
    'allowed',
  ],
  [
    'slack without channel scope ignores a multipart body',
    compiled('slack', { policy: { allow: ['files.*'] } }),
    input('slack.com', 'POST', '/api/files.upload', '--x', [['content-type', 'multipart/form-data']]),
    'allow',
    'allowed',
  ],
  ['audit mode allows', audit, input(API, 'GET', '/repos/o/r'), 'allow', 'allowed'],
];
for (const [name, policy, req, decision, reason, rule] of rows) {
  test(`evaluate: ${name} → ${decision} (${reason})`, (t) => {
    const v = evaluatePolicy(policy, req);
    t.is(v.decision, decision, JSON.stringify(v));
    t.is(v.reason, reason, JSON.stringify(v));
    if (rule !== undefined) t.is(v.rule, rule);
  });
}

test('the verdict names the action and resource of the failing pair, never a value', (t) => {
  const v = evaluatePolicy(
    aws,
    input('s3.us-east-1.amazonaws.com', 'PUT', '/my-bucket/k', undefined, [['x-amz-copy-source', 'other/secret']]),
  );
  t.like(v, { decision: 'deny', action: 's3:PutObject', reason: 'action_not_allowed' });
  const scoped = compiled('aws', { policy: { allow: ['s3:*'] }, scope: { resources: ['arn:aws:s3:::my-bucket/*'] } });
  const copy = evaluatePolicy(
    scoped,
    input('s3.us-east-1.amazonaws.com', 'PUT', '/my-bucket/k', undefined, [['x-amz-copy-source', 'other/secret']]),
  );
  t.like(copy, { decision: 'deny', reason: 'out_of_scope', action: 's3:GetObject', resource: 'arn:aws:s3:::other/secret' });
});

test('tools/list: an enforced allow asks for the response filter, audit mode does not', (t) => {
  const list = input('mcp.x', 'POST', '/mcp', '{"jsonrpc":"2.0","id":1,"method":"tools/list"}');
  t.is(evaluatePolicy(mcp, list).filterResponse, 'tools/list');
  const auditMcp = compiled('mcp', { policy: { mcp: { deniedTools: ['x'] } }, audit: { enforcement: 'audit' } });
  t.is(evaluatePolicy(auditMcp, list).filterResponse, undefined);
});

test('compilePolicy: no policy and no scope → undefined (behaves as before)', (t) => {
  t.is(compilePolicy('github', {}), undefined);
  t.is(compilePolicy('github', { audit: { enforcement: 'audit' } }), undefined);
});

const invalid: [PolicyProviderType, Blocks, string][] = [
  ['github', { policy: { mcp: { deniedTools: ['x'] } } }, 'policy.mcp'],
  ['http-token', { policy: { allow: ['pulls:read'] } }, 'policy.allow'],
  ['http-token', { policy: { deny: ['x'] } }, 'policy.deny'],
  ['github', { scope: { resources: ['arn:*'] } }, 'scope.resources'],
  ['aws', { scope: { repositories: ['o/r'] } }, 'scope.repositories'],
  ['telegram', { scope: { channels: ['c'] } }, 'scope.channels'],
];
for (const [type, blocks, field] of invalid) {
  test(`compilePolicy refuses ${field} on ${type}`, (t) => {
    const err = t.throws(() => compilePolicy(type, blocks));
    t.true(isPaiError(err, 'invalid'));
    t.regex(err.message, new RegExp(field.replace('.', '\\.')));
  });
}

const bodyRows: [string, PolicyProviderType, Blocks, boolean][] = [
  ['github never', 'github', { policy: { allow: ['pulls:read'] }, scope: { repositories: ['o/r'] } }, false],
  ['slack without channel scope', 'slack', { policy: { allow: ['chat.postMessage'] } }, false],
  ['slack with channel scope', 'slack', { scope: { channels: ['C1'] } }, true],
  ['mcp with tool lists', 'mcp', { policy: { mcp: { deniedTools: ['x'] } } }, true],
  ['mcp with allow * only', 'mcp', { policy: { allow: ['*'] } }, false],
  ['aws with a deny list', 'aws', { policy: { deny: ['sqs:DeleteMessage'] } }, true],
  ['aws with a scope', 'aws', { scope: { resources: ['arn:aws:dynamodb:*:*:table/T'] } }, true],
  ['aws with allow * only', 'aws', { policy: { allow: ['*'] } }, false],
  ['http-token', 'http-token', { policy: { httpRules: [{ methods: ['GET'], paths: ['*'], effect: 'allow' }] } }, false],
];
for (const [name, type, blocks, expected] of bodyRows) {
  test(`needsBody: ${name} → ${expected}`, (t) => {
    t.is(needsBody(compiled(type, blocks)), expected);
  });
}
