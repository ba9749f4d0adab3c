# pai-webhook: the sidecar-injecting admission webhook (pai serve --role webhook). Reads the
# resources that say what an agent pod gets (agents, providers: hosts, placeholders, literal env)
# and the pai CA, whose key signs the webhook's own serving certificate. Never a secret value.
# Paths assume the KV v2 mount "pai"; setup.sh rewrites them for another PAI_VAULT_MOUNT.

path "pai/data/resources/*" {
  capabilities = ["read"]
}

path "pai/data/ns/+/resources/*" {
  capabilities = ["read"]
}

# API tokens and agent tokens (hashed) are no business of the webhook: the more specific rules win.
path "pai/data/resources/tokens/*" {
  capabilities = ["deny"]
}

path "pai/data/resources/agenttokens/*" {
  capabilities = ["deny"]
}

# The pai CA: read to sign the serving certificate, created on first use like the injector does.
path "pai/data/ns/pai-system/secrets/ca" {
  capabilities = ["create", "read"]
}

path "pai/metadata/ns/pai-system/secrets/ca" {
  capabilities = ["read", "patch"]
}
