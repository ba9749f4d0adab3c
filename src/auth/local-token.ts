/**
 * The token `pai serve` keeps in config.yaml for the CLI of its own machine (issue 16, items 4 and
 * 7). Tokens expire by default now, the first one included, and only an owner token may render
 * env or mint renderer tokens; so that the local user is never locked out:
 * - a token in config.yaml that `pai serve` made (bootstrap) and that has expired, or expires
 *   within RENEW_BEFORE_MS, is replaced by a fresh one of the same role, and the old one revoked;
 * - a store with no live owner token (a new store, one from before the owner role, or one whose
 *   owners all expired) gets one, through the first-token claim (one per store), and config.yaml
 *   holds it from then on; a token it held before stays valid, it is only no longer in the file.
 * Whoever can write config.yaml runs as the server's user and owns the store anyway, so renewing
 * what that file holds grants nothing new.
 */
import { PaiError } from '../errors.js';
import type { Logger } from '../log.js';
import type { TokenInfo, TokenService } from './tokens.js';

/** A bootstrap token is renewed at a start within this long of its expiry. */
export const RENEW_BEFORE_MS = 7 * 86_400_000;

export interface LocalToken {
  /** The token config.yaml should hold (undefined: none this process may hand out). */
  readonly token: string | undefined;
  /** Set when a token was created now (first start, renewal, first owner of an older store). */
  readonly created: string | undefined;
}

function due(info: TokenInfo, expired: boolean, now: number): boolean {
  return expired || (info.expiresAt !== undefined && Date.parse(info.expiresAt) - now < RENEW_BEFORE_MS);
}

/** What a held token is; store failures other than a transient one count as "not a token". */
async function inspect(tokens: TokenService, held: string): Promise<Awaited<ReturnType<TokenService['inspect']>>> {
  try {
    return await tokens.inspect(held);
  } catch (err) {
    if (err instanceof PaiError && err.code === 'store_unavailable') throw err;
    return undefined;
  }
}

/**
 * Decides the token config.yaml should hold, given the one it holds (`held`). Creates tokens as
 * described above; throws PaiError `store_unavailable` when the store cannot answer.
 */
export async function localToken(
  tokens: TokenService,
  held: string | undefined,
  logger: Logger,
  now: () => Date,
): Promise<LocalToken> {
  let token: string | undefined;
  let created: string | undefined;
  const seen = held === undefined ? undefined : await inspect(tokens, held);
  if (seen && !seen.expired) token = held;
  if (seen?.info.bootstrap && due(seen.info, seen.expired, now().getTime())) {
    const made = await tokens.create({
      role: seen.info.role,
      description: 'created by pai serve: renewal of the token in config.yaml',
      bootstrap: true,
    });
    await tokens.revoke(seen.info.id).catch(() => undefined);
    token = created = made.token;
    logger.info(
      { tokenId: made.info.id, replaced: seen.info.id, expiresAt: made.info.expiresAt },
      'renewed the token in config.yaml (it had expired or was about to); the old one is revoked',
    );
  }
  if (!(await tokens.hasOwner())) {
    const made = await tokens.createFirstAdmin('created by pai serve on first start');
    if (made) {
      if (token !== undefined) {
        logger.info(
          { tokenId: made.info.id },
          'the store had no owner token: created one for config.yaml; the token it held stays valid',
        );
      } else logger.info({ tokenId: made.info.id, role: made.info.role }, 'created the first admin token');
      token = created = made.token;
    }
  }
  if (token === undefined) {
    logger.info(
      {},
      'an owner token exists (or another pai serve on this store is creating the first one) but no usable one is in the config file; not creating another',
    );
  }
  return { token, created };
}
