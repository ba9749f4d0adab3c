/**
 * The injector's ext_proc codec (src/injector/ext-proc-codec.ts, ext-proc-encode.ts) against the
 * generic one it replaces (protobufjs through envoy-grpc.ts, which clients keep using):
 * - generated ProcessingRequests (each oneof member, header maps with value and raw_value, bodies,
 *   attributes of nested Structs, fields and unknown fields the injector skips) decode to the same
 *   fields the injector reads, and to the same agent identity;
 * - generated ProcessingResponses of every field the encoder takes, and the responses the
 *   injector actually builds (ext-proc-messages.ts), encode to the same bytes as protobufjs's
 *   encode(fromObject(x));
 * - truncated bytes are refused by both or decoded alike; mutated bytes only ever throw
 *   ProtoWireError; Struct nesting stops where protobufjs's does;
 * - the wire corner cases, and the two deliberate departures from protobufjs (a oneof keeps the
 *   last member on the wire; a map entry without its value holds an empty message).
 */
import test from 'ava';
import fc from 'fast-check';
import { ERROR_TABLE, PaiError } from '../src/errors.js';
import type { HeaderMutation } from '../src/inject/mutation.js';
import { ExtProcEncodeError, decodeProcessingRequest, encodeProcessingResponse } from '../src/injector/ext-proc-codec.js';
import {
  AGENT_ATTRIBUTE,
  EXT_PROC_FILTER_NAME,
  NAMESPACE_ATTRIBUTE,
  ROUTE_METADATA_ATTRIBUTE,
  agentFromAttributes,
  namedInAttributes,
} from '../src/injector/ext-proc-identity.js';
import * as messages from '../src/injector/ext-proc-messages.js';
import { envoyService } from '../src/injector/envoy-grpc.js';
import { ProtoWireError, varint } from '../src/injector/wire.js';
import { field } from './helpers/wire-bytes.js';
import { _envoy_config_core_v3_HeaderValueOption_HeaderAppendAction as AppendAction } from '../src/generated/envoy/config/core/v3/HeaderValueOption.js';
import {
  _envoy_extensions_filters_http_ext_proc_v3_ProcessingMode_BodySendMode as BodySendMode,
  _envoy_extensions_filters_http_ext_proc_v3_ProcessingMode_HeaderSendMode as HeaderSendMode,
} from '../src/generated/envoy/extensions/filters/http/ext_proc/v3/ProcessingMode.js';
import { _envoy_service_ext_proc_v3_CommonResponse_ResponseStatus as ResponseStatus } from '../src/generated/envoy/service/ext_proc/v3/CommonResponse.js';
import type {
  ProcessingRequest,
  ProcessingRequest__Output,
} from '../src/generated/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse } from '../src/generated/envoy/service/ext_proc/v3/ProcessingResponse.js';
import type { HttpHeaders__Output } from '../src/generated/envoy/service/ext_proc/v3/HttpHeaders.js';
import type { HttpBody__Output } from '../src/generated/envoy/service/ext_proc/v3/HttpBody.js';
import type { Struct } from '../src/generated/google/protobuf/Struct.js';
import type { Value } from '../src/generated/google/protobuf/Value.js';

const method = envoyService('extProc')['Process'];
if (!method) throw new Error('no Process method');
const encodeRequest = (req: ProcessingRequest): Buffer => method.requestSerialize(req);
const generic = (bytes: Buffer): ProcessingRequest__Output => method.requestDeserialize(bytes) as ProcessingRequest__Output;
const genericResponse = (res: ProcessingResponse): Buffer => method.responseSerialize(res);

// ---- ProcessingRequests --------------------------------------------------------------------

