/**
 * The injector's CheckRequest decoder: reads, in one pass over the wire bytes, only the fields the
 * Check handler uses (ext-authz.ts checkInput, gateway.ts gatewayInputOf, the identity extensions),
 * and skips every other field without decoding it.
 *
 * Why: the generic deserializer (envoy-grpc.ts: protobufjs decode, then toObject) builds every
 * nested message of the request twice (the addresses, the timestamp, both peers, the metadata,
 * each header as a message and then as an object), which is a good part of what a Check costs
 * (docs/PERFORMANCE.md). The result here is the same `CheckRequest__Output` object, restricted to:
 *
 *   attributes.source.principal
 *   attributes.context_extensions
 *   attributes.request.http.{method, path, host, scheme, headers, header_map.headers[].{key, value, raw_value}}
 *
 * Wire semantics follow protobufjs's decoder, which the generic path uses, so the two agree on every
 * message (test/check-decode.test.ts checks that on generated and mutated messages): a repeated
 * singular field keeps the last occurrence (a message field too: replaced, not merged), map entries
 * default a missing key or value to "", strings are UTF-8 with invalid sequences replaced, unknown
 * fields and groups are skipped, and a truncated message, a length past its end or a wire type 6/7
 * throws. A map key `__proto__` is kept as an own property, as protobufjs 7.6 keeps it (a plain
 * assignment would set the prototype instead).
 */
import type {
  AttributeContext__Output,
  _envoy_service_auth_v3_AttributeContext_HttpRequest__Output as AttributeContext_HttpRequest__Output,
  _envoy_service_auth_v3_AttributeContext_Peer__Output as AttributeContext_Peer__Output,
  _envoy_service_auth_v3_AttributeContext_Request__Output as AttributeContext_Request__Output,
} from '../generated/envoy/service/auth/v3/AttributeContext.js';
import type { CheckRequest__Output } from '../generated/envoy/service/auth/v3/CheckRequest.js';
import type { HeaderValue__Output } from '../generated/envoy/config/core/v3/HeaderValue.js';
import { LENGTH, Reader, putEntry } from './wire.js';

/** A malformed CheckRequest (grpc-js answers it with INTERNAL, as for any deserializing error). */
export { ProtoWireError as CheckDecodeError } from './wire.js';

/**
 * A string field (field 1 key, field 2 value) map entry starting at `r.pos` (its length not yet
 * read), into `into`. Read in place (the reader's end is narrowed to the entry and restored), not
 * through a sub-reader: one entry per header per request.
 */
function mapEntry(r: Reader, into: Record<string, string>): void {
  const outer = r.end;
  r.end = r.length();
  let key = '';
  let value = '';
  while (r.pos < r.end) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1 && (tag & 7) === LENGTH) key = r.string();
    else if (field === 2 && (tag & 7) === LENGTH) value = r.string();
    else r.skip(tag & 7);
  }
  r.end = outer;
  // A plain object, as protobufjs builds: V8 shares the hidden classes of objects that get the same
  // keys in the same order (every request from one Envoy), where a prototype-less object is a hash
  // table from the start (decoding a 10-header request plus checkInput: 3.5 against 4.3 µs).
  putEntry(into, key, value);
}

/** envoy.config.core.v3.HeaderValue: key 1, value 2, raw_value 3. */
function headerValue(r: Reader): HeaderValue__Output {
  const h: { key?: string; value?: string; raw_value?: Buffer } = {};
  while (r.pos < r.end) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1 && (tag & 7) === LENGTH) h.key = r.string();
    else if (field === 2 && (tag & 7) === LENGTH) h.value = r.string();
    else if (field === 3 && (tag & 7) === LENGTH) h.raw_value = r.bytes();
    else r.skip(tag & 7);
  }
  return h;
}

/** envoy.config.core.v3.HeaderMap: repeated HeaderValue headers = 1 (also ext_proc's HttpHeaders, ext-proc-codec.ts). */
export function headerMap(r: Reader): { headers: HeaderValue__Output[] } {
  const headers: HeaderValue__Output[] = [];
  while (r.pos < r.end) {
    const tag = r.uint32();
    if (tag >>> 3 === 1 && (tag & 7) === LENGTH) headers.push(headerValue(r.sub()));
    else r.skip(tag & 7);
  }
  return { headers };
}

/** AttributeContext.HttpRequest: method 2, headers 3 (map), path 4, host 5, scheme 6, header_map 13. */
function httpRequest(r: Reader): AttributeContext_HttpRequest__Output {
  const http: {
    method?: string;
    headers?: Record<string, string>;
    path?: string;
    host?: string;
    scheme?: string;
    header_map?: { headers: HeaderValue__Output[] };
  } = {};
  while (r.pos < r.end) {
    const tag = r.uint32();
    if ((tag & 7) !== LENGTH) {
      r.skip(tag & 7);
      continue;
    }
    switch (tag >>> 3) {
      case 2:
        http.method = r.string();
        break;
      case 3:
        mapEntry(r, (http.headers ??= {}));
        break;
      case 4:
        http.path = r.string();
        break;
      case 5:
        http.host = r.string();
        break;
      case 6:
        http.scheme = r.string();
        break;
      case 13:
        http.header_map = headerMap(r.sub());
        break;
      default:
        r.skip(LENGTH);
    }
  }
  return http;
}

/** AttributeContext.Request: http 2. */
function request(r: Reader): AttributeContext_Request__Output {
  const req: { http?: AttributeContext_HttpRequest__Output } = {};
  while (r.pos < r.end) {
    const tag = r.uint32();
    if (tag >>> 3 === 2 && (tag & 7) === LENGTH) req.http = httpRequest(r.sub());
    else r.skip(tag & 7);
  }
  return req;
}

/** AttributeContext.Peer: principal 4. */
function peer(r: Reader): AttributeContext_Peer__Output {
  const p: { principal?: string } = {};
  while (r.pos < r.end) {
    const tag = r.uint32();
    if (tag >>> 3 === 4 && (tag & 7) === LENGTH) p.principal = r.string();
    else r.skip(tag & 7);
  }
  return p;
}

/** AttributeContext: source 1, request 4, context_extensions 10 (map). */
function attributeContext(r: Reader): AttributeContext__Output {
  const attrs: {
    source?: AttributeContext_Peer__Output;
    request?: AttributeContext_Request__Output;
    context_extensions?: Record<string, string>;
  } = {};
  while (r.pos < r.end) {
    const tag = r.uint32();
    if ((tag & 7) !== LENGTH) {
      r.skip(tag & 7);
      continue;
    }
    switch (tag >>> 3) {
      case 1:
        attrs.source = peer(r.sub());
        break;
      case 4:
        attrs.request = request(r.sub());
        break;
      case 10:
        mapEntry(r, (attrs.context_extensions ??= {}));
        break;
      default:
        r.skip(LENGTH);
    }
  }
  return attrs;
}

/** Decodes the fields of a CheckRequest the injector reads; throws CheckDecodeError (ProtoWireError) on malformed bytes. */
export function decodeCheckRequest(bytes: Buffer): CheckRequest__Output {
  const r = new Reader(bytes, 0, bytes.length);
  const req: { attributes?: AttributeContext__Output } = {};
  while (r.pos < r.end) {
    const tag = r.uint32();
    if (tag >>> 3 === 1 && (tag & 7) === LENGTH) req.attributes = attributeContext(r.sub());
    else r.skip(tag & 7);
  }
  return req;
}
