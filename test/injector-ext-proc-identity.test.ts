/**
 * The ext_proc identity reader (src/injector/ext-proc-identity.ts) and its text-format parser, on
 * the attribute shapes Envoy sends (docs/ENVOY.md §2): the plain-string CEL path first, the route
 * Metadata in protobuf text format as the fallback. Failure cases first: anything unclear is no
 * identity.
 */
import test from 'ava';
import type { Struct__Output } from '../src/generated/google/protobuf/Struct.js';
import {
  AGENT_ATTRIBUTE,
  NAMESPACE_ATTRIBUTE,
  EXT_PROC_FILTER_NAME,
  ROUTE_METADATA_ATTRIBUTE,
  agentFromAttributes,
  agentFromRouteMetadataText,
} from '../src/injector/ext-proc-identity.js';
import { TextFormatError, parseTextFormat } from '../src/injector/ext-proc-textformat.js';

const attrs = (
  fields: Record<string, Struct__Output['fields'] extends infer F ? (F extends Record<string, infer V> ? V : never) : never>,
): Record<string, Struct__Output> => ({
  [EXT_PROC_FILTER_NAME]: { fields },
});

const meta = (inner: string): string => `filter_metadata { key: "pai" value { fields { key: "agent" value { ${inner} } } } }`;

const noIdentityTexts: [string, string][] = [
  ['empty text', ''],
  ['Envoy 1.37.0 debug marker', `goo.gle/debugonly ${meta('string_value: "bot"')}`],
  ['unterminated message', 'filter_metadata { key: "pai" value { fields {'],
  ['unterminated string', meta('string_value: "bot')],
  ['bad escape', meta('string_value: "b\\qot"')],
  ['invalid UTF-8 from an octal escape', meta('string_value: "\\377"')],
  ['pai repeated', `${meta('string_value: "bot"')} ${meta('string_value: "evil"')}`],
  [
    'agent repeated inside pai',
    'filter_metadata { key: "pai" value { fields { key: "agent" value { string_value: "a" } } fields { key: "agent" value { string_value: "b" } } } }',
  ],
  ['a number, not a string', meta('number_value: 7')],
  ['a bool, not a string', meta('bool_value: true')],
  ['two kinds in one Value', meta('string_value: "bot" number_value: 1')],
  ['an unquoted identifier', meta('string_value: bot')],
  ['another namespace', 'filter_metadata { key: "pai2" value { fields { key: "agent" value { string_value: "bot" } } } }'],
  [
    'the agent under typed_filter_metadata only',
    'typed_filter_metadata { key: "pai" value { [type.googleapis.com/google.protobuf.StringValue] { value: "bot" } } }',
  ],
  ['entry without a key', 'filter_metadata { value { fields { key: "agent" value { string_value: "bot" } } } }'],
  ['deeply nested garbage', `${'a { '.repeat(40)}${'} '.repeat(40)}`],
];

for (const [name, text] of noIdentityTexts) {
  test(`route metadata text without an identity: ${name}`, (t) => {
    t.is(agentFromRouteMetadataText(text), undefined);
    t.is(agentFromAttributes(attrs({ [ROUTE_METADATA_ATTRIBUTE]: { stringValue: text, kind: 'stringValue' } })), undefined);
  });
}

const noIdentityAttributes: [string, Record<string, Struct__Output> | undefined][] = [
  ['no attributes', undefined],
  ['empty map', {}],
  [
    'another filter name',
    { 'envoy.filters.http.ext_authz': { fields: { [AGENT_ATTRIBUTE]: { stringValue: 'bot', kind: 'stringValue' } } } },
  ],
  ['empty struct', attrs({})],
  [
    'empty agent string (no fallback to the text)',
    attrs({
      [AGENT_ATTRIBUTE]: { stringValue: '', kind: 'stringValue' },
      [ROUTE_METADATA_ATTRIBUTE]: { stringValue: meta('string_value: "bot"'), kind: 'stringValue' },
    }),
  ],
  ['agent as a number', attrs({ [AGENT_ATTRIBUTE]: { numberValue: 1, kind: 'numberValue' } })],
  ['agent as a struct', attrs({ [AGENT_ATTRIBUTE]: { structValue: { fields: {} }, kind: 'structValue' } })],
  [
    'another CEL expression',
    attrs({ "xds.route_metadata.filter_metadata['pai']['name']": { stringValue: 'bot', kind: 'stringValue' } }),
  ],
];

for (const [name, attributes] of noIdentityAttributes) {
  test(`attributes without an identity: ${name}`, (t) => {
    t.is(agentFromAttributes(attributes), undefined);
  });
}

test('the plain CEL path is read first', (t) => {
  t.deepEqual(agentFromAttributes(attrs({ [AGENT_ATTRIBUTE]: { stringValue: 'triage-bot', kind: 'stringValue' } })), {
    namespace: 'default',
    name: 'triage-bot',
  });
  const both = attrs({
    [AGENT_ATTRIBUTE]: { stringValue: 'direct-bot', kind: 'stringValue' },
    [ROUTE_METADATA_ATTRIBUTE]: { stringValue: meta('string_value: "text-bot"'), kind: 'stringValue' },
  });
  t.is(agentFromAttributes(both)?.name, 'direct-bot');
});