const text = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 8 }));
/** Map keys, with the ones that would touch Object.prototype if assigned and the identity keys. */
const key = fc.oneof(
  { weight: 4, arbitrary: text },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '__proto__',
      'constructor',
      'toString',
      EXT_PROC_FILTER_NAME,
      AGENT_ATTRIBUTE,
      NAMESPACE_ATTRIBUTE,
    ),
  },
);
/** An object with own properties `entries` (Object.fromEntries defines `__proto__` as an own key). */
const map = <V>(value: fc.Arbitrary<V>, maxKeys: number): fc.Arbitrary<Record<string, V>> =>
  fc.uniqueArray(fc.tuple(key, value), { selector: (e) => e[0], maxLength: maxKeys }).map((e) => Object.fromEntries(e));

const { struct } = fc.letrec<{ value: Value; struct: Struct }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant({}),
    fc.constant({ nullValue: 'NULL_VALUE' as const }),
    fc.record({ numberValue: fc.double() }),
    fc.record({ stringValue: text }),
    fc.record({ boolValue: fc.boolean() }),
    fc.record({ structValue: tie('struct') }),
    fc.record({ listValue: fc.record({ values: fc.array(tie('value'), { maxLength: 3 }) }, { requiredKeys: [] }) }),
  ),
  struct: fc.record({ fields: map(tie('value'), 3) }, { requiredKeys: [] }),
}));

const headerValue = fc.record(
  { key: text, value: text, raw_value: fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b)) },
  { requiredKeys: [] },
);
const headerMap = fc.record({ headers: fc.array(headerValue, { maxLength: 6 }) }, { requiredKeys: [] });
const httpHeaders = fc.record(
  { headers: headerMap, attributes: map(struct, 2), end_of_stream: fc.boolean() },
  { requiredKeys: [] },
);
const httpBody = fc.record(
  { body: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)), end_of_stream: fc.boolean() },
  { requiredKeys: [] },
);
const httpTrailers = fc.record({ trailers: headerMap }, { requiredKeys: [] });
/** At most one member of the `request` oneof (protobufjs writes every member it is given). */
const member = fc.oneof(
  fc.constant({}),
  fc.record({ request_headers: httpHeaders }),
  fc.record({ response_headers: httpHeaders }),
  fc.record({ request_body: httpBody }),
  fc.record({ response_body: httpBody }),
  fc.record({ request_trailers: httpTrailers }),
  fc.record({ response_trailers: httpTrailers }),
);
/** The sidecar's identity attributes, well-formed or not. */
const identity = fc
  .record(
    {
      [AGENT_ATTRIBUTE]: fc.oneof(
        fc.record({ stringValue: fc.constantFrom('triage-bot', '', 'a b') }),
        fc.record({ boolValue: fc.boolean() }),
      ),
      [NAMESPACE_ATTRIBUTE]: fc.record({ stringValue: fc.constantFrom('default', 'team-a', '') }),
      [ROUTE_METADATA_ATTRIBUTE]: fc.record({
        stringValue: fc.constantFrom(
          'filter_metadata { key: "pai" value { fields { key: "agent" value { string_value: "bot" } } } }',
          'filter_metadata { key: "pai" value { fields { key: "agent" value { number_value: 1 } } } }',
          'not text format {',
        ),
      }),
    },
    { requiredKeys: [] },
  )
  .map((fields): Struct => ({ fields }));
const processingRequest: fc.Arbitrary<ProcessingRequest> = fc
  .tuple(
    member,
    fc.record(
      {
        metadata_context: fc.record({ filter_metadata: map(struct, 2) }),
        attributes: fc.oneof(
          map(struct, 3),
          identity.map((s) => ({ [EXT_PROC_FILTER_NAME]: s })),
        ),
        observability_mode: fc.boolean(),
      },
      { requiredKeys: [] },
    ),
  )
  .map(([m, rest]) => ({ ...m, ...rest }));

/** Unknown fields (field 1 is reserved, 11 and up undeclared) of every wire type, a group included. */
const unknownFields = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constant(1), fc.integer({ min: 11, max: 536_870_911 })),
      fc.constantFrom(0, 1, 2, 3, 5),
      fc.uint8Array({ maxLength: 6 }),
    ),
    { maxLength: 3 },
  )
  .map((list) => Buffer.concat(list.map(([num, wireType, payload]) => unknownField(num, wireType, payload))));

