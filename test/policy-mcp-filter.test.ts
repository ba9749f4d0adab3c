import test from 'ava';
import { compileProviderPolicy as compilePolicy } from '../src/providers/registry.js';
import type { CompiledPolicy } from '../src/policy/compile.js';
import { filterToolsList, toolAllowed } from '../src/policy/mcp-filter.js';

const policy = compilePolicy('mcp', {
  policy: { mcp: { allowedTools: ['list_issues', 'create_issue', 'delete_issue'], deniedTools: ['delete_issue'] } },
}) as CompiledPolicy;
const tool = (name: string): { name: string; description: string; inputSchema: object } => ({
  name,
  description: `d ${name}`,
  inputSchema: {},
});
const listResult = (names: string[]): string => JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools: names.map(tool) } });
const names = (json: string): string[] =>
  (JSON.parse(json) as { result: { tools: { name: string }[] } }).result.tools.map((t) => t.name);

const unreadable: [string, string, string, RegExp][] = [
  ['duplicate keys', 'application/json', '{"result":{"tools":[],"tools":[{"name":"delete_issue"}]}}', /duplicate/],
  ['case-folded duplicate', 'application/json', '{"result":{"tools":[],"Tools":[{"name":"delete_issue"}]}}', /duplicate/],
  ['not JSON', 'application/json', '{"result":', /strict JSON/],
  ['bad JSON in an SSE event', 'text/event-stream', 'event: message\ndata: {"result":\n\n', /strict JSON/],
  ['other content type', 'text/html', '<html>', /cannot filter/],
  ['no content type', '', '{}', /cannot filter/],
];
for (const [name, type, body, why] of unreadable) {
  test(`filterToolsList fails closed: ${name}`, (t) => {
    const r = filterToolsList(policy, Buffer.from(body), type);
    t.false(r.ok);
    if (!r.ok) t.regex(r.why, why);
  });
}

test('filterToolsList fails closed on invalid UTF-8', (t) => {
  t.false(filterToolsList(policy, Buffer.from([0x7b, 0xff, 0x7d]), 'application/json').ok);
});

test('JSON: denied and unlisted tools are removed, the rest kept in order', (t) => {
  const r = filterToolsList(
    policy,
    Buffer.from(listResult(['list_issues', 'delete_issue', 'drop_db', 'create_issue'])),
    'application/json; charset=utf-8',
  );
  if (!r.ok) return t.fail(r.why);
  t.deepEqual(names(r.body.toString()), ['list_issues', 'create_issue']);
  t.deepEqual(r.removed, ['delete_issue', 'drop_db']);
});

test('JSON: a tool without a string name is removed; a message with nothing to remove is returned byte for byte', (t) => {
  const r = filterToolsList(
    policy,
    Buffer.from('{"result":{"tools":[{"name":"list_issues"},{"title":"x"},{"name":5}]}}'),
    'application/json',
  );
  if (!r.ok) return t.fail(r.why);
  t.deepEqual(r.removed, ['(unnamed)', '(unnamed)']);
  const same = Buffer.from('{ "result" : { "tools" : [ {"name":"list_issues"} ] } }');
  const kept = filterToolsList(policy, same, 'application/json');
  t.true(kept.ok && kept.body === same);
});

test('JSON: a batch answer and a case-variant "Tools" key (read by Go clients) are filtered', (t) => {
  const batch = `[${listResult(['delete_issue', 'list_issues'])},{"jsonrpc":"2.0","id":2,"result":{}}]`;
  const r = filterToolsList(policy, Buffer.from(batch), 'application/json');
  if (!r.ok) return t.fail(r.why);
  t.deepEqual(r.removed, ['delete_issue']);
  const go = filterToolsList(policy, Buffer.from('{"Result":{"Tools":[{"Name":"delete_issue"}]}}'), 'application/json');
  t.true(go.ok && go.removed.length === 1 && !go.body.toString().includes('delete_issue'));
});

test('event stream: framing, other fields and CRLF kept; multi-line data rewritten as one data line', (t) => {
  const json = listResult(['list_issues', 'delete_issue']);
  const cut = json.indexOf('"id"');
  const split = `${json.slice(0, cut)}\r\ndata: ${json.slice(cut)}`;
  const body = `: keep-alive\r\n\r\nevent: endpoint\r\ndata: /messages?session=1\r\n\r\nid: 7\r\nevent: message\r\ndata: ${split}\r\nretry: 10\r\n\r\n`;
  const r = filterToolsList(policy, Buffer.from(body), 'text/event-stream');
  if (!r.ok) return t.fail(r.why);
  t.deepEqual(r.removed, ['delete_issue']);
  const filtered = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools: [tool('list_issues')] } });
  t.is(
    r.body.toString(),
    `: keep-alive\r\n\r\nevent: endpoint\r\ndata: /messages?session=1\r\n\r\nid: 7\r\nevent: message\r\ndata: ${filtered}\r\nretry: 10\r\n\r\n`,
  );
});

test('event stream with LF endings and no final blank line', (t) => {
  const body = `event: message\ndata:${listResult(['drop_db'])}\n`;
  const r = filterToolsList(policy, Buffer.from(body), 'text/event-stream');
  if (!r.ok) return t.fail(r.why);
  t.is(r.body.toString(), `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools: [] } })}\n`);
});

test('toolAllowed applies policy.allow/deny as well as the tool lists', (t) => {
  const p = compilePolicy('mcp', { policy: { allow: ['*'], deny: ['Admin_*'] } }) as CompiledPolicy;
  t.false(toolAllowed(p, 'admin_reset'));
  t.true(toolAllowed(p, 'list'));
  t.false(toolAllowed(policy, 'DELETE_ISSUE'));
  t.false(toolAllowed(policy, 'List_Issues'));
  t.true(toolAllowed(policy, 'list_issues'));
});
