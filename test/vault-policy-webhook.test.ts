/**
 * vault/pai-webhook.hcl under the Vault double: the webhook renders an agent's pieces from the
 * store (documents, the pai CA) and signs its serving certificate, and reads no secret value, no
 * API token, and writes no document.
 */
import test from 'ava';
import { SYSTEM_NAMESPACE } from '../src/resources/names.js';
import { CaAuthority } from '../src/tls/authority.js';
import { SecretStoreCaMaterial } from '../src/tls/secret-store-ca.js';
import { StoreSidecarPieces } from '../src/webhook/store-pieces.js';
import { renderAgentSidecar } from '../src/admin/sidecar-routes.js';
import { openVaultStore } from './helpers/vault-serve.js';
import { type VaultDouble, startVaultDouble } from './vault-double/server.js';

let double: VaultDouble;
test.before(async () => {
  double = await startVaultDouble();
});
test.after.always(async () => {
  await double?.close();
});

const CANARY = 'CANARY-vault-webhook-value';

test('pai-webhook: renders pieces and signs with the CA; no secret value, token or write', async (t) => {
  const admin = await openVaultStore(double, ['pai-admin']);
  const webhook = await openVaultStore(double, ['pai-webhook']);
  t.teardown(async () => {
    await Promise.all([admin.close(), webhook.close()]);
  });
  await admin.createSecret('team-a', 'gh', new Map([['token', Buffer.from(CANARY)]]));
  await admin.putDoc('providers', 'team-a', 'github', {
    apiVersion: 'pai.io/v1',
    kind: 'Provider',
    metadata: { name: 'github', namespace: 'team-a' },
    spec: { type: 'github', auth: { type: 'pat', secretRef: 'gh' } },
  });
  await admin.putDoc('providers', 'team-a', 'tools', {
    apiVersion: 'pai.io/v1',
    kind: 'Provider',
    metadata: { name: 'tools', namespace: 'team-a' },
    spec: { type: 'mcp', mcp: { url: 'https://mcp.example.com:8443/sse' }, auth: { secretRef: 'gh' } },
  });
  await admin.putDoc('agents', 'team-a', 'bot', {
    apiVersion: 'pai.io/v1',
    kind: 'Agent',
    metadata: { name: 'bot', namespace: 'team-a' },
    spec: { providers: ['github', 'tools'], env: [{ name: 'TOKEN', secretRef: { name: 'gh', key: 'token' } }] },
  });
  await admin.putClusterDoc('tokens', 'admin-1', { hash: 'abc' });
  const authority = new CaAuthority({ store: new SecretStoreCaMaterial(webhook) });
  const pieces = new StoreSidecarPieces({ store: webhook, authority, injector: { kind: 'unix' }, systemRoots: [] });
  const got = await pieces.forAgent({ namespace: 'team-a', name: 'bot' });
  t.regex(got?.hosts ?? '', /127\.0\.0\.1 api\.github\.com/);
  t.false(JSON.stringify(got).includes(CANARY));
  // The webhook's Envoy config is `pai render sidecar`'s, a bound URL's port included.
  const rendered = await renderAgentSidecar(admin, { namespace: 'team-a', name: 'bot' }, { injector: { kind: 'unix' } });
  t.is(got?.envoyBootstrap, rendered.yaml);
  t.regex(got?.envoyBootstrap ?? '', /address: mcp\.example\.com\n\s+port_value: 8443/);
  t.is(await pieces.forAgent({ namespace: 'team-a', name: 'ghost' }), undefined);
  t.truthy(await authority.signing(), 'creates and reads the CA');
  const refused = async (p: Promise<unknown>): Promise<void> => {
    const err = await t.throwsAsync(p);
    t.regex(err?.message ?? '', /denied|permission/i);
  };
  await refused(webhook.readSecret('team-a', 'gh'));
  await refused(webhook.readSecret(SYSTEM_NAMESPACE, 'other'));
  await refused(webhook.getClusterDoc('tokens', 'admin-1'));
  await refused(webhook.putDoc('agents', 'team-a', 'evil', { spec: {} }));
  await refused(webhook.createSecret('team-a', 'evil', new Map([['k', Buffer.from('v')]])));
});