function unknownField(num: number, wireType: number, payload: Uint8Array): Buffer {
  const tag = varint(num * 8 + wireType);
  switch (wireType) {
    case 0:
      return Buffer.from([...tag, ...varint(payload.reduce((a, b) => a * 7 + b, 0))]);
    case 1:
      return Buffer.from([...tag, 1, 2, 3, 4, 5, 6, 7, 8]);
    case 2:
      return Buffer.from([...tag, ...varint(payload.length), ...payload]);
    case 3:
      return Buffer.from([...tag, 0x08, 0x01, ...varint(num * 8 + 4)]);
    default:
      return Buffer.from([...tag, 1, 2, 3, 4]);
  }
}

const hex = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : Buffer.from(b).toString('hex'));
const headersOf = (h: HttpHeaders__Output | undefined): unknown =>
  h && {
    headers: (h.headers?.headers ?? []).map((v) => ({ key: v.key, value: v.value, raw: hex(v.raw_value) })),
    pairs: messages.headerPairs(h),
    end_of_stream: h.end_of_stream,
  };
const bodyOf = (b: HttpBody__Output | undefined): unknown => b && { body: hex(b.body), end_of_stream: b.end_of_stream };

/** What the injector reads of a ProcessingRequest (ext-proc.ts, ext-proc-messages.ts, ext-proc-identity.ts). */
function projection(req: ProcessingRequest__Output): unknown {
  return {
    request: req.request,
    request_headers: headersOf(req.request_headers),
    response_headers: headersOf(req.response_headers),
    request_body: bodyOf(req.request_body),
    response_body: bodyOf(req.response_body),
    request_trailers: req.request_trailers !== undefined,
    response_trailers: req.response_trailers !== undefined,
    observability_mode: req.observability_mode,
    attributes: req.attributes,
    agent: agentFromAttributes(req.attributes),
    named: namedInAttributes(req.attributes),
  };
}

test('generated ProcessingRequests: the fields the injector reads, as protobufjs decode + toObject gives them', (t) => {
  fc.assert(
    fc.property(processingRequest, unknownFields, unknownFields, (req, before, after) => {
      const bytes = Buffer.concat([before, encodeRequest(req), after]);
      t.deepEqual(projection(decodeProcessingRequest(bytes)), projection(generic(bytes)));
    }),
    { numRuns: 800 },
  );
});

test('generated ProcessingRequests: attributes keep `__proto__` and other keys as own properties, as protobufjs 7.6 does', (t) => {
  fc.assert(
    fc.property(map(struct, 4), (attributes) => {
      const decoded = decodeProcessingRequest(encodeRequest({ request_headers: {}, attributes }));
      t.deepEqual(Object.keys(decoded.attributes ?? {}), Object.keys(attributes));
      t.is(Object.getPrototypeOf(decoded.attributes ?? {}), Object.prototype);
    }),
    { numRuns: 200 },
  );
});

test('truncated ProcessingRequests: refused by both decoders, or decoded alike', (t) => {
  fc.assert(
    fc.property(processingRequest, fc.nat(), (req, cut) => {
      const whole = encodeRequest(req);
      const bytes = whole.subarray(0, whole.length === 0 ? 0 : cut % whole.length);
      let expected: unknown;
      try {
        expected = projection(generic(bytes));
      } catch {
        t.throws(() => decodeProcessingRequest(bytes), { instanceOf: ProtoWireError });
        return;
      }
      t.deepEqual(projection(decodeProcessingRequest(bytes)), expected);
    }),
    { numRuns: 600 },
  );
});

