/**
 * The SDS server's hand-written codec (src/injector/sds-codec.ts, struct-decode.ts) against the
 * generic one it replaces (protobufjs through envoy-grpc.ts, which clients still use): generated
 * DiscoveryRequests with every field set or not (nested Struct metadata, unknown fields) decode to
 * the same fields, and to the same agent, names and NACK; generated responses and Secrets of the
 * shapes the service builds encode to the same bytes; truncated and mutated bytes only ever throw
 * ProtoWireError; nesting is bounded where protobufjs bounds it; and the wire corner cases behave
 * as the module headers say (including the two deliberate departures from protobufjs).
 */
import test from 'ava';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import type { DiscoveryRequest, DiscoveryRequest__Output } from '../src/generated/envoy/service/discovery/v3/DiscoveryRequest.js';
import type { DiscoveryResponse__Output } from '../src/generated/envoy/service/discovery/v3/DiscoveryResponse.js';
import type { Node } from '../src/generated/envoy/config/core/v3/Node.js';
import type { Struct } from '../src/generated/google/protobuf/Struct.js';
import type { Value } from '../src/generated/google/protobuf/Value.js';
import { envoyMessage, envoyService } from '../src/injector/envoy-grpc.js';
import {
  SECRET_TYPE_URL,
  type ServedDiscoveryResponse,
  type ServedSecret,
  decodeDiscoveryRequest,
  encodeDiscoveryResponse,
  encodeSecret,
} from '../src/injector/sds-codec.js';
import { agentOfRequest, leafResponse, namedOfNode, requestedNames, scrubNackMessage } from '../src/injector/sds-messages.js';
import { decodeSecret } from '../src/injector/sds-protos.js';
import { ProtoWireError } from '../src/injector/wire.js';
import { SecretPem } from '../src/tls/secret-pem.js';
import type { IssuedLeaf } from '../src/tls/leaf.js';

const method = envoyService('sds')['StreamSecrets'];
if (!method) throw new Error('no StreamSecrets method');
const encodeRequest = (req: DiscoveryRequest): Buffer => method.requestSerialize(req);
const generic = (bytes: Buffer): DiscoveryRequest__Output => method.requestDeserialize(bytes) as DiscoveryRequest__Output;
const genericResponse = (res: ServedDiscoveryResponse): Buffer => method.responseSerialize(res);
const decodeResponse = (bytes: Buffer): DiscoveryResponse__Output =>
  method.responseDeserialize(bytes) as DiscoveryResponse__Output;
const requestType = envoyMessage('envoy/service/discovery/v3/discovery.proto', 'envoy.service.discovery.v3.DiscoveryRequest');
/**
 * protobufjs through its base Reader (a Uint8Array, not a Buffer): its Buffer reader cuts a string
 * that runs past the end of its message short, where this one refuses it, as protobuf does.
 */
const strictGeneric = (bytes: Buffer): DiscoveryRequest__Output =>
  requestType.toObject(requestType.decode(new protobuf.Reader(new Uint8Array(bytes))), {
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
const secretType = envoyMessage(
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy.extensions.transport_sockets.tls.v3.Secret',
);
const nodeType = envoyMessage('envoy/config/core/v3/base.proto', 'envoy.config.core.v3.Node');
const genericSecret = (secret: ServedSecret): Buffer => Buffer.from(secretType.encode(secretType.fromObject(secret)).finish());

/** The keys of `o` the SDS code reads, copied only when present (so absent and undefined differ). */
function pick(o: object | undefined, keys: readonly string[]): object | undefined {
  if (o === undefined) return undefined;
  const out: Record<string, unknown> = {};
  for (const key of keys) if (key in o) out[key] = (o as Record<string, unknown>)[key];
  return out;
}

/** What the SDS code reads of a decoded request; the hand-written decoder must produce exactly this. */
function projection(req: DiscoveryRequest__Output): object | undefined {
  const out = pick(req, ['version_info', 'resource_names', 'type_url', 'response_nonce']) as Record<string, unknown>;
  if (req.node !== undefined) out['node'] = pick(req.node, ['id', 'cluster', 'metadata']);
  if (req.error_detail !== undefined) out['error_detail'] = pick(req.error_detail, ['code', 'message']);
  return out;
}

/** What the service derives from a request: its agent, the names it asks for, its NACK (or the errors). */
function decisions(req: DiscoveryRequest__Output): unknown {
  const run = (f: () => unknown): unknown => {
    try {
      return f();
    } catch (err) {
      return (err as Error).message;
    }
  };
  return {
    agent: run(() => agentOfRequest(req)),
    named: req.node === undefined ? undefined : run(() => namedOfNode(req)),
    names: run(() => requestedNames(req)),
    nack: req.error_detail === undefined ? undefined : [req.error_detail.code, scrubNackMessage(req.error_detail.message)],
  };
}

const text = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 8 }));
const key = fc.oneof(text, fc.constantFrom('pai.agent', 'pai.namespace', '__proto__', '0', '1'));
const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?$/);

