/**
 * vault/setup.sh, run against a stub `vault` CLI that records its arguments (no Vault binary can
 * be installed here). Checks the commands it issues on a fresh and on an already prepared Vault,
 * the policies it writes for another mount, and its refusals.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { Acl, parsePolicy } from './vault-double/acl.js';

const SCRIPT = path.resolve('vault/setup.sh');
const STUB = `#!/bin/sh
printf '%s\\n' "$*" >> "$STUB_DIR/log"
case "$1 $2" in
  "secrets list")
    if [ -n "\${STUB_MOUNTED:-}" ]; then printf '{\\n  "%s/": {"type": "kv"}\\n}\\n' "$STUB_MOUNT"; else printf '{\\n  "cubbyhole/": {}\\n}\\n'; fi ;;
  "auth list")
    if [ -n "\${STUB_MOUNTED:-}" ]; then printf '{\\n  "kubernetes/": {},\\n  "approle/": {}\\n}\\n'; else printf '{\\n  "token/": {}\\n}\\n'; fi ;;
  "policy write") cat > "$STUB_DIR/policy-$3.hcl" ;;
  "read -field=role_id") printf 'role-id-of-%s\\n' "$3" ;;
  read*) [ -z "\${STUB_NOT_KV2:-}" ] || exit 2 ;;
esac
exit 0
`;

const dirs: string[] = [];

test.after.always(async () => {
  await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
});

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly calls: string[];
  readonly dir: string;
}

async function run(env: Record<string, string>): Promise<Run> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pai-setup-'));
  dirs.push(dir);
  await fs.writeFile(path.join(dir, 'vault'), STUB, { mode: 0o755 });
  const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      'sh',
      [SCRIPT],
      { env: { PATH: `${dir}:${process.env['PATH'] ?? ''}`, STUB_DIR: dir, VAULT_ADDR: 'https://vault.test:8200', ...env } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
  const log = await fs.readFile(path.join(dir, 'log'), 'utf8').catch(() => '');
  return { ...result, calls: log.split('\n').filter(Boolean), dir };
}

test('a fresh Vault: mount, config, policies for the mount, kubernetes and approle roles', async (t) => {
  const r = await run({ PAI_VAULT_MOUNT: 'team/pai', PAI_K8S_HOST: 'https://k8s.test:443', PAI_K8S_AUDIENCE: 'vault' });
  t.is(r.code, 0, r.stderr);
  t.true(r.calls.includes('secrets enable -path=team/pai -version=2 -description=pai-secrets kv'));
  t.true(r.calls.includes('write team/pai/config cas_required=true max_versions=5'));
  t.true(r.calls.includes('auth enable -path=kubernetes kubernetes'));
  t.true(r.calls.includes('write auth/kubernetes/config kubernetes_host=https://k8s.test:443'));
  t.true(
    r.calls.includes(
      'write auth/kubernetes/role/pai-injector bound_service_account_names=pai-injector bound_service_account_namespaces=pai ' +
        'token_policies=pai-injector token_ttl=1h token_max_ttl=24h audience=vault',
    ),
  );
  t.true(r.calls.includes('auth enable -path=approle approle'));
  t.true(
    r.calls.includes(
      'write auth/approle/role/pai-admin token_policies=pai-admin token_ttl=1h token_max_ttl=24h secret_id_num_uses=0',
    ),
  );
  t.regex(r.stdout, /approle pai-renderer: PAI_VAULT_ROLE_ID=role-id-of-auth\/approle\/role\/pai-renderer\/role-id/);
  const admin = await fs.readFile(path.join(r.dir, 'policy-pai-admin.hcl'), 'utf8');
  t.notRegex(admin, /path "pai\//, 'every path rewritten for the mount');
  const acl = new Acl([parsePolicy('pai-admin', admin)]);
  t.true(acl.allows('team/pai/data/secrets/x', 'create'));
  t.false(acl.allows('team/pai/data/secrets/x', 'read'), 'still no read of values');
  for (const role of ['injector', 'renderer', 'webhook']) {
    await t.notThrowsAsync(fs.access(path.join(r.dir, `policy-pai-${role}.hcl`)));
  }
});

test('an already prepared Vault: nothing enabled twice, settings written again', async (t) => {
  const r = await run({ STUB_MOUNTED: '1', STUB_MOUNT: 'pai', PAI_K8S_HOST: 'https://k8s.test', PAI_ADMIN_RENDERS: '1' });
  t.is(r.code, 0, r.stderr);
  t.false(
    r.calls.some((c) => c.includes(' enable ')),
    r.calls.join('\n'),
  );
  t.true(r.calls.includes('write pai/config cas_required=true max_versions=5'));
  t.true(
    r.calls.some(
      (c) => c.startsWith('write auth/kubernetes/role/pai-admin ') && c.includes('token_policies=pai-admin,pai-renderer'),
    ),
  );
  t.true(r.calls.includes('policy write pai-renderer -'));
});

test('refusals: no VAULT_ADDR, a bad mount, a mount that is not KV v2', async (t) => {
  const noAddr = await run({ VAULT_ADDR: '' });
  t.is(noAddr.code, 1);
  t.regex(noAddr.stderr, /VAULT_ADDR is not set/);
  const badMount = await run({ PAI_VAULT_MOUNT: '../sys' });
  t.is(badMount.code, 1);
  t.regex(badMount.stderr, /PAI_VAULT_MOUNT is not a valid mount path/);
  const v1 = await run({ STUB_MOUNTED: '1', STUB_MOUNT: 'pai', STUB_NOT_KV2: '1' });
  t.is(v1.code, 1);
  t.regex(v1.stderr, /is mounted but is not KV v2/);
  t.false(
    v1.calls.some((c) => c.startsWith('policy write')),
    'stops before writing anything',
  );
});