test('mutated bytes: a ProtoWireError or a well-typed result, never another exception', (t) => {
  fc.assert(
    fc.property(
      processingRequest,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
      (req, edits) => {
        const bytes = Buffer.from(encodeRequest(req));
        if (bytes.length === 0) return;
        for (const [at, value] of edits) bytes[at % bytes.length] = value;
        let decoded: ProcessingRequest__Output;
        try {
          decoded = decodeProcessingRequest(bytes);
        } catch (err) {
          t.true(err instanceof ProtoWireError, String(err));
          return;
        }
        // What the injector does with it must not throw either.
        projection(decoded);
        t.true(decoded.request === undefined || decoded[decoded.request] !== undefined);
      },
    ),
    { numRuns: 800 },
  );
});

// ---- Hand-built wire bytes -------------------------------------------------------------------

const entry = (k: string, v: number[]): number[] => [...field(1, k), ...field(2, v)];
/** attributes["a"] = Struct { fields: { k: value } }. */
const attribute = (value: number[]): number[] => field(9, entry('a', field(1, entry('k', value))));
/** A Value holding `levels` Structs, one in the other, the innermost holding a string (or a ListValue when `list`). */
function nestedValue(levels: number, list = false): number[] {
  let v = field(3, 'leaf');
  for (let i = 1; i < levels; i++) v = list ? field(6, field(1, v)) : field(5, field(1, entry('k', v)));
  return v;
}

test('deep nesting: refused past the depth protobufjs decodes (100 messages), by both decoders alike', (t) => {
  for (const list of [false, true]) {
    for (const levels of [49, 50, 51, 200]) {
      const bytes = Buffer.from(attribute(nestedValue(levels, list)));
      let theirs: 'ok' | 'refused' = 'ok';
      try {
        generic(bytes);
      } catch {
        theirs = 'refused';
      }
      let ours: 'ok' | 'refused' = 'ok';
      try {
        decodeProcessingRequest(bytes);
      } catch (err) {
        t.true(err instanceof ProtoWireError);
        t.regex((err as Error).message, /nested deeper than 100/);
        ours = 'refused';
      }
      t.is(ours, theirs, `${levels} levels of ${list ? 'ListValue' : 'Struct'}`);
      t.is(ours, levels > 50 ? 'refused' : 'ok');
    }
  }
});

test('wire rules: unknown fields, groups and a field with an unexpected wire type are skipped', (t) => {
  const header = [
    ...field(1, 'x'),
    ...varint((2 << 3) | 0),
    5,
    ...field(2, 'v'),
    ...varint((9 << 3) | 3),
    0x08,
    0x01,
    ...varint((9 << 3) | 4),
  ];
  const headers = [...field(1, field(1, header)), ...varint((3 << 3) | 2), 1, 1, ...varint((3 << 3) | 0), 1];
  const bytes = Buffer.from([...varint((10 << 3) | 2), 1, 1, ...field(2, headers), ...field(99, 'junk')]);
  const decoded = decodeProcessingRequest(bytes);
  t.deepEqual(decoded, {
    request_headers: { headers: { headers: [{ key: 'x', value: 'v' }] }, end_of_stream: true },
    request: 'request_headers',
  });
});

test('wire rules: the last of a singular field wins (a message replaced, not merged), and the last entry of a map key', (t) => {
  const bytes = Buffer.from([
    ...field(4, [...field(1, 'first'), 0x10, 0x01]),
    ...field(4, field(1, 'second')),
    ...attribute(field(3, 'one')),
    ...attribute([0x20, 0x00]),
    0x50,
    0x01,
    0x50,
    0x00,
  ]);
  const decoded = decodeProcessingRequest(bytes);
  t.deepEqual(decoded.request_body, { body: Buffer.from('second') });
  t.false(decoded.observability_mode);
  t.deepEqual(decoded.attributes, { a: { fields: { k: { boolValue: false, kind: 'boolValue' } } } });
  t.deepEqual(generic(bytes).attributes, decoded.attributes);
});

