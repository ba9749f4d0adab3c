/** Per-type defaults of ModelProviders (targetOf, baseUrlOf), and targetOf's refusals. Providers: resources-defaults-providers. */
import test from 'ava';
import { PaiError } from '../src/errors.js';
import { baseUrlOf, targetOf } from '../src/resources/defaults.js';
import { convertModelProvider, convertProvider } from '../src/resources/legacy/convert.js';
import type { LegacyModelProviderSpec, LegacyProviderSpec } from '../src/resources/legacy/types.js';
import type { AuthStrategy, InjectionTarget, ModelProvider, Provider } from '../src/resources/types.js';
import { parseResource } from '../src/resources/validate.js';

// Written in the earlier dialect and converted (unvalidated, as an old stored document would be):
// the targets of the earlier dialect must not change.
const mp = (spec: LegacyModelProviderSpec, name = 'm'): ModelProvider => ({
  apiVersion: 'pai.io/v1',
  kind: 'ModelProvider',
  metadata: { name },
  spec: convertModelProvider(spec),
});
const provider = (spec: LegacyProviderSpec, name = 'p'): Provider => ({
  apiVersion: 'pai.io/v1',
  kind: 'Provider',
  metadata: { name },
  spec: convertProvider(spec),
});
/** A resource that went through parseResource, as every stored one has. */
function parsed<T extends ModelProvider | Provider>(r: T): T {
  return parseResource(JSON.parse(JSON.stringify(r)), 'test') as T;
}
const ref = { name: 'llm', key: 'api-key' };

// --- failures: resources parseResource would reject (old stored documents) -------------------------

const unusable: [string, ModelProvider | Provider, string][] = [
  ['http without hosts', provider({ type: 'http', auth: { secretRef: 's' } }), 'spec.host'],
  ['http with empty hosts', provider({ type: 'http', hosts: [], auth: { secretRef: 's' } }), 'spec.host'],
  ['azure-openai without baseUrl', mp({ type: 'azure-openai', apiKeySecretRef: ref }), 'spec.endpoint'],
  ['openai without key', mp({ type: 'openai', apiKeySecretRef: { name: 'llm' } }), 'spec.apiKeySecretRef.key'],
  ['openai with a bad baseUrl', mp({ type: 'openai', baseUrl: 'not a url', apiKeySecretRef: ref }), 'spec.endpoint'],
  ['openai with an http baseUrl', mp({ type: 'openai', baseUrl: 'http://evil.example', apiKeySecretRef: ref }), 'spec.endpoint'],
];
for (const [title, resource, field] of unusable) {
  test(`targetOf refuses ${title}, naming the field`, (t) => {
    const err = t.throws(() => targetOf(resource), { instanceOf: PaiError, code: 'invalid' });
    t.is(err.details?.['field'], field);
    t.true(err.message.includes(field));
    t.true(err.message.startsWith(`${resource.kind} "${resource.metadata.name}"`));
  });
}

// --- ModelProviders -------------------------------------------------------------------------------

