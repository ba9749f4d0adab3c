# pai-admin: the admin API (pai serve --role admin). Writes secrets but never reads a value.
# Paths assume the KV v2 mount "pai"; setup.sh rewrites them for another PAI_VAULT_MOUNT.

# Secrets: create (cas 0), replace (cas N) and KV v2 PATCH (merge patch, no read needed).
# No "read": the admin role cannot read a secret's data. No "delete": pai deletes a secret with
# all its versions through metadata/ below, never soft-deletes one version.
path "pai/data/secrets/*" {
  capabilities = ["create", "update", "patch"]
}

# The same for the namespaces other than default (ns/<namespace>/…).
path "pai/data/ns/+/secrets/*" {
  capabilities = ["create", "update", "patch"]
}

# Resources (agents, providers, modelproviders) and API tokens (stored hashed): JSON documents
# that the admin API serves back, so they are read here. Written whole, with cas.
path "pai/data/resources/*" {
  capabilities = ["create", "read", "update"]
}

path "pai/data/ns/+/resources/*" {
  capabilities = ["create", "read", "update"]
}

# Metadata: key names and byte sizes live in custom_metadata (read; patch to record them),
# listing, and delete (removes every version: how pai deletes secrets and documents).
path "pai/metadata/*" {
  capabilities = ["read", "list", "patch", "delete"]
}

# The pai CA (issue 14): a secret in the reserved namespace pai-system, which no API route can
# address. The admin API creates it, serves its public certificates and rotates it, so it reads it.
path "pai/data/ns/pai-system/secrets/ca" {
  capabilities = ["create", "read", "update", "patch"]
}