test('departure from protobufjs: a oneof holds the last member on the wire (protobufjs keeps both, names the higher number)', (t) => {
  const bytes = Buffer.from([...field(4, field(1, 'body')), ...field(2, [])]);
  t.deepEqual(decodeProcessingRequest(bytes), { request_headers: {}, request: 'request_headers' });
  t.like(generic(bytes), { request: 'request_body' });
  const value = [...field(3, 'text'), 0x11, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]; // string_value, then number_value 1
  t.deepEqual(decodeProcessingRequest(Buffer.from(attribute(value))).attributes, {
    a: { fields: { k: { numberValue: 1, kind: 'numberValue' } } },
  });
});

test('departure from protobufjs: a map entry without its value holds an empty message (protobufjs throws a TypeError)', (t) => {
  const noStruct = Buffer.from(field(9, field(1, 'a')));
  t.deepEqual(decodeProcessingRequest(noStruct).attributes, { a: {} });
  t.throws(() => generic(noStruct), { instanceOf: TypeError });
  const noValue = Buffer.from(field(9, entry('a', field(1, field(1, 'k')))));
  t.deepEqual(decodeProcessingRequest(noValue).attributes, { a: { fields: { k: {} } } });
});

test('Values: null_value names NULL_VALUE and leaves another number as it is, like toObject; doubles as sent', (t) => {
  for (const value of [
    [0x08, 0x00],
    [0x08, 0x05],
    [0x08, 0xff, 0xff, 0xff, 0xff, 0x0f],
    [0x11, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f], // NaN
    [0x11, 0, 0, 0, 0, 0, 0, 0, 0x80], // -0
    [0x20, 0x02],
  ]) {
    const bytes = Buffer.from(attribute(value));
    t.deepEqual(decodeProcessingRequest(bytes).attributes, generic(bytes).attributes);
  }
});

test('malformed: truncated varint, length past the end, wire types 6 and 7, an unterminated group, truncated double', (t) => {
  const cases: [string, number[]][] = [
    ['truncated varint', [0x12, 0x80]],
    ['length past the end', [0x12, 0x05, 0x01]],
    ['nested length past its parent', [0x12, 0x02, 0x0a, 0x05]],
    ['wire type 6', [(5 << 3) | 6]],
    ['wire type 7', [(5 << 3) | 7]],
    ['unterminated group', [(11 << 3) | 3, 0x08, 0x01]],
    ['truncated double', attribute([0x11, 1, 2, 3])],
    ['groups nested 100,000 deep', Array.from({ length: 100_000 }, () => (11 << 3) | 3)],
  ];
  for (const [name, bytes] of cases) {
    t.throws(() => decodeProcessingRequest(Buffer.from(bytes)), { instanceOf: ProtoWireError }, name);
  }
  t.deepEqual(decodeProcessingRequest(Buffer.alloc(0)), {});
});

// ---- ProcessingResponses ----------------------------------------------------------------------

/** An enum as a name, a defined number or any int32 (typed `never`: the generated types take only defined numbers). */
const enumOf = (names: Record<string, string>, max: number): fc.Arbitrary<never> =>
  fc
    .oneof(fc.constantFrom(...Object.keys(names)), fc.integer({ min: 0, max }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }))
    .map((v) => v as never);
