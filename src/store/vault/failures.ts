/**
 * Vault failures → PaiError, in one place. Messages say what pai was doing, to what, and what
 * Vault's answer meant (sealed, unreachable, permission denied, …) in pai's own words: Vault's
 * error bodies are never copied into them. `details.vaultStatus` carries the HTTP status.
 */
import { PaiError } from '../../errors.js';
import { VaultCallError } from './http.js';

function unavailable(message: string, err: VaultCallError): PaiError {
  return new PaiError('store_unavailable', message, {
    cause: err,
    ...(err.status === undefined ? {} : { details: { vaultStatus: err.status } }),
  });
}

/**
 * Maps anything thrown while doing `op` to `subject` (e.g. `secret "x"`) to a PaiError.
 * PaiErrors pass through; a 404 is `not_found`, a lost check-and-set `conflict`.
 */
export function toStoreError(err: unknown, op: string, subject: string): PaiError {
  if (err instanceof PaiError) return err;
  if (!(err instanceof VaultCallError))
    return new PaiError('internal', `Vault store: ${op} of ${subject} failed`, { cause: err });
  const doing = `${op} of ${subject}`;
  if (err.hint === 'outcome_unknown') {
    return unavailable(
      `Vault did not confirm the ${doing}: it may or may not have been applied; read it back before retrying`,
      err,
    );
  }
  switch (err.kind) {
    case 'timeout':
      return unavailable(`Vault did not answer in time (${doing})`, err);
    case 'network':
      return unavailable(`Vault is unreachable (${err.code ?? 'connection failed'}) (${doing})`, err);
    case 'tls':
      return unavailable(`TLS with Vault failed (${err.code ?? 'tls'}): check VAULT_CACERT and VAULT_ADDR (${doing})`, err);
    case 'client':
      return new PaiError('internal', `Vault store: ${doing} failed in the Vault client`, { cause: err });
    case 'status':
      break;
  }
  const status = err.status ?? 0;
  if (err.hint === 'cas_mismatch') {
    return new PaiError('conflict', `${subject} was changed concurrently; read it again and retry`, { cause: err });
  }
  if (err.hint === 'sealed') return unavailable(`Vault is sealed (${doing})`, err);
  if (status === 404) return new PaiError('not_found', `${subject} not found`, { cause: err });
  if (status === 403 && err.hint === 'token_invalid') {
    return unavailable(`Vault rejected pai's token (invalid, expired or revoked): check VAULT_TOKEN (${doing})`, err);
  }
  if (status === 403) {
    return unavailable(`Vault denied ${doing}: permission denied by the policies of pai's Vault token`, err);
  }
  if (status === 413) return new PaiError('too_large', `Vault refused ${doing}: the request is too large`, { cause: err });
  if (status === 429) return unavailable(`Vault is rate-limiting requests (${doing})`, err);
  if (status >= 500) return unavailable(`Vault answered ${status} (${doing})`, err);
  if (err.hint === 'cas_required') {
    return new PaiError('internal', `Vault requires check-and-set for ${doing}, and pai sent none`, { cause: err });
  }
  return new PaiError('internal', `Vault rejected ${doing} (status ${status})`, { cause: err, details: { vaultStatus: status } });
}
