import test from 'ava';
import { mcpAction } from '../src/providers/mcp-actions.js';
import { slackAction } from '../src/providers/slack-actions.js';
import { telegramAction } from '../src/providers/telegram-actions.js';
import { describeAction, policyRequest } from './helpers/policy.js';
import type { ActionRow } from './helpers/policy.js';

const none = {};
const TG = 'api.telegram.org';

// ---- Telegram ----

const telegramRows: ActionRow[] = [
  ['POST', '/bot123:AAH-x/deleteMessage/', none, 'refused bad_request'],
  ['POST', '/bot123:AAH-x/deleteMessage;x=1', none, 'refused bad_request'],
  ['POST', '/bot123:AAH-x/deleteMessage/extra', none, 'refused bad_request'],
  ['POST', '/bot123:AAH-x/delete_message', none, 'refused bad_request'],
  ['POST', '/bot123:AAH-x/', none, 'refused bad_request'],
  ['POST', '/bot123:AAH-x', none, 'refused bad_request'],
  ['POST', '/bot@x/sendMessage', none, 'refused bad_request'],
  ['GET', '/file/bot123:AAH-x/', none, 'refused bad_request'],
  ['POST', '/bot123:AAH-x/sendMessage', none, 'sendMessage'],
  ['POST', '/bot123:AAH-x/DeleteMessage', none, 'DeleteMessage'],
  ['GET', '/bot123:AAH-x/getUpdates?offset=5', none, 'getUpdates'],
  ['POST', '/botPLACEHOLDER_token/sendPhoto', none, 'sendPhoto'],
  ['POST', '/bot/sendMessage', none, 'sendMessage'],
  ['POST', '/BOT123:x/banChatMember', none, 'banChatMember'],
  ['GET', '/file/bot123:AAH-x/photos/file_1.jpg', none, 'getFile'],
  ['GET', '/', none, '-'],
  ['GET', '/other/path', none, '-'],
];
for (const [method, path, options, expected] of telegramRows) {
  test(`telegram ${method} ${path} → ${expected}`, (t) => {
    t.is(describeAction(telegramAction(policyRequest(TG, method, path, options))), expected);
  });
}

// ---- Slack ----

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const JSON_CT = { 'content-type': 'application/json; charset=utf-8' };
const slackRows: ActionRow[] = [
  ['POST', '/api/chat.postMessage/', { body: '' }, 'refused bad_request'],
  ['POST', '/api/chat.postMessage;x', { body: '' }, 'refused bad_request'],
  ['POST', '/api/chat/postMessage', { body: '' }, 'refused bad_request'],
  ['POST', '/api/chat_postMessage', { body: '' }, 'refused bad_request'],
  [
    'POST',
    '/api/chat.postMessage',
    { headers: JSON_CT, body: '{"channel":"C1","channel":"C2"}' },
    'refused bad_body (chat.postMessage)',
  ],
  [
    'POST',
    '/api/chat.postMessage',
    { headers: JSON_CT, body: '{"channel":"C1","Channel":"C2"}' },
    'refused bad_body (chat.postMessage)',
  ],
  ['POST', '/api/chat.postMessage', { headers: JSON_CT, body: '{"channel":5}' }, 'refused bad_body (chat.postMessage)'],
  ['POST', '/api/chat.postMessage', { headers: FORM, body: 'channel=%zz' }, 'refused bad_body (chat.postMessage)'],
  [
    'POST',
    '/api/files.upload',
    { headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: '--x' },
    'refused bad_body (files.upload)',
  ],
  ['POST', '/api/chat.postMessage', none, 'needs_body resource (chat.postMessage)'],
  ['POST', '/api/chat.postMessage?channel=C1', none, 'needs_body resource (chat.postMessage)'],
  ['GET', '/api/conversations.history?channel=C1', none, 'conversations.history @ C1'],
  ['POST', '/api/chat.postMessage', { headers: FORM, body: 'channel=C1&text=hi' }, 'chat.postMessage @ C1'],
  [
    'POST',
    '/api/chat.postMessage',
    { headers: JSON_CT, body: '{"channel":"#general","text":"hi"}' },
    'chat.postMessage @ #general',
  ],
  [
    'POST',
    '/api/chat.postMessage?channel=C1',
    { headers: FORM, body: 'channel=C2' },
    'chat.postMessage @ C1 + chat.postMessage @ C2',
  ],
  [
    'POST',
    '/api/files.completeUploadExternal',
    { headers: FORM, body: 'channels=C1,C2' },
    'files.completeUploadExternal @ C1 + files.completeUploadExternal @ C2',
  ],
  ['POST', '/api/conversations.info', { headers: JSON_CT, body: '{"channel_id":"C9"}' }, 'conversations.info @ C9'],
  ['POST', '/api/auth.test', { body: '' }, 'auth.test'],
  ['POST', '/api/admin.conversations.archive', { headers: FORM, body: 'channel_id=C1' }, 'admin.conversations.archive @ C1'],
  ['GET', '/', none, '-'],
];
for (const [method, path, options, expected] of slackRows) {
  test(`slack ${method} ${path} ${String(options.body ?? '')} → ${expected}`, (t) => {
    t.is(describeAction(slackAction(policyRequest('slack.com', method, path, options))), expected);
  });
}

