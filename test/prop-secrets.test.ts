/**
 * Properties, end to end through the admin API and the injector (the pure name rules have their own
 * properties in resources-property.test.ts):
 *
 * - secret names and keys: every valid name and key set is stored and listed exactly (keys sorted,
 *   byte sizes right, values back byte for byte through the env render); every invalid name or key
 *   is refused 422 `invalid` with nothing written; any path segment answers 2xx/4xx, never 5xx;
 * - header values: a generated secret value used as an http Provider's token reaches the upstream
 *   exactly (`Bearer <value>`) through the ext_authz and ext_proc sidecar filters when it is visible
 *   ASCII with inner spaces or tabs, and is otherwise denied 500 bad_header_value with no part of
 *   it in the denial; agent-sent header values with any characters never stop the injection.
 */
import { randomUUID } from 'node:crypto';
import anyTest, { type TestFn } from 'ava';
import fc from 'fast-check';
import { findCanary, makeCanary } from './helpers/canary.js';
import { ExtAuthzFilter } from './helpers/ext-authz-filter.js';
import { ExtProcFilter, extProcClient } from './helpers/ext-proc-filter.js';
import { scale } from './helpers/fuzz.js';
import { type Stack, resource, startStack } from './helpers/injector.js';
import {
  type Sidecar,
  type UpstreamRecorder,
  agentRequest,
  headerValues,
  startSidecar,
  startUpstream,
} from './helpers/sidecar-sim.js';

interface Ctx {
  stack: Stack;
  upstream: UpstreamRecorder;
  sidecars: { api: string; sidecar: Sidecar }[];
  closers: (() => Promise<void> | void)[];
}
const test = anyTest as TestFn<Ctx>;

test.before(async (t) => {
  const stack = await startStack({ logLevel: 'silent' });
  const upstream = await startUpstream();
  const proc = extProcClient(stack.injector);
  const sidecars = [
    {
      api: 'ext_authz',
      sidecar: await startSidecar({
        filter: new ExtAuthzFilter({ client: stack.client, contextExtensions: { 'pai.agent': 'hv-bot' }, statusOnError: 503 }),
        upstreamPort: upstream.port,
      }),
    },
    {
      api: 'ext_proc',
      sidecar: await startSidecar({ filter: new ExtProcFilter({ client: proc, agent: 'hv-bot' }), upstreamPort: upstream.port }),
    },
  ];
  t.context = {
    stack,
    upstream,
    sidecars,
    closers: [...sidecars.map((s) => () => s.sidecar.close()), () => proc.close(), () => upstream.close(), () => stack.close()],
  };
});

test.after.always(async (t) => {
  for (const close of t.context.closers ?? []) await close();
});

const DNS_LABEL = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
const SECRET_KEY = fc.stringMatching(/^[-._a-zA-Z0-9]{1,253}$/).filter((k) => k !== '.' && k !== '..');
const bytes = fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a));

let names = 0;
/** A generated valid name made unique per run (a suffix keeps it a DNS label). */
const unique = (name: string): string => `${name.slice(0, 50)}-u${(++names).toString(36)}`;