/** Struct metadata: every kind of Value, nested a few levels; `pai.agent` often a plausible name. */
const { struct } = fc.letrec<{ struct: Struct; value: Value }>((tie) => ({
  struct: fc.record({
    fields: fc.oneof(
      fc.dictionary(key, tie('value'), { maxKeys: 4 }),
      fc.record({ 'pai.agent': label.map((s) => ({ stringValue: s })) }, { requiredKeys: [] }),
    ),
  }),
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant({ nullValue: 'NULL_VALUE' as const }),
    fc.record({ numberValue: fc.double() }),
    fc.record({ stringValue: text }),
    fc.record({ boolValue: fc.boolean() }),
    fc.record({ structValue: tie('struct') }),
    fc.record({ listValue: fc.record({ values: fc.array(tie('value'), { maxLength: 3 }) }) }),
  ),
}));

/** A Node with the fields read and a sample of those skipped. */
const node: fc.Arbitrary<Node> = fc.record(
  {
    id: text,
    cluster: text,
    metadata: struct,
    locality: fc.record({ region: text, zone: text, sub_zone: text }, { requiredKeys: [] }),
    user_agent_name: text,
    user_agent_version: text,
    extensions: fc.array(fc.record({ name: text, category: text, disabled: fc.boolean() }, { requiredKeys: [] }), {
      maxLength: 2,
    }),
    client_features: fc.array(text, { maxLength: 3 }),
    dynamic_parameters: fc.dictionary(
      fc.string({ maxLength: 4 }),
      fc.record({ params: fc.dictionary(fc.string({ maxLength: 4 }), text, { maxKeys: 2 }) }),
      { maxKeys: 2 },
    ),
  },
  { requiredKeys: [] },
);

const discoveryRequest: fc.Arbitrary<DiscoveryRequest> = fc.record(
  {
    version_info: text,
    node,
    resource_names: fc.array(fc.oneof(text, fc.constant('pai-leaf')), { maxLength: 4 }),
    type_url: fc.oneof(text, fc.constant(SECRET_TYPE_URL)),
    response_nonce: text,
    error_detail: fc.record(
      {
        code: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        message: text,
        details: fc.array(fc.record({ type_url: text, value: fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)) }), {
          maxLength: 2,
        }),
      },
      { requiredKeys: [] },
    ),
    resource_locators: fc.array(fc.record({ name: text }), { maxLength: 2 }),
  },
  { requiredKeys: [] },
);

/** A field no message here declares (numbers from 100), of every skippable wire type. */
const unknownField: fc.Arbitrary<Buffer> = fc
  .tuple(fc.integer({ min: 100, max: 536_870_911 }), fc.constantFrom(0, 1, 2, 3, 5), fc.uint8Array({ maxLength: 6 }), fc.nat())
  .map(([num, wireType, bytes, n]) => {
    const w = protobuf.Writer.create().uint32(((num << 3) | wireType) >>> 0);
    if (wireType === 0) w.uint32(n);
    else if (wireType === 1) w.double(n);
    else if (wireType === 2) w.bytes(bytes);
    else if (wireType === 5) w.fixed32(n);
    else
      w.uint32(8)
        .uint32(n)
        .uint32(((num << 3) | 4) >>> 0); // a group holding one varint
    return Buffer.from(w.finish());
  });