const bytes = fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b));
const responseHeaderValue = fc.record({ key: text, value: text, raw_value: bytes }, { requiredKeys: [] });
const headerValueOption = fc.record(
  {
    header: responseHeaderValue,
    append: fc.record({ value: fc.boolean() }, { requiredKeys: [] }),
    append_action: enumOf(AppendAction, 3),
    keep_empty_value: fc.boolean(),
  },
  { requiredKeys: [] },
);
const headerMutation = fc.record(
  { set_headers: fc.array(headerValueOption, { maxLength: 4 }), remove_headers: fc.array(text, { maxLength: 4 }) },
  { requiredKeys: [] },
);
const commonResponse = fc.record(
  {
    status: enumOf(ResponseStatus, 1),
    header_mutation: headerMutation,
    body_mutation: fc.oneof(
      fc.record({ body: bytes }),
      fc.record({ clear_body: fc.boolean(), mutation: fc.constant('clear_body' as const) }),
      fc.record({ body: bytes, clear_body: fc.boolean() }, { requiredKeys: [] }),
    ),
    trailers: fc.record({ headers: fc.array(responseHeaderValue, { maxLength: 3 }) }, { requiredKeys: [] }),
    clear_route_cache: fc.boolean(),
  },
  { requiredKeys: [] },
);
const withCommon = fc.record({ response: commonResponse }, { requiredKeys: [] });
const processingMode = fc.record(
  {
    request_header_mode: enumOf(HeaderSendMode, 2),
    response_header_mode: enumOf(HeaderSendMode, 2),
    request_body_mode: enumOf(BodySendMode, 3),
    response_body_mode: enumOf(BodySendMode, 3),
    request_trailer_mode: enumOf(HeaderSendMode, 2),
    response_trailer_mode: enumOf(HeaderSendMode, 2),
  },
  { requiredKeys: [] },
);
const duration = fc.record(
  {
    seconds: fc.oneof(
      fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }),
      fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }).map(String),
    ),
    nanos: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  },
  { requiredKeys: [] },
);
const immediateResponse = fc.record(
  {
    status: fc.record(
      {
        // Numbers only (the encoder takes no StatusCode names), typed `never` as in enumOf.
        code: fc
          .oneof(fc.constantFrom(200, 400, 403, 413, 500, 503), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }))
          .map((v) => v as never),
      },
      { requiredKeys: [] },
    ),
    headers: headerMutation,
    body: bytes,
    grpc_status: fc.record({ status: fc.nat({ max: 2 ** 32 - 1 }) }, { requiredKeys: [] }),
    details: text,
  },
  { requiredKeys: [] },
);
/** Any subset of the fields (a oneof with several members too: both encoders write every one given). */
const processingResponse: fc.Arbitrary<ProcessingResponse> = fc.record(
  {
    request_headers: withCommon,
    response_headers: withCommon,
    request_body: withCommon,
    response_body: withCommon,
    request_trailers: fc.record({ header_mutation: headerMutation }, { requiredKeys: [] }),
    response_trailers: fc.record({ header_mutation: headerMutation }, { requiredKeys: [] }),
    immediate_response: immediateResponse,
    mode_override: processingMode,
    override_message_timeout: duration,
    response: fc.constantFrom('request_headers' as const, 'immediate_response' as const),
  },
  { requiredKeys: [] },
);

test('generated ProcessingResponses: the same bytes as protobufjs encode(fromObject(x))', (t) => {
  fc.assert(
    fc.property(processingResponse, (res) => {
      t.deepEqual(encodeProcessingResponse(res), genericResponse(res));
    }),
    { numRuns: 800 },
  );
});

const neutralMutation: fc.Arbitrary<HeaderMutation> = fc.record(
  {
    set: fc.array(fc.record({ name: fc.string({ maxLength: 10 }), value: fc.string({ unit: 'binary', maxLength: 20 }) }), {
      maxLength: 3,
    }),
    remove: fc.array(fc.string({ maxLength: 10 }), { maxLength: 4 }),
    path: fc.string({ maxLength: 20 }),
  },
  { requiredKeys: ['set', 'remove'] },
);
const errorCode = fc.constantFrom(...(Object.keys(ERROR_TABLE) as (keyof typeof ERROR_TABLE)[]));

