/**
 * The injector's CheckResponse encoder (src/injector/check-encode.ts) against the generic serializer
 * it replaces (protobufjs encode(fromObject(x)), envoy-grpc.ts): byte-equal on generated responses
 * of every field it covers and on the responses ext-authz.ts builds; fields it does not cover are
 * refused, not dropped.
 */
import test from 'ava';
import fc from 'fast-check';
import { encodeCheckResponse } from '../src/injector/check-encode.js';
import { envoyService } from '../src/injector/envoy-grpc.js';
import { checkResponse, deniedResponse } from '../src/injector/ext-authz.js';
import { PaiError } from '../src/errors.js';
import type { CheckResponse } from '../src/generated/envoy/service/auth/v3/CheckResponse.js';
import type { Decision } from '../src/injector/decide.js';
import type { InjectionTarget } from '../src/resources/types.js';

const method = envoyService('auth')['Check'];
if (!method) throw new Error('no Check method');
const generic = (res: CheckResponse): Buffer => method.responseSerialize(res);

const text = fc.oneof(fc.string({ maxLength: 16 }), fc.string({ unit: 'binary', maxLength: 8 }));
const option = fc.record(
  {
    header: fc.record(
      { key: text, value: text, raw_value: fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b)) },
      { requiredKeys: [] },
    ),
    append: fc.record({ value: fc.boolean() }, { requiredKeys: [] }),
    append_action: fc.oneof(
      fc.constantFrom('APPEND_IF_EXISTS_OR_ADD', 'ADD_IF_ABSENT', 'OVERWRITE_IF_EXISTS_OR_ADD', 'OVERWRITE_IF_EXISTS'),
      fc.integer({ min: 0, max: 3 }),
    ),
    keep_empty_value: fc.boolean(),
  },
  { requiredKeys: [] },
);
const options = fc.array(option, { maxLength: 4 });
const query = fc.array(fc.record({ key: text, value: text }, { requiredKeys: [] }), { maxLength: 3 });
const status = fc.record({ code: fc.integer({ min: -5, max: 20 }), message: text }, { requiredKeys: [] });
const ok = fc.record(
  {
    headers: options,
    headers_to_remove: fc.array(text, { maxLength: 4 }),
    response_headers_to_add: options,
    query_parameters_to_set: query,
    query_parameters_to_remove: fc.array(text, { maxLength: 3 }),
  },
  { requiredKeys: [] },
);
const denied = fc.record(
  {
    status: fc.record({ code: fc.constantFrom(0, 200, 400, 401, 403, 404, 405, 429, 500, 502, 503) }, { requiredKeys: [] }),
    headers: options,
    body: text,
  },
  { requiredKeys: [] },
);
const response: fc.Arbitrary<CheckResponse> = fc.oneof(
  fc.record({ status, ok_response: ok }, { requiredKeys: [] }),
  fc.record({ status, denied_response: denied }, { requiredKeys: [] }),
) as fc.Arbitrary<CheckResponse>;

test('generated CheckResponses: the same bytes as protobufjs', (t) => {
  fc.assert(
    fc.property(response, (res) => {
      t.deepEqual(encodeCheckResponse(res), generic(res));
    }),
    { numRuns: 800 },
  );
});

const target = (auth: InjectionTarget['auth']): InjectionTarget =>
  ({
    kind: 'Provider',
    name: 'p',
    type: 'http',
    secret: 's',
    auth,
    requiredKeys: [],
  }) as unknown as InjectionTarget;

test('the responses ext-authz.ts builds: the same bytes as protobufjs', (t) => {
  const values = new Map([
    ['token', Buffer.from('tok-123')],
    ['key', Buffer.from('k v/é')],
  ]);
  const decisions: Decision[] = [
    { kind: 'pass', agent: 'a', host: 'example.com' },
    {
      kind: 'inject',
      agent: 'a',
      host: 'api.github.com',
      target: target({ strategy: 'header', header: 'Authorization', prefix: 'Bearer ', key: 'token' } as never),
      mutation: { set: [{ name: 'authorization', value: 'Bearer tok-123' }], remove: ['authorization', 'x-api-key'] },
      values,
    },
    {
      kind: 'inject',
      agent: 'a',
      host: 'maps.example.com',
      target: target({ strategy: 'query', param: 'api_key', key: 'key' } as never),
      mutation: { set: [], remove: [], query: [{ name: 'v', value: '2 b' }] },
      values,
    },
    { kind: 'deny', error: new PaiError('forbidden', 'no') },
    { kind: 'deny', error: new PaiError('unauthenticated', 'who') },
    { kind: 'deny', error: new PaiError('store_unavailable', 'store down') },
  ];
  for (const d of decisions) {
    const res = checkResponse(d, '/x?API_KEY=1&api%5Fkey=2&b=3');
    t.deepEqual(encodeCheckResponse(res), generic(res), d.kind);
  }
  const denial = deniedResponse(new PaiError('needs_ext_proc', 'SigV4 signing needs ext_proc'));
  t.deepEqual(encodeCheckResponse(denial), generic(denial));
});

test('fields the encoder does not cover are refused, never dropped', (t) => {
  t.throws(() => encodeCheckResponse({ dynamic_metadata: { fields: {} } }), { message: /dynamic_metadata/ });
  t.throws(() => encodeCheckResponse({ ok_response: { dynamic_metadata: { fields: {} } } }), { message: /dynamic_metadata/ });
  t.throws(() => encodeCheckResponse({ status: { code: 7, details: [{ type_url: 'x', value: Buffer.alloc(0) }] } }), {
    message: /details/,
  });
  t.throws(() => encodeCheckResponse({ denied_response: { status: { code: 'Forbidden' } } }), { message: /status\.code/ });
  t.throws(() => encodeCheckResponse({ ok_response: { headers: [{ append_action: 'MERGE' as never }] } }), {
    message: /append_action/,
  });
  t.throws(() => encodeCheckResponse({ ok_response: {}, denied_response: {} }), { message: /both/ });
});