const unknownFields = fc.array(unknownField, { maxLength: 3 }).map((list) => Buffer.concat(list));

/** A request as protobufjs encodes it, with unknown fields around its own and around the node's. */
const requestBytes: fc.Arbitrary<Buffer> = fc
  .tuple(discoveryRequest, unknownFields, unknownFields, unknownFields)
  .map(([req, before, after, inNode]) => {
    const { node: n, ...rest } = req;
    const parts = [before, encodeRequest(rest)];
    if (n !== undefined && n !== null) {
      const nodeBytes = Buffer.concat([Buffer.from(nodeType.encode(nodeType.fromObject(n)).finish()), inNode]);
      parts.push(Buffer.from(protobuf.Writer.create().uint32(18).bytes(nodeBytes).finish()));
    }
    parts.push(after);
    return Buffer.concat(parts);
  });

test('generated DiscoveryRequests: exactly the fields the SDS code reads, as protobufjs decode + toObject gives them', (t) => {
  fc.assert(
    fc.property(requestBytes, (bytes) => {
      t.deepEqual(decodeDiscoveryRequest(bytes), projection(generic(bytes)));
    }),
    { numRuns: 1000 },
  );
});

test('generated DiscoveryRequests: the same agent, names and NACK from either decoder', (t) => {
  fc.assert(
    fc.property(requestBytes, (bytes) => {
      t.deepEqual(decisions(decodeDiscoveryRequest(bytes)), decisions(generic(bytes)));
    }),
    { numRuns: 500 },
  );
});

test('truncated DiscoveryRequests: refused by both decoders (protobufjs through its strict reader), or decoded alike', (t) => {
  fc.assert(
    fc.property(requestBytes, fc.nat(), (whole, cut) => {
      const bytes = whole.subarray(0, whole.length === 0 ? 0 : cut % whole.length);
      let expected: unknown;
      try {
        expected = projection(strictGeneric(bytes));
      } catch {
        t.throws(() => decodeDiscoveryRequest(bytes), { instanceOf: ProtoWireError });
        return;
      }
      t.deepEqual(decodeDiscoveryRequest(bytes), expected);
    }),
    { numRuns: 800 },
  );
});

test('mutated bytes: a ProtoWireError or a well-typed request, never another exception', (t) => {
  const isValue = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);
  fc.assert(
    fc.property(
      requestBytes,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
      (original, edits) => {
        const bytes = Buffer.from(original);
        if (bytes.length === 0) return;
        for (const [at, value] of edits) bytes[at % bytes.length] = value;
        let decoded: DiscoveryRequest__Output;
        try {
          decoded = decodeDiscoveryRequest(bytes);
        } catch (err) {
          t.true(err instanceof ProtoWireError, String(err));
          return;
        }
        for (const v of [
          decoded.version_info,
          decoded.type_url,
          decoded.response_nonce,
          decoded.node?.id,
          decoded.error_detail?.message,
        ]) {
          t.true(v === undefined || typeof v === 'string');
        }
        t.true((decoded.resource_names ?? []).every((name) => typeof name === 'string'));
        t.true(Object.values(decoded.node?.metadata?.fields ?? {}).every(isValue));
        decisions(decoded); // never throws anything but the service's own refusals
      },
    ),
    { numRuns: 1000 },
  );
});

const bytes = fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b));
const dataSource = fc.record({ inline_bytes: bytes, inline_string: text }, { requiredKeys: [] });
const secret: fc.Arbitrary<ServedSecret> = fc.record(
  {
    name: fc.oneof(text, fc.constant('pai-leaf')),
    tls_certificate: fc.record({ certificate_chain: dataSource, private_key: dataSource }, { requiredKeys: [] }),
  },
  { requiredKeys: [] },
);
const response: fc.Arbitrary<ServedDiscoveryResponse> = fc.record(
  {
    version_info: text,
    resources: fc.array(
      fc.record({ type_url: fc.oneof(text, fc.constant(SECRET_TYPE_URL)), value: secret.map((s) => encodeSecret(s)) }),
      { maxLength: 3 },
    ),
    canary: fc.boolean(),
    type_url: text,
    nonce: fc.oneof(text, fc.nat().map(String)),
    control_plane: fc.record({ identifier: text }, { requiredKeys: [] }),
  },
  { requiredKeys: [] },
);

