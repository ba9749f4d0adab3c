/**
 * The token `pai serve` keeps in config.yaml for the CLI of its own machine (issue 16, item 4).
 * Only an owner token may render env or mint renderer tokens, so the local user must hold one: a
 * store with no live owner token (a new store, or one from before the owner role) gets one, through
 * the first-token claim (one per store), and config.yaml holds it from then on; a token it held
 * before stays valid, it is only no longer in the file. Whoever can write config.yaml runs as the
 * server's user and owns the store anyway.
 */
import { PaiError } from '../errors.js';
import type { Logger } from '../log.js';
import type { TokenService } from './tokens.js';

export interface LocalToken {
  /** The token config.yaml should hold (undefined: none this process may hand out). */
  readonly token: string | undefined;
  /** Set when a token was created now (first start, first owner of an older store). */
  readonly created: string | undefined;
}

/**
 * Decides the token config.yaml should hold, given the one it holds (`held`). Creates the owner
 * token as described above; throws PaiError `store_unavailable` when the store cannot answer.
 */
export async function localToken(tokens: TokenService, held: string | undefined, logger: Logger): Promise<LocalToken> {
  let token: string | undefined;
  let created: string | undefined;
  if (held !== undefined) {
    try {
      await tokens.verify(held);
      token = held;
    } catch (err) {
      if (err instanceof PaiError && err.code === 'store_unavailable') throw err;
    }
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
