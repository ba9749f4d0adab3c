/**
 * The Vault half of `pai render install --store vault`: the kubernetes auth roles that let the
 * install's pods log in, as a ConfigMap holding the `vault write` commands. Pure.
 *
 * A ConfigMap of commands rather than a Job: configuring Vault auth needs a Vault token that may
 * manage auth methods, and such a credential belongs to whoever runs the commands, never to a
 * manifest or a pod of pai. The policies and the KV mount come from vault/setup.sh first; this
 * adds the roles bound to this install's namespace and service accounts, and the injector role
 * bound to the agents' namespaces (in sidecar mode each agent pod's injector logs in with that
 * pod's own service account, whose name pai does not choose).
 */

type Json = Record<string, unknown>;

function quote(text: string): string {
  return `'${text.replace(/'/g, "'\\''")}'`;
}

/** The shell script: one `vault write` per role; reads VAULT_ADDR/VAULT_TOKEN from its caller's environment. */
export function vaultSetupScript(namespace: string, agentNamespaces: readonly string[]): string {
  const role = (name: string, accounts: string, namespaces: string, policies: string): string =>
    `vault write "auth/$K8S_MOUNT/role/${name}" bound_service_account_names=${quote(accounts)} ` +
    `bound_service_account_namespaces=${quote(namespaces)} token_policies=${policies} audience=vault ` +
    'token_ttl=1h token_max_ttl=24h';
  const lines = [
    '#!/bin/sh',
    '# pai-secrets: kubernetes auth roles for this install. Run after vault/setup.sh (policies, KV mount)',
    '# with a Vault token that may write auth roles:',
    `#   kubectl -n ${namespace} get configmap pai-vault-setup -o jsonpath='{.data.k8s-auth\\.sh}' | sh`,
    'set -eu',
    'K8S_MOUNT=${PAI_VAULT_K8S_MOUNT:-kubernetes}',
    role('pai-admin', 'pai-admin', namespace, 'pai-admin'),
    role('pai-webhook', 'pai-webhook', namespace, 'pai-webhook'),
  ];
  if (agentNamespaces.length > 0) {
    // Any service account of an agent namespace: in sidecar mode the injector shares its pod's account.
    lines.push(role('pai-injector', '*', agentNamespaces.join(','), 'pai-injector'));
  } else {
    lines.push('echo "no agent namespaces given (pai render install --agent-namespaces): role pai-injector not written" >&2');
  }
  return `${lines.join('\n')}\n`;
}

/** The ConfigMap `pai-vault-setup` holding vaultSetupScript as `k8s-auth.sh`. */
export function buildVaultSetup(namespace: string, agentNamespaces: readonly string[]): Json {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'pai-vault-setup', namespace, labels: { 'app.kubernetes.io/part-of': 'pai-secrets' } },
    data: { 'k8s-auth.sh': vaultSetupScript(namespace, agentNamespaces) },
  };
}
