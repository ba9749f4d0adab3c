#!/bin/sh
# Prepares a Vault for pai-secrets (PAI_STORE=vault). Idempotent: running it again converges to
# the same state and never touches stored secrets.
#
#   1. the KV v2 mount (default "pai"), with cas_required=true and a version limit
#   2. the policies pai-admin, pai-injector, pai-renderer, pai-webhook from this directory (paths rewritten
#      for PAI_VAULT_MOUNT)
#   3. kubernetes auth roles pai-admin, pai-injector, pai-renderer, pai-webhook (when PAI_K8S_HOST is set)
#   4. approle roles pai-admin, pai-injector, pai-renderer, pai-webhook (unless PAI_APPROLE=0)
#
# Needs the vault CLI, VAULT_ADDR, and a token that may manage mounts, auth methods and policies
# (VAULT_TOKEN or a prior `vault login`). The CLI also honours VAULT_NAMESPACE and VAULT_CACERT.
#
# Settings (environment, all optional):
#   PAI_VAULT_MOUNT          KV v2 mount path                                (default pai)
#   PAI_VAULT_MAX_VERSIONS   versions Vault keeps per secret                 (default 5)
#   PAI_TOKEN_TTL            TTL of the tokens pai's logins get              (default 1h)
#   PAI_TOKEN_MAX_TTL        their max TTL (pai logs in again before it)     (default 24h)
#   PAI_ADMIN_RENDERS        1: the admin role also gets pai-renderer, for admin replicas that
#                            serve env rendering                            (default 0)
#   PAI_K8S_HOST             Kubernetes API URL; set it to configure kubernetes auth
#   PAI_K8S_CA_FILE          CA bundle of that API (omit when Vault runs in the same cluster)
#   PAI_K8S_NAMESPACE        namespace of pai's service accounts            (default pai)
#   PAI_K8S_AUDIENCE         audience the service account tokens must carry (default: unchecked)
#   PAI_VAULT_K8S_MOUNT      kubernetes auth mount path                      (default kubernetes)
#   PAI_APPROLE              0 to skip approle                               (default 1)
#   PAI_VAULT_APPROLE_MOUNT  approle auth mount path                         (default approle)
#
# pai's tokens keep Vault's "default" policy (token_no_default_policy stays false): it grants
# auth/token/lookup-self and renew-self, which pai uses to watch and renew its token.
set -eu

die() {
  printf 'setup.sh: %s\n' "$*" >&2
  exit 1
}

log() {
  printf '==> %s\n' "$*"
}

valid_mount() {
  case $1 in
    '' | /* | */ | *//* | *..* | *[!A-Za-z0-9_/-]*) return 1 ;;
    *) return 0 ;;
  esac
}

command -v vault >/dev/null 2>&1 || die 'the vault CLI is not on PATH'
[ -n "${VAULT_ADDR:-}" ] || die 'VAULT_ADDR is not set'

HERE=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
MOUNT=${PAI_VAULT_MOUNT:-pai}
MAX_VERSIONS=${PAI_VAULT_MAX_VERSIONS:-5}
TTL=${PAI_TOKEN_TTL:-1h}
MAX_TTL=${PAI_TOKEN_MAX_TTL:-24h}
K8S_MOUNT=${PAI_VAULT_K8S_MOUNT:-kubernetes}
K8S_NAMESPACE=${PAI_K8S_NAMESPACE:-pai}
APPROLE_MOUNT=${PAI_VAULT_APPROLE_MOUNT:-approle}
ROLES='admin injector renderer webhook'

valid_mount "$MOUNT" || die "PAI_VAULT_MOUNT is not a valid mount path: $MOUNT"
valid_mount "$K8S_MOUNT" || die "PAI_VAULT_K8S_MOUNT is not a valid mount path: $K8S_MOUNT"
valid_mount "$APPROLE_MOUNT" || die "PAI_VAULT_APPROLE_MOUNT is not a valid mount path: $APPROLE_MOUNT"
case $MAX_VERSIONS in
  '' | *[!0-9]*) die "PAI_VAULT_MAX_VERSIONS must be a number: $MAX_VERSIONS" ;;
esac
for role in $ROLES; do
  [ -r "$HERE/pai-$role.hcl" ] || die "missing policy file $HERE/pai-$role.hcl"
done

# The policies of a role: its own, plus pai-renderer for an admin that renders.
policies_of() {
  if [ "$1" = admin ] && [ "${PAI_ADMIN_RENDERS:-0}" = 1 ]; then
    printf 'pai-admin,pai-renderer'
  else
    printf 'pai-%s' "$1"
  fi
}

