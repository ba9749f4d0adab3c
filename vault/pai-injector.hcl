# pai-injector: the Envoy injector (pai serve --role injector). Reads values to put them on the
# wire, and the resources that say which agent may use which secret; writes only its own usage
# counts. Nothing else: no list, no metadata, no other write.
# Paths assume the KV v2 mount "pai"; setup.sh rewrites them for another PAI_VAULT_MOUNT.
# The default namespace lives at secrets/ and resources/; every other namespace under ns/<name>/.
# An injector that serves one namespace only can be given a copy of this policy with the ns/+
# rules narrowed to ns/<that namespace> (and the default rules removed unless it is "default").

path "pai/data/secrets/*" {
  capabilities = ["read"]
}

path "pai/data/resources/*" {
  capabilities = ["read"]
}

path "pai/data/ns/+/secrets/*" {
  capabilities = ["read"]
}

path "pai/data/ns/+/resources/*" {
  capabilities = ["read"]
}

# The admin API's tokens (hashed) are no business of the injector: the more specific rule wins.
path "pai/data/resources/tokens/*" {
  capabilities = ["deny"]
}

# The agents' gateway tokens (hashed): read to check them. Their last use goes to the usage counts.
path "pai/data/resources/agenttokens/*" {
  capabilities = ["read"]
}

# Usage counts: each injector writes its own documents (u-<day>-<instance>) with check-and-set on
# the version it wrote last, never reading them back, and never anything else.
path "pai/data/resources/usage/*" {
  capabilities = ["create", "update"]
}

path "pai/data/ns/+/resources/usage/*" {
  capabilities = ["create", "update"]
}

# The pai CA (issue 14): the injector issues the agents' leaf certificates with its key, and may
# create it on first use (check-and-set: one CA however many replicas race).
path "pai/data/ns/pai-system/secrets/ca" {
  capabilities = ["create", "read"]
}

path "pai/metadata/ns/pai-system/secrets/ca" {
  capabilities = ["read", "patch"]
}
