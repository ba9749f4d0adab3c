# pai-renderer: env rendering (GET /v1/agents/{name}/env), the one path that returns values to a
# client. Besides the injector, this is the only role that reads secret values: give it only to the
# process that serves rendering (see docs/VAULT.md).
# Paths assume the KV v2 mount "pai"; setup.sh rewrites them for another PAI_VAULT_MOUNT.

# The values that agents' spec.env entries name.
path "pai/data/secrets/*" {
  capabilities = ["read"]
}

path "pai/data/ns/+/secrets/*" {
  capabilities = ["read"]
}

# The agent documents (spec.env), and the API tokens that authenticate the renderer's callers.
path "pai/data/resources/*" {
  capabilities = ["read"]
}

path "pai/data/ns/+/resources/*" {
  capabilities = ["read"]
}

# The reserved namespace holds the pai CA's private key: never the renderer's (more specific than ns/+).
path "pai/data/ns/pai-system/*" {
  capabilities = ["deny"]
}
