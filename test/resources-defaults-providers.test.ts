/** Per-type defaults of Providers (targetOf), and typeNeedsExtProc. */
import test from 'ava';
import { targetOf, typeNeedsExtProc } from '../src/resources/defaults.js';
import { convertProvider } from '../src/resources/legacy/convert.js';
import type { LegacyProviderSpec } from '../src/resources/legacy/types.js';
import type { AuthStrategy, InjectionTarget, Provider } from '../src/resources/types.js';
import { parseResource } from '../src/resources/validate.js';

// Written in the earlier dialect and converted, as an old stored document is: its targets must not change.
const provider = (spec: LegacyProviderSpec, name = 'p'): Provider => ({
  apiVersion: 'pai.io/v1',
  kind: 'Provider',
  metadata: { name },
  spec: convertProvider(spec),
});
/** A Provider that went through parseResource, as every stored one has. */
const parsed = (p: Provider): Provider => parseResource(JSON.parse(JSON.stringify(p)), 'test') as Provider;
type Expect = Omit<InjectionTarget, 'kind' | 'name'>;
const header = (h: string, prefix: string, key: string): AuthStrategy => ({ strategy: 'header', header: h, prefix, key });

// --- Providers ------------------------------------------------------------------------------------

const providers: [string, Provider, Expect][] = [
  [
    'github',
    provider({ type: 'github', auth: { secretRef: 'gh' } }),
    {
      type: 'github',
      hosts: ['api.github.com', 'uploads.github.com', 'github.com'],
      secret: 'gh',
      requiredKeys: ['token'],
      optionalKeys: [],
      auth: { strategy: 'github', key: 'token', gitOnlyHosts: ['github.com'] },
    },
  ],
  [
    'github with hosts and key',
    provider({ type: 'github', hosts: ['ghe.example.com'], auth: { secretRef: 'gh', secretKey: 'pat' } }),
    {
      type: 'github',
      hosts: ['ghe.example.com'],
      secret: 'gh',
      requiredKeys: ['pat'],
      optionalKeys: [],
      auth: { strategy: 'github', key: 'pat', gitOnlyHosts: [] },
    },
  ],
  [
    'http defaults',
    provider({ type: 'http', hosts: ['api.example.com', '*.example.net'], auth: { secretRef: 's' } }),
    {
      type: 'http-token',
      hosts: ['api.example.com', '*.example.net'],
      secret: 's',
      requiredKeys: ['token'],
      optionalKeys: [],
      auth: header('authorization', 'Bearer ', 'token'),
    },
  ],
  [
    'http Authorization, explicit',
    provider({ type: 'http', hosts: ['a.com'], auth: { secretRef: 's', header: 'Authorization', prefix: 'Token ' } }),
    {
      type: 'http-token',
      hosts: ['a.com'],
      secret: 's',
      requiredKeys: ['token'],
      optionalKeys: [],
      auth: header('authorization', 'Token ', 'token'),
    },
  ],
  [
    'http other header: no prefix by default',
    provider({ type: 'http', hosts: ['a.com'], auth: { secretRef: 's', header: 'X-Api-Key', secretKey: 'k' } }),
    {
      type: 'http-token',
      hosts: ['a.com'],
      secret: 's',
      requiredKeys: ['k'],
      optionalKeys: [],
      auth: header('x-api-key', '', 'k'),
    },
  ],
  [
    'http basic',
    provider({ type: 'http', hosts: ['a.com'], auth: { secretRef: 's', scheme: 'basic' } }),
    {
      type: 'http-token',
      hosts: ['a.com'],
      secret: 's',
      requiredKeys: ['username', 'password'],
      optionalKeys: [],
      auth: { strategy: 'basic', usernameKey: 'username', passwordKey: 'password' },
    },
  ],
  [
    'http query',
    provider({ type: 'http', hosts: ['a.com'], auth: { secretRef: 's', scheme: 'query', param: 'key' } }),
    {
      type: 'http-token',
      hosts: ['a.com'],
      secret: 's',
      requiredKeys: ['token'],
      optionalKeys: [],
      auth: { strategy: 'query', param: 'key', key: 'token' },
    },
  ],
  [
    'aws',
    provider({ type: 'aws', auth: { secretRef: 'aws' } }),
    {
      type: 'aws',
      hosts: ['*.amazonaws.com'],
      secret: 'aws',
      requiredKeys: ['access_key_id', 'secret_access_key'],
      optionalKeys: ['session_token'],
      auth: { strategy: 'sigv4' },
    },
  ],
  [
    'telegram',
    provider({ type: 'telegram', auth: { secretRef: 'bot' } }),
    {
      type: 'telegram',
      hosts: ['api.telegram.org'],
      secret: 'bot',
      requiredKeys: ['token'],
      optionalKeys: [],
      auth: { strategy: 'telegram', key: 'token' },
    },
  ],
  [
    'azure',
    provider({ type: 'azure', auth: { secretRef: 'sp' } }),
    {
      type: 'azure',
      hosts: ['management.azure.com'],
      secret: 'sp',
      requiredKeys: ['client_id', 'client_secret', 'tenant_id'],
      optionalKeys: [],
      auth: { strategy: 'azure', scope: 'https://management.azure.com/.default' },
    },
  ],
  [
    'azure with scope and tokenUrl',
    provider({
      type: 'azure',
      hosts: ['graph.microsoft.com'],
      auth: { secretRef: 'sp', scope: 's1', tokenUrl: 'https://login.example.com' },
    }),
    {
      type: 'azure',
      hosts: ['graph.microsoft.com'],
      secret: 'sp',
      requiredKeys: ['client_id', 'client_secret', 'tenant_id'],
      optionalKeys: [],
      auth: { strategy: 'azure', scope: 's1', tokenUrl: 'https://login.example.com' },
    },
  ],
  [
    'gcp',
    provider({ type: 'gcp', auth: { secretRef: 'sa' } }),
    {
      type: 'gcp',
      hosts: ['*.googleapis.com'],
      secret: 'sa',
      requiredKeys: ['key.json'],
      optionalKeys: [],
      auth: { strategy: 'gcp', scope: 'https://www.googleapis.com/auth/cloud-platform' },
    },
  ],
];
for (const [title, resource, expected] of providers) {
  test(`targetOf Provider ${title}`, (t) => {
    const { gate, credentialFree, ...target } = targetOf(parsed(resource));
    // Only github's default hosts include pages that get no credential (github.com's web pages).
    t.is(typeof credentialFree, resource.spec.type === 'github' && title === 'github' ? 'function' : 'undefined');
    t.false(credentialFree?.('github.com', '/myorg/repo.git/info/refs?service=git-upload-pack') ?? false);
    t.is(credentialFree?.('github.com', '/myorg/repo/pulls') ?? false, title === 'github');
    // Every Provider records its requests unless its audit block says otherwise (issue 13).
    t.deepEqual(target, { kind: 'Provider', name: 'p', logRequests: true, ...expected });
    // The clouds' Providers carry a gate (credential-minting endpoints, services, regions); others none.
    t.is(typeof gate, ['aws', 'gcp', 'azure'].includes(resource.spec.type) ? 'function' : 'undefined');
  });
}

test('targetOf lower-cases and deduplicates the hosts of an unvalidated stored Provider', (t) => {
  const target = targetOf(provider({ type: 'http', hosts: ['API.example.com', 'api.example.com'], auth: { secretRef: 's' } }));
  t.deepEqual(target.hosts, ['api.example.com']);
});

// --- typeNeedsExtProc ---

test('typeNeedsExtProc: only the path-rewriting and body-signing strategies', (t) => {
  const strategies: [AuthStrategy, boolean][] = [
    [{ strategy: 'telegram', key: 'token' }, true],
    [{ strategy: 'sigv4' }, true],
    [{ strategy: 'header', header: 'authorization', prefix: '', key: 'k' }, false],
    [{ strategy: 'basic', usernameKey: 'u', passwordKey: 'p' }, false],
    [{ strategy: 'query', param: 'k', key: 'k' }, false],
    [{ strategy: 'azure', scope: 's' }, false],
    [{ strategy: 'gcp', scope: 's' }, false],
  ];
  for (const [auth, expected] of strategies) t.is(typeNeedsExtProc(auth), expected, auth.strategy);
});
