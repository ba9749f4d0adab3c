import test from 'ava';
import { foldKey, jsonField, jsonString, parseStrictJson } from '../src/policy/json-strict.js';

const refusedJson: [string, string, RegExp][] = [
  ['duplicate key', '{"name":"a","name":"b"}', /duplicate key "name"/],
  ['duplicate key in params', '{"method":"tools/call","params":{"name":"ok","name":"evil"}}', /duplicate/],
  ['duplicate after escape decoding', '{"name":"a","n\\u0061me":"b"}', /duplicate/],
  ['duplicate by case (Go reads both as one field)', '{"method":"tools/list","METHOD":"tools/call"}', /duplicate/],
  ['duplicate by Unicode folding (ſ is s)', '{"ſcope":1,"scope":2}', /duplicate/],
  ['duplicate by Kelvin sign', '{"\u212Aey":1,"key":2}', /duplicate/],
  ['trailing comma', '{"a":1,}', /./],
  ['comment', '{"a":1 /* x */}', /./],
  ['single quotes', "{'a':1}", /./],
  ['NaN', '{"a":NaN}', /./],
  ['unquoted key', '{a:1}', /./],
  ['two documents', '{} {}', /./],
  ['empty', '', /./],
  ['BOM', '\ufeff{}', /./],
  ['raw line break inside a string (momoa alone would accept it)', '{"a":"x\ny"}', /./],
  ['raw tab inside a string', '{"a":"x\ty"}', /./],
  ['too deep', `${'['.repeat(100)}${']'.repeat(100)}`, /deeper/],
];
for (const [name, text, why] of refusedJson) {
  test(`strict JSON refuses: ${name}`, (t) => {
    const r = parseStrictJson(text);
    t.false(r.ok);
    if (!r.ok) t.regex(r.why, why);
  });
}

test('strict JSON reads values, and fields by folded name', (t) => {
  const r = parseStrictJson('{"Method":"tools/call","params":{"name":"x","arguments":{"a":[1,true,null]}}}');
  if (!r.ok) return t.fail(r.why);
  t.is(jsonString(r.value, 'method'), 'tools/call');
  t.is(jsonString(jsonField(r.value, 'params'), 'NAME'), 'x');
  t.deepEqual(jsonField(jsonField(jsonField(r.value, 'params'), 'arguments'), 'a'), [1, true, null]);
  t.is(jsonString(r.value, 'absent'), undefined);
});

test('strict JSON keeps keys as written, in order', (t) => {
  const r = parseStrictJson('{"Orders":{},"users":{}}');
  if (!r.ok || typeof r.value !== 'object' || r.value === null || Array.isArray(r.value)) return t.fail();
  t.deepEqual((r.value as unknown as { keys: string[] }).keys, ['Orders', 'users']);
});

test('foldKey folds like Go (simple folding) and JavaScript', (t) => {
  t.is(foldKey('NaMe'), 'name');
  t.is(foldKey('ſ'), 's');
  t.is(foldKey('\u212A'), 'k');
});