type Expect = Omit<InjectionTarget, 'kind' | 'name'>;
const header = (h: string, prefix: string, key = 'api-key'): AuthStrategy => ({ strategy: 'header', header: h, prefix, key });
const modelProviders: [string, ModelProvider, Expect][] = [
  [
    'openai',
    mp({ type: 'openai', apiKeySecretRef: ref }),
    {
      type: 'openai',
      hosts: ['api.openai.com'],
      secret: 'llm',
      requiredKeys: ['api-key'],
      optionalKeys: [],
      auth: header('authorization', 'Bearer '),
    },
  ],
  [
    'anthropic',
    mp({ type: 'anthropic', apiKeySecretRef: ref }),
    {
      type: 'anthropic',
      hosts: ['api.anthropic.com'],
      secret: 'llm',
      requiredKeys: ['api-key'],
      optionalKeys: [],
      auth: header('x-api-key', ''),
    },
  ],
  [
    'gemini',
    mp({ type: 'gemini', apiKeySecretRef: ref }),
    {
      type: 'gemini',
      hosts: ['generativelanguage.googleapis.com'],
      secret: 'llm',
      requiredKeys: ['api-key'],
      optionalKeys: [],
      auth: header('x-goog-api-key', ''),
    },
  ],
  [
    'azure-openai',
    mp({ type: 'azure-openai', baseUrl: 'https://My-Res.openai.azure.com/openai/', apiKeySecretRef: ref }),
    {
      type: 'azure-openai',
      hosts: ['my-res.openai.azure.com'],
      secret: 'llm',
      requiredKeys: ['api-key'],
      optionalKeys: [],
      auth: header('api-key', ''),
    },
  ],
  [
    'openai-compatible on a port (hosts carry no port)',
    mp({ type: 'openai-compatible', baseUrl: 'http://localhost:11434/v1', apiKeySecretRef: ref }),
    {
      type: 'openai',
      hosts: ['localhost'],
      secret: 'llm',
      requiredKeys: ['api-key'],
      optionalKeys: [],
      auth: header('authorization', 'Bearer '),
    },
  ],
  [
    'openai on its default port',
    mp({ type: 'openai', baseUrl: 'https://api.openai.com:443/v1', apiKeySecretRef: ref }),
    {
      type: 'openai',
      hosts: ['api.openai.com'],
      secret: 'llm',
      requiredKeys: ['api-key'],
      optionalKeys: [],
      auth: header('authorization', 'Bearer '),
    },
  ],
  [
    'bedrock',
    mp({ type: 'bedrock', apiKeySecretRef: { name: 'aws' } }),
    {
      type: 'bedrock',
      hosts: ['bedrock-runtime.us-east-1.amazonaws.com'],
      secret: 'aws',
      requiredKeys: ['access_key_id', 'secret_access_key'],
      optionalKeys: ['session_token'],
      auth: { strategy: 'sigv4', service: 'bedrock', region: 'us-east-1' },
    },
  ],
  [
    'bedrock in eu-west-3',
    mp({ type: 'bedrock', region: 'eu-west-3', apiKeySecretRef: { name: 'aws' } }),
    {
      type: 'bedrock',
      hosts: ['bedrock-runtime.eu-west-3.amazonaws.com'],
      secret: 'aws',
      requiredKeys: ['access_key_id', 'secret_access_key'],
      optionalKeys: ['session_token'],
      auth: { strategy: 'sigv4', service: 'bedrock', region: 'eu-west-3' },
    },
  ],
  [
    'bedrock with a regional baseUrl',
    mp({
      type: 'bedrock',
      baseUrl: 'https://bedrock-runtime-fips.us-gov-west-1.amazonaws.com',
      apiKeySecretRef: { name: 'aws' },
    }),
    {
      type: 'bedrock',
      hosts: ['bedrock-runtime-fips.us-gov-west-1.amazonaws.com'],
      secret: 'aws',
      requiredKeys: ['access_key_id', 'secret_access_key'],
      optionalKeys: ['session_token'],
      auth: { strategy: 'sigv4', service: 'bedrock', region: 'us-gov-west-1' },
    },
  ],
];
for (const [title, resource, expected] of modelProviders) {
  test(`targetOf ModelProvider ${title}`, (t) => {
    const { gate, ...target } = targetOf(parsed(resource));
    t.deepEqual(target, { kind: 'ModelProvider', name: 'm', ...expected });
    // bedrock signs with AWS keys: the aws gate (minting services, region) applies to it too.
    t.is(typeof gate, resource.spec.provider === 'bedrock' ? 'function' : 'undefined');
  });
}

// --- baseUrlOf ------------------------------------------------------------------------------------

const baseUrls: [ModelProvider, string][] = [
  [mp({ type: 'openai', apiKeySecretRef: ref }), 'https://api.openai.com'],
  [mp({ type: 'anthropic', apiKeySecretRef: ref }), 'https://api.anthropic.com'],
  [mp({ type: 'gemini', apiKeySecretRef: ref }), 'https://generativelanguage.googleapis.com'],
  [mp({ type: 'bedrock', apiKeySecretRef: { name: 'aws' } }), 'https://bedrock-runtime.us-east-1.amazonaws.com'],
  [
    mp({ type: 'bedrock', region: 'ap-south-1', apiKeySecretRef: { name: 'aws' } }),
    'https://bedrock-runtime.ap-south-1.amazonaws.com',
  ],
  [mp({ type: 'openai-compatible', baseUrl: 'http://localhost:8080/v1/', apiKeySecretRef: ref }), 'http://localhost:8080/v1'],
  [mp({ type: 'azure-openai', baseUrl: 'https://R.openai.azure.com:443/', apiKeySecretRef: ref }), 'https://r.openai.azure.com'],
];
for (const [resource, expected] of baseUrls) {
  test(`baseUrlOf ${resource.spec.provider} ${resource.spec.endpoint ?? resource.spec.region ?? '(default)'}`, (t) => {
    t.is(baseUrlOf(resource), expected);
  });
}
