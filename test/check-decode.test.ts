/**
 * The injector's CheckRequest decoder (src/injector/check-decode.ts) against the generic one it
 * replaces on the Check path (protobufjs decode + toObject, envoy-grpc.ts): generated requests
 * with every field of AttributeContext set or not decode to the same fields; truncated bytes are
 * refused by both or decoded alike; arbitrary mutations never crash it with anything but a
 * CheckDecodeError; and the wire corner cases (unknown fields, groups, repeated fields, wire-type
 * mismatches, over-long varints) behave as protobuf's rules say.
 */
import test from 'ava';
import fc from 'fast-check';
import { CheckDecodeError, decodeCheckRequest } from '../src/injector/check-decode.js';
import { envoyService } from '../src/injector/envoy-grpc.js';
import { checkInput } from '../src/injector/ext-authz.js';
import { varint } from '../src/injector/wire.js';
import { field } from './helpers/wire-bytes.js';
import type { CheckRequest, CheckRequest__Output } from '../src/generated/envoy/service/auth/v3/CheckRequest.js';

const method = envoyService('auth')['Check'];
if (!method) throw new Error('no Check method');
const encode = (req: CheckRequest): Buffer => method.requestSerialize(req);
const generic = (bytes: Buffer): CheckRequest__Output => method.requestDeserialize(bytes) as CheckRequest__Output;

/** The fields the injector reads, in plain objects (maps and arrays normalized: absent = empty). */
function projection(req: CheckRequest__Output): unknown {
  const a = req.attributes;
  const http = a?.request?.http;
  return {
    attributes: a !== undefined,
    principal: a?.source?.principal,
    source: a?.source !== undefined,
    extensions: { ...(a?.context_extensions ?? {}) },
    request: a?.request !== undefined,
    http:
      http === undefined
        ? undefined
        : {
            method: http.method,
            path: http.path,
            host: http.host,
            scheme: http.scheme,
            headers: { ...(http.headers ?? {}) },
            headerMap: http.header_map !== undefined,
            headerValues: (http.header_map?.headers ?? []).map((h) => ({
              key: h.key,
              value: h.value,
              raw: h.raw_value === undefined ? undefined : Buffer.from(h.raw_value).toString('hex'),
            })),
          },
  };
}