test('generated Secrets: the same bytes as protobufjs encode(fromObject(x))', (t) => {
  fc.assert(
    fc.property(secret, (s) => {
      t.deepEqual(encodeSecret(s), genericSecret(s));
    }),
    { numRuns: 800 },
  );
});

test('generated DiscoveryResponses: the same bytes as protobufjs encode(fromObject(x))', (t) => {
  fc.assert(
    fc.property(response, (res) => {
      t.deepEqual(encodeDiscoveryResponse(res), genericResponse(res));
    }),
    { numRuns: 800 },
  );
});

const leaf = fc.record({
  caId: label,
  serial: fc.bigInt({ min: 1n, max: 2n ** 64n }).map((n) => n.toString(16)),
  chainPem: fc.string({ minLength: 1, maxLength: 3000 }),
  keyPem: fc.string({ minLength: 1, maxLength: 300 }),
});

test("leafResponse's answers: the same bytes as protobufjs, and a client reads the leaf back", (t) => {
  fc.assert(
    fc.property(leaf, fc.subarray(['pai-leaf', 'other']), fc.nat().map(String), (l, names, nonce) => {
      const issued: IssuedLeaf = {
        agent: { namespace: 'default', name: 'bot' },
        caId: l.caId,
        serial: l.serial,
        dnsNames: [],
        skipped: [],
        notBefore: new Date(0),
        notAfter: new Date(0),
        certPem: '',
        chainPem: l.chainPem,
        key: new SecretPem(l.keyPem),
      };
      const res = leafResponse(issued, names, nonce);
      const wire = encodeDiscoveryResponse(res);
      t.deepEqual(wire, genericResponse(res));
      const decoded = decodeResponse(wire);
      t.is(decoded.version_info, `${l.caId}.${l.serial}`);
      t.is(decoded.nonce, nonce);
      t.is(decoded.control_plane?.identifier, 'pai-injector');
      t.deepEqual(
        (decoded.resources ?? []).map((any) => {
          const s = decodeSecret(any.value ?? Buffer.alloc(0));
          const tls = s.tls_certificate;
          return [
            any.type_url,
            s.name,
            tls?.certificate_chain?.inline_bytes?.toString(),
            tls?.private_key?.inline_bytes?.toString(),
          ];
        }),
        names.map((name) => [SECRET_TYPE_URL, name, Buffer.from(l.chainPem).toString(), Buffer.from(l.keyPem).toString()]),
      );
    }),
    { numRuns: 200 },
  );
});

test('an empty response and an empty Secret are empty messages; empty strings and false are written when set', (t) => {
  t.is(encodeDiscoveryResponse({}).length, 0);
  t.is(encodeSecret({}).length, 0);
  const res: ServedDiscoveryResponse = { version_info: '', canary: false, nonce: '', control_plane: {} };
  t.deepEqual(encodeDiscoveryResponse(res), Buffer.from([0x0a, 0x00, 0x18, 0x00, 0x2a, 0x00, 0x32, 0x00]));
  t.deepEqual(encodeDiscoveryResponse(res), genericResponse(res));
});

// Hand-built wire bytes for the corner cases.
const w = (): protobuf.Writer => protobuf.Writer.create();
const field = (num: number, payload: Uint8Array | string): Buffer =>
  Buffer.from(
    w()
      .uint32((num << 3) | 2)
      .bytes(typeof payload === 'string' ? Buffer.from(payload) : payload)
      .finish(),
  );
const cat = (...parts: Uint8Array[]): Buffer => Buffer.concat(parts);
const entry = (k: string, value: Uint8Array): Buffer => cat(field(1, k), field(2, value));
/** A request whose node's metadata holds these Struct entries. */
const withMetadata = (...entries: Uint8Array[]): Buffer => field(2, field(3, cat(...entries.map((e) => field(1, e)))));
const stringValue = (s: string): Buffer => field(3, s);