test('valid names and keys: stored and listed exactly, values back byte for byte', async (t) => {
  const { stack } = t.context;
  const a = stack.admin;
  await fc.assert(
    fc.asyncProperty(
      DNS_LABEL,
      fc.uniqueArray(fc.tuple(SECRET_KEY, bytes), { minLength: 1, maxLength: 5, selector: ([k]) => k }),
      async (raw, entries) => {
        const name = unique(raw);
        const created = await a.call('POST', '/v1/secrets', {
          name,
          binaryData: Object.fromEntries(entries.map(([k, v]) => [k, v.toString('base64')])),
        });
        if (created.status !== 201) throw new Error(`${name}: ${created.status} ${created.text}`);
        const described = await a.call('GET', `/v1/secrets/${encodeURIComponent(name)}`);
        const keys = entries.map(([k]) => k).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
        if (JSON.stringify(described.json.keys) !== JSON.stringify(keys))
          throw new Error(`keys ${JSON.stringify(described.json.keys)}`);
        for (const [k, v] of entries) if (described.json.keySizes[k] !== v.length) throw new Error(`size of ${k}`);
        // Values back through the one value-returning path.
        const agent = `env-${(++names).toString(36)}`;
        await a.apply(
          resource('Agent', agent, { env: entries.map(([k], i) => ({ name: `V${i}`, secretRef: { name, key: k } })) }),
        );
        const env = await a.call('GET', `/v1/agents/${agent}/env?format=json`);
        if (entries.some(([, v]) => v.includes(0))) {
          // No environment variable can hold a NUL: the render is refused as a whole (prop-dotenv.test.ts).
          if (env.status !== 422 || !/NUL/.test(env.text)) throw new Error(`a NUL value rendered: ${env.status}`);
          return;
        }
        const items = env.json.items as { name: string; value?: string; valueBase64?: string }[];
        entries.forEach(([, v], i) => {
          const item = items.find((x) => x.name === `V${i}`);
          const back =
            item?.valueBase64 !== undefined ? Buffer.from(item.valueBase64, 'base64') : Buffer.from(item?.value ?? '', 'utf8');
          if (!back.equals(v)) throw new Error(`value of ${i} differs`);
        });
      },
    ),
    { numRuns: scale(200, 2000) },
  );
  t.pass();
});

const badName = fc.oneof(
  fc.string({ maxLength: 70 }).filter((s) => !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(s)),
  fc.constantFrom('', '-a', 'a-', 'A', 'a_b', 'a.b', '..', 'a/b', 'a'.repeat(64), 'ä', ' a', 'a\n'),
);
const badKey = fc.oneof(
  fc.string({ maxLength: 30 }).filter((s) => !/^[-._a-zA-Z0-9]+$/.test(s)),
  fc.constantFrom('', '.', '..', 'a/b', 'a b', 'k'.repeat(254), 'ключ', 'a\u0000'),
);

test.serial('invalid names and keys: refused 422 invalid, nothing written', async (t) => {
  const { stack } = t.context;
  const a = stack.admin;
  const listed = async (): Promise<string> =>
    JSON.stringify((await a.call('GET', '/v1/secrets')).json.items.map((i: { name: string }) => i.name));
  const before = await listed();
  await fc.assert(
    fc.asyncProperty(badName, SECRET_KEY, async (name, key) => {
      const res = await a.call('POST', '/v1/secrets', { name, data: { [key]: 'v' } });
      return res.status === 422 && res.json?.error?.code === 'invalid';
    }),
    { numRuns: scale(300, 3000) },
  );
  await fc.assert(
    fc.asyncProperty(DNS_LABEL, badKey, async (raw, key) => {
      const name = unique(raw);
      const res = await a.call('POST', '/v1/secrets', { name, data: { ok: 'v', [key]: 'v' } });
      const after = await a.call('GET', `/v1/secrets/${name}`);
      return res.status === 422 && res.json?.error?.code === 'invalid' && after.status === 404;
    }),
    { numRuns: scale(300, 3000) },
  );
  t.is(await listed(), before, 'no secret was created by a refused request');
});

test('any path segment as a secret name: 2xx or 4xx, never 5xx, on every method', async (t) => {
  const { stack } = t.context;
  await fc.assert(
    fc.asyncProperty(fc.string({ maxLength: 40 }), fc.constantFrom('GET', 'PUT', 'PATCH', 'DELETE'), async (segment, method) => {
      const res = await stack.admin.call(
        method,
        `/v1/secrets/${encodeURIComponent(segment)}`,
        method === 'PUT' || method === 'PATCH' ? { data: { k: 'v' } } : undefined,
      );
      return res.status < 500;
    }),
    { numRuns: scale(500, 5000) },
  );
  t.pass();
});

/** What the header rules accept (src/inject/mutation.ts, written again here): visible ASCII, inner SP/HTAB. */
function headerSafe(v: Buffer): boolean {
  if (v.length === 0) return false;
  return [...v].every((c, i) => (c > 0x20 && c < 0x7f) || ((c === 0x20 || c === 0x09) && i > 0 && i < v.length - 1));
}