test('the namespace comes from the route too (plain CEL path and text), default when absent', (t) => {
  const direct = attrs({
    [AGENT_ATTRIBUTE]: { stringValue: 'bot', kind: 'stringValue' },
    [NAMESPACE_ATTRIBUTE]: { stringValue: 'team-a', kind: 'stringValue' },
  });
  t.deepEqual(agentFromAttributes(direct), { namespace: 'team-a', name: 'bot' });
  const text =
    'filter_metadata { key: "pai" value { fields { key: "agent" value { string_value: "bot" } } fields { key: "namespace" value { string_value: "team-b" } } } }';
  t.deepEqual(agentFromAttributes(attrs({ [ROUTE_METADATA_ATTRIBUTE]: { stringValue: text, kind: 'stringValue' } })), {
    namespace: 'team-b',
    name: 'bot',
  });
});

test('a namespace or agent that is not a DNS label is no identity (never a default)', (t) => {
  for (const [agent, namespace] of [
    ['bot', 'Team-A'],
    ['bot', '../x'],
    ['Bot', 'default'],
    ['bot', 'a'.repeat(64)],
  ] as const) {
    const a = attrs({
      [AGENT_ATTRIBUTE]: { stringValue: agent, kind: 'stringValue' },
      [NAMESPACE_ATTRIBUTE]: { stringValue: namespace, kind: 'stringValue' },
    });
    t.is(agentFromAttributes(a), undefined, `${agent} in ${namespace}`);
  }
  const malformedNs =
    'filter_metadata { key: "pai" value { fields { key: "agent" value { string_value: "bot" } } fields { key: "namespace" value { number_value: 1 } } } }';
  t.is(agentFromAttributes(attrs({ [ROUTE_METADATA_ATTRIBUTE]: { stringValue: malformedNs, kind: 'stringValue' } })), undefined);
});

const identityTexts: [string, string, string][] = [
  [
    'as documented in docs/ENVOY.md',
    'filter_metadata { key: "pai" value { fields { key: "agent" value { string_value: "triage-bot" } } } }',
    'triage-bot',
  ],
  [
    'whitespace varies (protobuf randomises debug-string spacing)',
    'filter_metadata  {key:"pai"   value{fields{key :"agent" value {string_value:"triage-bot"}}}}',
    'triage-bot',
  ],
  [
    'line breaks and a comment',
    'filter_metadata {\n  key: "pai" # the namespace\n  value {\n    fields { key: "agent" value { string_value: "bot" } }\n  }\n}\n',
    'bot',
  ],
  [
    'angle brackets and separators',
    'filter_metadata < key: "pai"; value < fields < key: "agent", value < string_value: "bot" > > > >',
    'bot',
  ],
  [
    'other namespaces and fields around',
    `filter_metadata { key: "envoy.lb" value { fields { key: "canary" value { bool_value: true } } } } ${'filter_metadata { key: "pai" value { fields { key: "team" value { string_value: "x" } } fields { key: "agent" value { string_value: "bot" } } } }'} typed_filter_metadata { key: "t" value { [type.googleapis.com/google.protobuf.Struct] { fields { key: "k" value { list_value { values { number_value: -1.5e+3 } } } } } } }`,
    'bot',
  ],
  ['adjacent strings and escapes', meta('string_value: "tri" \'age-\' "b\\157t"'), 'triage-bot'],
  ['UTF-8 as octal escapes', meta('string_value: "caf\\303\\251"'), 'café'],
  ['hex and unicode escapes', meta('string_value: "\\x62\\u006ft"'), 'bot'],
];

for (const [name, text, agent] of identityTexts) {
  test(`route metadata text: ${name}`, (t) => {
    t.is(agentFromRouteMetadataText(text), agent);
    // The text parser reads any string; only a DNS-label name is an identity.
    const id = agentFromAttributes(attrs({ [ROUTE_METADATA_ATTRIBUTE]: { stringValue: text, kind: 'stringValue' } }));
    t.is(id?.name, /^[a-z0-9-]+$/.test(agent) ? agent : undefined);
  });
}

test('the parser keeps field order and repeated fields, and reports positions, not text', (t) => {
  t.deepEqual(parseTextFormat('a: 1 b { c: "x" } a: [2, 3]'), [
    ['a', { kind: 'scalar', text: '1', quoted: false }],
    ['b', { kind: 'message', fields: [['c', { kind: 'scalar', text: 'x', quoted: true }]] }],
    ['a', { kind: 'scalar', text: '2', quoted: false }],
    ['a', { kind: 'scalar', text: '3', quoted: false }],
  ]);
  const err = t.throws(() => parseTextFormat('secret: "PAI-value'), { instanceOf: TextFormatError });
  t.regex(err?.message ?? '', /^text format: unterminated string at offset \d+$/);
  t.throws(() => parseTextFormat('x'.repeat(70_000)), { instanceOf: TextFormatError, message: /longer than/ });
});