# True when `vault $1 list` shows a mount at path $2.
mounted() {
  vault "$1" list -format=json | grep -qF "\"$2/\":"
}

# 1. KV v2 mount -------------------------------------------------------------------------------
if mounted secrets "$MOUNT"; then
  # Only KV v2 has a config endpoint: a KV v1 mount (or another engine) fails here.
  vault read "$MOUNT/config" >/dev/null 2>&1 ||
    die "$MOUNT/ is mounted but is not KV v2 (for KV v1: vault kv enable-versioning $MOUNT)"
  log "KV v2 mount $MOUNT/ exists"
else
  log "enabling KV v2 at $MOUNT/"
  vault secrets enable -path="$MOUNT" -version=2 -description='pai-secrets' kv
fi
# Every write must carry cas: no client, pai or other, overwrites a secret blindly.
vault write "$MOUNT/config" cas_required=true max_versions="$MAX_VERSIONS" >/dev/null
log "$MOUNT/config: cas_required=true max_versions=$MAX_VERSIONS"

# 2. Policies ----------------------------------------------------------------------------------
for role in $ROLES; do
  sed "s#^path \"pai/#path \"$MOUNT/#" "$HERE/pai-$role.hcl" | vault policy write "pai-$role" - >/dev/null
  log "policy pai-$role written"
done

# 3. Kubernetes auth ---------------------------------------------------------------------------
if [ -n "${PAI_K8S_HOST:-}" ]; then
  if ! mounted auth "$K8S_MOUNT"; then
    log "enabling kubernetes auth at auth/$K8S_MOUNT/"
    vault auth enable -path="$K8S_MOUNT" kubernetes
  fi
  if [ -n "${PAI_K8S_CA_FILE:-}" ]; then
    [ -r "$PAI_K8S_CA_FILE" ] || die "cannot read PAI_K8S_CA_FILE $PAI_K8S_CA_FILE"
    vault write "auth/$K8S_MOUNT/config" kubernetes_host="$PAI_K8S_HOST" kubernetes_ca_cert=@"$PAI_K8S_CA_FILE" >/dev/null
  else
    vault write "auth/$K8S_MOUNT/config" kubernetes_host="$PAI_K8S_HOST" >/dev/null
  fi
  for role in $ROLES; do
    set -- "auth/$K8S_MOUNT/role/pai-$role" \
      bound_service_account_names="pai-$role" \
      bound_service_account_namespaces="$K8S_NAMESPACE" \
      token_policies="$(policies_of "$role")" \
      token_ttl="$TTL" \
      token_max_ttl="$MAX_TTL"
    if [ -n "${PAI_K8S_AUDIENCE:-}" ]; then
      set -- "$@" audience="$PAI_K8S_AUDIENCE"
    fi
    vault write "$@" >/dev/null
    log "kubernetes role pai-$role: service account $K8S_NAMESPACE/pai-$role -> $(policies_of "$role")"
  done
else
  log 'PAI_K8S_HOST not set: kubernetes auth skipped'
fi

# 4. AppRole -----------------------------------------------------------------------------------
if [ "${PAI_APPROLE:-1}" != 0 ]; then
  if ! mounted auth "$APPROLE_MOUNT"; then
    log "enabling approle auth at auth/$APPROLE_MOUNT/"
    vault auth enable -path="$APPROLE_MOUNT" approle
  fi
  for role in $ROLES; do
    vault write "auth/$APPROLE_MOUNT/role/pai-$role" \
      token_policies="$(policies_of "$role")" \
      token_ttl="$TTL" \
      token_max_ttl="$MAX_TTL" \
      secret_id_num_uses=0 >/dev/null
    role_id=$(vault read -field=role_id "auth/$APPROLE_MOUNT/role/pai-$role/role-id")
    log "approle pai-$role: PAI_VAULT_ROLE_ID=$role_id"
  done
  # Secret ids are credentials: this script does not print any. Make one per deployment with
  #   vault write -f -field=secret_id auth/<mount>/role/pai-<role>/secret-id > secret-id
  # and give pai its path in PAI_VAULT_SECRET_ID_FILE.
  log "secret ids: vault write -f -field=secret_id auth/$APPROLE_MOUNT/role/pai-<role>/secret-id"
else
  log 'PAI_APPROLE=0: approle auth skipped'
fi

log 'done'
