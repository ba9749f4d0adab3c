/**
 * Telegram action resolver: the Bot API method after `/bot<token>/`. The token segment is whatever
 * the agent sent (the real token, a placeholder, or nothing: `/bot/<method>`). Telegram reads
 * method names case-insensitively, so the policy compares them that way (see compile.ts); here a
 * method must be letters only: a trailing `/`, `;`, further segments or other characters are
 * refused as look-alikes. File downloads (`/file/bot<token>/<path>`) resolve to `getFile`, the
 * method that hands out their paths. No resource: Pai has no Telegram scope.
 */
import { refused, resolved } from '../policy/request.js';
import type { PolicyRequest, ResolvedAction } from '../policy/request.js';
import { pathSegments } from './segments.js';

const TOKEN_SEGMENT = /^bot[A-Za-z0-9:_-]*$/i;
const METHOD = /^[A-Za-z]+$/;

/** The Bot API method of a Telegram request; refused for look-alikes, no action off the Bot API paths. */
export function telegramAction(req: PolicyRequest): ResolvedAction {
  const segs = pathSegments(req.path);
  const [first, second] = segs;
  if (first !== undefined && first.toLowerCase() === 'file') {
    if (second === undefined || !TOKEN_SEGMENT.test(second)) return resolved();
    return segs.length >= 3 && segs[2] !== '' ? resolved('getFile') : refused('bad_request', 'Telegram: no file path');
  }
  if (first === undefined || !TOKEN_SEGMENT.test(first)) {
    // `/bot…` that is not a token segment (`/bot#x`, `/bot;x`) is a look-alike, not "another API".
    return first !== undefined && first.toLowerCase().startsWith('bot')
      ? refused('bad_request', 'Telegram: malformed /bot<token> segment')
      : resolved();
  }
  if (segs.length !== 2 || second === undefined || !METHOD.test(second)) {
    return refused('bad_request', 'Telegram: the path must be /bot<token>/<method>, the method letters only');
  }
  return resolved(second);
}