// ---- MCP ----

const call = (name: unknown): string =>
  JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: {} } });
const mcpRows: ActionRow[] = [
  ['POST', '/mcp', { body: `[${call('delete_issue')}]` }, 'refused bad_body'],
  [
    'POST',
    '/mcp',
    { body: `[{"jsonrpc":"2.0","method":"notifications/initialized"},${call('delete_issue')}]` },
    'refused bad_body',
  ],
  ['POST', '/mcp', { body: '[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]' }, 'refused bad_body'],
  ['POST', '/mcp', { body: '[]' }, 'refused bad_body'],
  ['POST', '/mcp', { body: '{"method":"tools/call","params":{"name":"list_issues","name":"delete_issue"}}' }, 'refused bad_body'],
  [
    'POST',
    '/mcp',
    { body: '{"method":"tools/list","Method":"tools/call","params":{"name":"delete_issue"}}' },
    'refused bad_body',
  ],
  ['POST', '/mcp', { body: '{"method":"tools/call","params":{"name":"x"}} trailing' }, 'refused bad_body'],
  ['POST', '/mcp', { body: '{"method":"tools/call","params":{}}' }, 'refused bad_body'],
  ['POST', '/mcp', { body: call(7) }, 'refused bad_body'],
  ['POST', '/mcp', { body: call('delete_issue ') }, 'refused bad_body'],
  ['POST', '/mcp', { body: call('delete\nissue') }, 'refused bad_body'],
  ['POST', '/mcp', { body: call('') }, 'refused bad_body'],
  ['POST', '/mcp', { body: '{"method":["tools/call"],"params":{"name":"x"}}' }, 'refused bad_body'],
  ['POST', '/mcp', { body: '"tools/call"' }, 'refused bad_body'],
  ['POST', '/mcp', { body: Buffer.from([0x7b, 0xff, 0x7d]) }, 'refused bad_body'],
  ['POST', '/mcp', none, 'needs_body action'],
  ['POST', '/mcp', { body: call('list_issues') }, 'list_issues'],
  ['POST', '/mcp', { body: '{"jsonrpc":"2.0","id":1,"Method":"tools/call","params":{"Name":"delete_issue"}}' }, 'delete_issue'],
  ['POST', '/mcp', { body: '{"jsonrpc":"2.0","id":1,"method":" Tools/Call ","params":{"name":"delete_issue"}}' }, 'delete_issue'],
  ['POST', '/mcp', { body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' }, '- [filter]'],
  ['POST', '/mcp', { body: '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}' }, '-'],
  ['POST', '/mcp', { body: '{"jsonrpc":"2.0","id":1,"result":{}}' }, '-'],
  ['POST', '/mcp', { body: '[{"jsonrpc":"2.0","method":"notifications/initialized"}]' }, '-'],
  ['GET', '/sse', none, '-'],
  ['DELETE', '/mcp', none, '-'],
];
for (const [method, path, options, expected] of mcpRows) {
  test(`mcp ${method} ${path} ${String(options.body ?? '').slice(0, 90)} → ${expected}`, (t) => {
    t.is(describeAction(mcpAction(policyRequest('mcp.example.com', method, path, options))), expected);
  });
}