test('nesting: decoded as far as protobufjs decodes, refused one level deeper by both', (t) => {
  // A Struct whose one entry holds a Struct, `levels` times, around a string Value.
  const nested = (levels: number): Buffer => {
    let value = stringValue('x');
    for (let i = 0; i < levels; i++) value = field(5, field(1, entry('k', value)));
    return withMetadata(entry('k', value));
  };
  const genericDecodes = (bytes: Buffer): boolean => {
    try {
      generic(bytes);
      return true;
    } catch {
      return false;
    }
  };
  let deepest = 0;
  while (genericDecodes(nested(deepest + 1))) deepest++;
  t.true(deepest > 40 && deepest < 60, `protobufjs's deepest: ${deepest}`);
  t.deepEqual(decodeDiscoveryRequest(nested(deepest)), projection(generic(nested(deepest))));
  t.throws(() => decodeDiscoveryRequest(nested(deepest + 1)), { instanceOf: ProtoWireError, message: /nested deeper than 100/ });
  // Lists count as levels too.
  let list = stringValue('x');
  for (let i = 0; i < 60; i++) list = field(6, field(1, list));
  t.throws(() => generic(withMetadata(entry('k', list))));
  t.throws(() => decodeDiscoveryRequest(withMetadata(entry('k', list))), { instanceOf: ProtoWireError });
});

test('nesting: 10,000 levels of structs are a ProtoWireError, never a stack overflow', (t) => {
  // Value { struct_value (5) { fields (1) { value (2) { ... } } } }, 10,000 times around a string
  // Value: the lengths are computed inside out, the headers written outside in.
  const varint = (n: number): Buffer => Buffer.from(w().uint32(n).finish());
  const innermost = stringValue('x');
  const headers: Buffer[] = [];
  let value = innermost.length;
  for (let i = 0; i < 10_000; i++) {
    const entryLength = 1 + varint(value).length + value;
    const structLength = 1 + varint(entryLength).length + entryLength;
    headers.push(
      cat(
        Buffer.from([0x2a]),
        varint(structLength),
        Buffer.from([0x0a]),
        varint(entryLength),
        Buffer.from([0x12]),
        varint(value),
      ),
    );
    value = 1 + varint(structLength).length + structLength;
  }
  const message = withMetadata(entry('k', cat(...headers.reverse(), innermost)));
  t.throws(() => decodeDiscoveryRequest(message), { instanceOf: ProtoWireError, message: /nested deeper than 100/ });
});

test('a `__proto__` metadata key is an own property, as protobufjs keeps it; the prototype is untouched', (t) => {
  const bytes = withMetadata(entry('__proto__', stringValue('x')), entry('pai.agent', stringValue('bot')));
  const fields = decodeDiscoveryRequest(bytes).node?.metadata?.fields ?? {};
  t.is(Object.getPrototypeOf(fields), Object.prototype);
  t.deepEqual(Object.keys(fields), ['__proto__', 'pai.agent']);
  t.deepEqual(Object.getOwnPropertyDescriptor(fields, '__proto__')?.value, { stringValue: 'x', kind: 'stringValue' });
  t.deepEqual(decodeDiscoveryRequest(bytes), projection(generic(bytes)));
  t.deepEqual(agentOfRequest(decodeDiscoveryRequest(bytes)), { namespace: 'default', name: 'bot' });
});

test('wire rules: the last node wins (replaced, not merged); repeated names accumulate; unknown fields skipped', (t) => {
  const bytes = cat(
    field(2, cat(field(1, 'first'), field(2, 'cluster'))),
    field(3, 'a'),
    field(99, 'unknown'),
    field(2, field(1, 'second')),
    field(3, 'b'),
  );
  t.deepEqual(decodeDiscoveryRequest(bytes), { node: { id: 'second' }, resource_names: ['a', 'b'] });
  t.deepEqual(decodeDiscoveryRequest(bytes), projection(generic(bytes)));
});

