/**
 * ExtAuthzService's pre-encoded answers (src/injector/ext-authz.ts respond): whatever is reused,
 * every Check gets exactly the bytes of its own decision's CheckResponse, for header targets and
 * for strategies that choose among header sets per request (github's routes, a rotating OAuth
 * token), across more header sets than are kept, and after the secret record changes.
 */
import type * as grpc from '@grpc/grpc-js';
import test from 'ava';
import { encodeCheckResponse } from '../src/injector/check-encode.js';
import { decodeCheckRequest } from '../src/injector/check-decode.js';
import type { Decision, Decider, DecisionInput } from '../src/injector/decide.js';
import { ExtAuthzService, checkResponse } from '../src/injector/ext-authz.js';
import type { CheckRequest__Output } from '../src/generated/envoy/service/auth/v3/CheckRequest.js';
import type { CheckResponse } from '../src/generated/envoy/service/auth/v3/CheckResponse.js';
import type { InjectionTarget } from '../src/resources/types.js';
import { Writer } from '../src/injector/wire.js';

/** A CheckRequest with an agent and an HTTP request (attributes 1 → request 4 → http 2). */
function request(path: string): CheckRequest__Output {
  const w = new Writer();
  const a = w.begin(1);
  const r = w.begin(4);
  const h = w.begin(2);
  w.string(2, 'GET').string(4, path).string(5, 'api.github.com').string(6, 'https');
  w.end(h).end(r);
  const e = w.begin(10);
  w.string(1, 'pai.agent').string(2, 'bot');
  w.end(e).end(a);
  return decodeCheckRequest(w.finish());
}

function answer(service: ExtAuthzService, path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const call = { request: request(path) } as unknown as grpc.ServerUnaryCall<CheckRequest__Output, CheckResponse>;
    service.check(call, (err, value) =>
      err
        ? reject(new Error(`Check failed: ${JSON.stringify(err)}`))
        : resolve(Buffer.isBuffer(value) ? value : encodeCheckResponse(value ?? {})),
    );
  });
}

const REMOVE = ['authorization', 'x-api-key'];

test('every answer is the encoding of its own decision, whatever was reused', async (t) => {
  let values = new Map([['token', Buffer.from('v1')]]);
  const header = {
    kind: 'Provider',
    name: 'h',
    type: 'http',
    secret: 's',
    auth: { strategy: 'header' },
  } as unknown as InjectionTarget;
  const github = {
    kind: 'Provider',
    name: 'g',
    type: 'github',
    secret: 's',
    auth: { strategy: 'github' },
  } as unknown as InjectionTarget;
  // The decision for a path: /h/N → the header target; /g/N → github with header set N.
  const decide = (input: DecisionInput): Decision => {
    const [, which, n] = input.path.split('/');
    const target = which === 'h' ? header : github;
    const value = which === 'h' ? `Bearer ${values.get('token')?.toString()}` : `Bearer ${values.get('token')?.toString()}-${n}`;
    return {
      kind: 'inject',
      agent: 'bot',
      host: 'api.github.com',
      target,
      mutation: { set: [{ name: 'authorization', value }], remove: REMOVE },
      values,
    };
  };
  const decider = { decide } as unknown as Decider;
  const service = new ExtAuthzService(decider, { observe: () => undefined }, undefined, encodeCheckResponse);
  const paths = ['/h/0', '/g/1', '/g/2', '/h/0', '/g/1', ...Array.from({ length: 20 }, (_, i) => `/g/${i % 11}`), '/g/2'];
  for (const round of [1, 2]) {
    for (const p of paths) {
      const expected = encodeCheckResponse(checkResponse(decide({ path: p } as DecisionInput), p));
      t.deepEqual(await answer(service, p), expected, `round ${round} ${p}`);
    }
    // A changed secret is a new record: nothing of the old one is sent.
    values = new Map([['token', Buffer.from('v2')]]);
  }
  const last = await answer(service, '/g/3');
  t.true(last.includes(Buffer.from('Bearer v2-3')));
  t.false(last.includes(Buffer.from('v1')));
});