test('the responses ext-proc-messages.ts builds: the same bytes as protobufjs', (t) => {
  fc.assert(
    fc.property(
      neutralMutation,
      fc.constantFrom(undefined, 'filter' as const),
      bytes,
      fc.nat({ max: 600_000 }),
      errorCode,
      (m, mode, body, ms, code) => {
        const built: ProcessingResponse[] = [
          messages.headersResponse(m, mode),
          messages.headersResponse(undefined, mode),
          messages.bodyResponse(m, mode),
          messages.bodyResponse(undefined, mode),
          messages.bufferBodyResponse(),
          messages.responseHeadersResponse(),
          messages.responseBodyResponse(body),
          messages.emptyResponseFor('response_headers'),
          messages.emptyResponseFor('response_body'),
          messages.emptyResponseFor('request_trailers'),
          messages.emptyResponseFor('response_trailers'),
          messages.extendTimeout(ms),
          messages.immediateDenial(new PaiError(code, 'denied')),
        ];
        for (const res of built) t.deepEqual(encodeProcessingResponse(res), genericResponse(res));
      },
    ),
    { numRuns: 300 },
  );
});

test('refused rather than coerced or dropped: the error names the field, never the value', (t) => {
  const canary = 'CANARY-5e3f0c';
  const cases: [string, unknown, RegExp][] = [
    [
      'unknown enum name',
      { request_headers: { response: { status: canary } } },
      /CommonResponse\.status is not a known enum name/,
    ],
    ['inherited name', { mode_override: { request_body_mode: 'toString' } }, /request_body_mode is not a known enum name/],
    ['HttpStatus name', { immediate_response: { status: { code: 'Forbidden' } } }, /status\.code is not a known enum name/],
    ['fractional enum', { mode_override: { request_header_mode: 1.5 } }, /not an int32 enum number/],
    ['base64 bytes', { immediate_response: { body: canary } }, /ImmediateResponse\.body is not a Buffer/],
    [
      'value not a string',
      { request_headers: { response: { header_mutation: { set_headers: [{ header: { key: 'k', value: 7 } }] } } } },
      /HeaderValue\.value is not a string/,
    ],
    [
      'remove not a string',
      { response_headers: { response: { header_mutation: { remove_headers: [null] } } } },
      /remove_headers holds an element/,
    ],
    ['not an array', { request_trailers: { header_mutation: { set_headers: canary } } }, /set_headers is not an array/],
    ['not a message', { immediate_response: { headers: canary } }, /ImmediateResponse\.headers is not a message/],
    ['seconds too large', { override_message_timeout: { seconds: 2 ** 32 } }, /Duration\.seconds is not an integer/],
    ['seconds not decimal', { override_message_timeout: { seconds: '1e3' } }, /Duration\.seconds is not an integer/],
    ['nanos fractional', { override_message_timeout: { nanos: 0.5 } }, /Duration\.nanos is not an int32/],
    ['grpc status negative', { immediate_response: { grpc_status: { status: -1 } } }, /GrpcStatus\.status is not a uint32/],
    ['dynamic_metadata', { dynamic_metadata: { fields: { k: { stringValue: canary } } } }, /dynamic_metadata is not supported/],
  ];
  for (const [name, res, message] of cases) {
    const err = t.throws(
      () => encodeProcessingResponse(res as ProcessingResponse),
      { instanceOf: ExtProcEncodeError, message },
      name,
    );
    t.false(err?.message.includes(canary) ?? true, name);
  }
});

test('fields at their defaults are written when present, as protobufjs writes them; null is absent', (t) => {
  const res: ProcessingResponse = {
    request_headers: { response: { status: 0, clear_route_cache: false, header_mutation: null } },
    mode_override: { request_body_mode: 'NONE' },
    override_message_timeout: { seconds: '0', nanos: 0 },
  };
  const ours = encodeProcessingResponse(res);
  t.deepEqual(ours, genericResponse(res));
  t.deepEqual(
    [...ours],
    [0x0a, 0x06, 0x0a, 0x04, 0x08, 0x00, 0x28, 0x00, 0x4a, 0x02, 0x18, 0x00, 0x52, 0x04, 0x08, 0x00, 0x10, 0x00],
  );
});
