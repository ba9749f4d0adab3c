# pai-injector: the Envoy injector (pai serve --role injector). Reads values to put them on the
# wire, and the resources that say which agent may use which secret. Nothing else: no writes, no
# list, no metadata.
# Paths assume the KV v2 mount "pai"; setup.sh rewrites them for another PAI_VAULT_MOUNT.

path "pai/data/secrets/*" {
  capabilities = ["read"]
}

path "pai/data/resources/*" {
  capabilities = ["read"]
}

# The admin API's tokens (hashed) are no business of the injector: the more specific rule wins.
path "pai/data/resources/tokens/*" {
  capabilities = ["deny"]
}

# The agents' gateway tokens (hashed): read to check them, update to record when each was last
# used (a compare-and-set write of the same record; it grants nothing an injector, which reads
# every credential, does not already have).
path "pai/data/resources/agenttokens/*" {
  capabilities = ["read", "update"]
}