// Text that exercises UTF-8 (multi-byte, astral) as well as header-like ASCII; no `__proto__`
// map key in the generated dictionaries (a plain object cannot hold it as data; checked apart below).
const text = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 8 }));
const dict = fc.dictionary(
  text.filter((k) => k !== '__proto__'),
  text,
  { maxKeys: 4 },
);
const peer = fc.record(
  {
    address: fc.record({ socket_address: fc.record({ address: text, port_value: fc.nat(65535) }) }),
    service: text,
    labels: dict,
    principal: text,
    certificate: text,
  },
  { requiredKeys: [] },
);
const headerValue = fc.record(
  { key: text, value: text, raw_value: fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b)) },
  { requiredKeys: [] },
);
const httpRequest = fc.record(
  {
    id: text,
    method: text,
    headers: dict,
    path: text,
    host: text,
    scheme: text,
    query: text,
    fragment: text,
    size: fc.bigInt({ min: 0n, max: 2n ** 62n }).map(String),
    protocol: text,
    body: text,
    raw_body: fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b)),
    header_map: fc.record({ headers: fc.array(headerValue, { maxLength: 6 }) }, { requiredKeys: [] }),
  },
  { requiredKeys: [] },
);
const checkRequest: fc.Arbitrary<CheckRequest> = fc.record(
  {
    attributes: fc.record(
      {
        source: peer,
        destination: peer,
        request: fc.record(
          { time: fc.record({ seconds: fc.nat().map(String), nanos: fc.nat(999_999_999) }), http: httpRequest },
          { requiredKeys: [] },
        ),
        context_extensions: dict,
        metadata_context: fc.record({
          filter_metadata: fc.dictionary(
            fc.string({ maxLength: 6 }),
            fc.record({ fields: fc.dictionary(fc.string({ maxLength: 6 }), fc.record({ stringValue: text })) }),
            { maxKeys: 2 },
          ),
        }),
        tls_session: fc.record({ sni: text }),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);

test('generated CheckRequests: the same fields as protobufjs decode + toObject', (t) => {
  fc.assert(
    fc.property(checkRequest, (req) => {
      const bytes = encode(req);
      t.deepEqual(projection(decodeCheckRequest(bytes)), projection(generic(bytes)));
    }),
    { numRuns: 800 },
  );
});

test('generated CheckRequests: the same decision input (checkInput) from either decoder', (t) => {
  fc.assert(
    fc.property(checkRequest, (req) => {
      const bytes = encode(req);
      const run = (decoded: CheckRequest__Output): unknown => {
        try {
          return checkInput(decoded);
        } catch (err) {
          return (err as Error).message;
        }
      };
      t.deepEqual(run(decodeCheckRequest(bytes)), run(generic(bytes)));
    }),
    { numRuns: 400 },
  );
});

test('truncated CheckRequests: refused by both decoders, or decoded alike', (t) => {
  fc.assert(
    fc.property(checkRequest, fc.nat(), (req, cut) => {
      const whole = encode(req);
      const bytes = whole.subarray(0, whole.length === 0 ? 0 : cut % whole.length);
      let expected: unknown;
      try {
        expected = projection(generic(bytes));
      } catch {
        t.throws(() => decodeCheckRequest(bytes), { instanceOf: CheckDecodeError });
        return;
      }
      t.deepEqual(projection(decodeCheckRequest(bytes)), expected);
    }),
    { numRuns: 600 },
  );
});

test('mutated bytes: a CheckDecodeError or a well-typed result, never another exception', (t) => {
  fc.assert(
    fc.property(
      checkRequest,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
      (req, edits) => {
        const bytes = Buffer.from(encode(req));
        if (bytes.length === 0) return;
        for (const [at, value] of edits) bytes[at % bytes.length] = value;
        let decoded: CheckRequest__Output;
        try {
          decoded = decodeCheckRequest(bytes);
        } catch (err) {
          t.true(err instanceof CheckDecodeError, String(err));
          return;
        }
        const http = decoded.attributes?.request?.http;
        for (const v of [http?.method, http?.path, http?.host, http?.scheme, decoded.attributes?.source?.principal]) {
          t.true(v === undefined || typeof v === 'string');
        }
        for (const h of http?.header_map?.headers ?? []) t.true(h.raw_value === undefined || Buffer.isBuffer(h.raw_value));
      },
    ),
    { numRuns: 800 },
  );
});

// Hand-built wire bytes for the corner cases.
const entry = (key: string, value: string): number[] => [...field(1, key), ...field(2, value)];
const wrap = (http: number[], attrs: number[] = []): Buffer => Buffer.from(field(1, [...attrs, ...field(4, field(2, http))]));

test('wire rules: groups nested 64 deep are skipped, 65 are refused', (t) => {
  const nested = (n: number): number[] => [
    ...Array.from({ length: n }, () => (5 << 3) | 3),
    ...Array.from({ length: n }, () => (5 << 3) | 4),
  ];
  t.deepEqual(decodeCheckRequest(Buffer.from(nested(64))), {});
  t.throws(() => decodeCheckRequest(Buffer.from(nested(65))), { instanceOf: CheckDecodeError, message: /nested deeper/ });
});

test('wire rules: unknown fields, a group, and fixed-width fields are skipped', (t) => {
  const unknown = [
    ...varint((99 << 3) | 0),
    ...varint(300), // varint
    ...varint((98 << 3) | 1),
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8, // fixed64
    ...varint((97 << 3) | 5),
    1,
    2,
    3,
    4, // fixed32
    ...varint((96 << 3) | 3),
    ...varint((1 << 3) | 0),
    7,
    ...varint((96 << 3) | 4), // a group with a varint in it
  ];
  const decoded = decodeCheckRequest(wrap([...unknown, ...field(2, 'GET'), ...unknown, ...field(4, '/x')]));
  t.deepEqual(decoded.attributes?.request?.http, { method: 'GET', path: '/x' });
});

test('wire rules: the last of a repeated singular field wins; map entries accumulate; a missing key or value is ""', (t) => {
  const http = [
    ...field(2, 'GET'),
    ...field(2, 'POST'),
    ...field(3, entry('a', '1')),
    ...field(3, entry('b', '2')),
    ...field(3, field(2, 'only-value')),
    ...field(3, field(1, 'only-key')),
  ];
  const decoded = decodeCheckRequest(wrap(http));
  t.is(decoded.attributes?.request?.http?.method, 'POST');
  t.deepEqual({ ...decoded.attributes?.request?.http?.headers }, { a: '1', b: '2', '': 'only-value', 'only-key': '' });
});

test('wire rules: a field with an unexpected wire type is an unknown field (skipped), not read as its declared type', (t) => {
  // method (2) sent as a varint: protobuf treats it as unknown; the path after it still decodes.
  const http = [...varint((2 << 3) | 0), ...varint(5), ...field(4, '/p')];
  t.deepEqual(decodeCheckRequest(wrap(http)).attributes?.request?.http, { path: '/p' });
});

test('wire rules: a `__proto__` map key is an own property (never the prototype), other keys unchanged', (t) => {
  const attrs = [...field(10, entry('__proto__', 'x')), ...field(10, entry('pai.agent', 'bot'))];
  const decoded = decodeCheckRequest(wrap(field(2, 'GET'), attrs));
  const ext = decoded.attributes?.context_extensions ?? {};
  t.is(Object.getPrototypeOf(ext), Object.prototype);
  t.deepEqual(Object.keys(ext), ['__proto__', 'pai.agent']);
  t.is(Object.getOwnPropertyDescriptor(ext, '__proto__')?.value, 'x');
  t.is(ext['pai.agent'], 'bot');
});

test('wire rules: raw_value stays bytes (latin1 in the decision input), invalid UTF-8 in a string is replaced', (t) => {
  const header = [...field(1, 'x-bin'), ...field(3, [0xff, 0x00, 0xe9])];
  const http = [...field(2, [0x47, 0xff]), ...field(13, field(1, header))];
  const decoded = decodeCheckRequest(wrap(http));
  t.is(decoded.attributes?.request?.http?.method, 'G\uFFFD');
  const input = checkInput(decoded);
  t.deepEqual(input.headers[0], ['x-bin', '\u00ff\u0000\u00e9']);
});

test('malformed: truncated varint, length past the end, wire types 6 and 7, an unterminated or too deep group, an 11-byte varint', (t) => {
  const cases: [string, number[]][] = [
    ['truncated varint', [0x0a, 0x80]],
    ['length past the end', [0x0a, 0x05, 0x01]],
    ['nested length past its parent', [0x0a, 0x02, 0x22, 0x05]],
    ['wire type 6', [(5 << 3) | 6]],
    ['wire type 7', [(5 << 3) | 7]],
    ['unterminated group', [(5 << 3) | 3, 0x08, 0x01]],
    ['varint longer than 10 bytes', [0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]],
    ['truncated fixed64', [(5 << 3) | 1, 1, 2, 3]],
    ['groups nested 100,000 deep (never a stack overflow)', Array.from({ length: 100_000 }, () => (5 << 3) | 3)],
  ];
  for (const [name, bytes] of cases) {
    t.throws(() => decodeCheckRequest(Buffer.from(bytes)), { instanceOf: CheckDecodeError }, name);
  }
});

test('an empty message decodes to an empty request, which checkInput refuses as bad_request', (t) => {
  const decoded = decodeCheckRequest(Buffer.alloc(0));
  t.deepEqual(decoded, {});
  t.throws(() => checkInput(decoded), { message: /no attributes.request.http/ });
});