const headerValue = fc
  .array(
    fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 0x21, max: 0x7e }) },
      { weight: 1, arbitrary: fc.constantFrom(0x00, 0x09, 0x0a, 0x0d, 0x20, 0x01, 0x1f, 0x7f, 0x80, 0xff) },
    ),
    {
      maxLength: 24,
    },
  )
  .map((a) => Buffer.from(a));

let hv = 0;

test.serial('header values: visible ASCII reaches the upstream exactly; anything else is denied bad_header_value', async (t) => {
  const { stack, upstream, sidecars } = t.context;
  const counts = { injected: 0, refused: 0 };
  await fc.assert(
    fc.asyncProperty(headerValue, async (tail) => {
      const n = ++hv;
      // A canary prefix makes any trace of the value findable in a denial.
      const marker = makeCanary(`hv${n}`);
      const token = Buffer.concat([Buffer.from(marker), tail]);
      const host = `hv${n}.header.example`;
      await stack.admin.createSecret(`hvs-${n}`, { token });
      await stack.admin.apply(
        resource('Provider', `hvp-${n}`, { type: 'http', hosts: [host], auth: { secretRef: `hvs-${n}` } }),
        resource('Agent', 'hv-bot', { providers: [`hvp-${n}`] }),
      );
      for (const { api, sidecar } of sidecars) {
        const tag = randomUUID();
        const res = await agentRequest(sidecar.port, {
          host,
          headers: [
            ['x-tag', tag],
            ['authorization', 'Bearer agent-own'],
          ],
        });
        const seen = upstream.requests.find((q) => headerValues(q.headers, 'x-tag')[0] === tag);
        if (headerSafe(token)) {
          const auth = seen ? headerValues(seen.headers, 'authorization') : [];
          if (res.status !== 200 || auth.length !== 1 || auth[0] !== `Bearer ${token.toString('latin1')}`) {
            throw new Error(
              `${api}: ${token.toString('hex')} should reach the upstream exactly; got ${res.status} ${JSON.stringify(auth)}`,
            );
          }
          counts.injected++;
        } else {
          if (seen) throw new Error(`${api}: a refused value reached the upstream`);
          const body = res.body.toString('utf8');
          if (res.status !== 500 || !body.includes('bad_header_value')) throw new Error(`${api}: ${res.status} ${body}`);
          if (findCanary(res.body, marker).length > 0) throw new Error(`${api}: the value is in the denial`);
          counts.refused++;
        }
      }
    }),
    { numRuns: scale(150, 1500) },
  );
  t.log(`${hv} generated values × 2 filters: ${counts.injected} injected exactly, ${counts.refused} refused`);
  t.true(counts.injected > 0 && counts.refused > 0);
});

test('agent-sent header values with any characters never stop the injection of the real credential', async (t) => {
  const { stack } = t.context;
  const token = makeCanary('agent-headers');
  await stack.admin.createSecret('ah-key', { token });
  await stack.admin.apply(
    resource('Provider', 'ah', { type: 'http', hosts: ['ah.header.example'], auth: { secretRef: 'ah-key' } }),
    resource('Agent', 'ah-bot', { providers: ['ah'] }),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.tuple(
          fc.constantFrom('authorization', 'x-api-key', 'x-custom', 'proxy-authorization'),
          fc.string({ maxLength: 40, unit: 'binary' }),
        ),
        { maxLength: 4 },
      ),
      async (headers) => {
        const res = await stack.check({ authority: 'ah.header.example', agent: 'ah-bot', headers });
        const ok = res.ok_response;
        const set = ok?.headers?.filter((h) => h.header?.key === 'authorization').map((h) => h.header?.value) ?? [];
        const removed = new Set(ok?.headers_to_remove ?? []);
        return (
          res.status?.code === 0 &&
          set.length === 1 &&
          set[0] === `Bearer ${token}` &&
          removed.has('x-api-key') &&
          removed.has('proxy-authorization')
        );
      },
    ),
    { numRuns: scale(500, 5000) },
  );
  t.pass();
});