test('wire rules: int32 fields are signed (a NACK code and an unknown null_value stay numbers, as protobufjs gives them)', (t) => {
  const minusOne = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
  const bytes = cat(field(6, Buffer.from([0x08, ...minusOne])), withMetadata(entry('k', Buffer.from([0x08, 0x05]))));
  const decoded = decodeDiscoveryRequest(bytes);
  t.is(decoded.error_detail?.code, -1);
  t.deepEqual(decoded.node?.metadata?.fields?.['k'], { nullValue: 5 as unknown as 'NULL_VALUE', kind: 'nullValue' });
  t.deepEqual(decoded, projection(generic(bytes)));
});

test('wire rules: a field with an unexpected wire type is skipped as unknown, not read as its declared type', (t) => {
  // version_info (1) as a varint, then type_url: protobuf skips the first; the second decodes.
  const bytes = cat(Buffer.from([0x08, 0x05]), field(4, SECRET_TYPE_URL));
  t.deepEqual(decodeDiscoveryRequest(bytes), { type_url: SECRET_TYPE_URL });
});

test('departure from protobufjs: a Value with several oneof members keeps the last one read', (t) => {
  const value = cat(stringValue('bot'), Buffer.from([0x20, 0x01])); // string_value, then bool_value
  const bytes = withMetadata(entry('pai.agent', value));
  t.deepEqual(decodeDiscoveryRequest(bytes).node?.metadata?.fields?.['pai.agent'], { boolValue: true, kind: 'boolValue' });
  // protobufjs keeps both (the agent would still be read from string_value).
  t.deepEqual(generic(bytes).node?.metadata?.fields?.['pai.agent'], { stringValue: 'bot', kind: 'boolValue', boolValue: true });
});

test('departure from protobufjs: a Struct entry without a value maps its key to an empty Value', (t) => {
  const bytes = withMetadata(field(1, 'k'));
  t.deepEqual(decodeDiscoveryRequest(bytes).node?.metadata, { fields: { k: {} } });
  t.throws(() => generic(bytes), { instanceOf: TypeError });
});

test('malformed: truncated varint, length past the end, wire types 4, 6 and 7, an unterminated group, a truncated double', (t) => {
  // On field 50, which no message here declares (protobufjs reads a declared field by its declared type).
  const unknownTag = (wireType: number): Buffer =>
    Buffer.from(
      w()
        .uint32((50 << 3) | wireType)
        .finish(),
    );
  const cases: [string, Buffer][] = [
    ['truncated varint', Buffer.from([0x0a, 0x80])],
    ['length past the end', Buffer.from([0x12, 0x05, 0x01])],
    ['nested length past its parent', Buffer.from([0x12, 0x02, 0x1a, 0x05])],
    ['a stray end-group tag', unknownTag(4)],
    ['wire type 6', unknownTag(6)],
    ['wire type 7', unknownTag(7)],
    ['unterminated group', cat(unknownTag(3), Buffer.from([0x08, 0x01]))],
    ['truncated double', withMetadata(entry('k', Buffer.from([0x11, 1, 2, 3])))],
    ['malformed metadata entry', withMetadata(Buffer.from([0x0a, 0x09]))],
  ];
  for (const [name, message] of cases) {
    t.throws(() => decodeDiscoveryRequest(message), { instanceOf: ProtoWireError }, name);
    t.throws(() => generic(message), undefined, `protobufjs refuses it too: ${name}`);
  }
});

test("departure from protobufjs's Buffer reader: a string running past the end of its message is refused, not cut short", (t) => {
  const bytes = Buffer.from([0x0a, 0x05, 0x41]); // version_info: 5 bytes announced, 1 present
  t.throws(() => decodeDiscoveryRequest(bytes), { instanceOf: ProtoWireError, message: /length past the end/ });
  t.deepEqual(generic(bytes), { version_info: 'A' });
  t.throws(() => strictGeneric(bytes));
});

test('an empty message decodes to an empty request (no node: no agent named)', (t) => {
  const decoded = decodeDiscoveryRequest(Buffer.alloc(0));
  t.deepEqual(decoded, {});
  t.is(agentOfRequest(decoded), undefined);
});
