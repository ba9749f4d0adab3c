/**
 * telegram: the bot token goes into the path (`/bot<token>/<method>`, `/file/bot<token>/…`), which
 * needs ext_proc. The agent calls `/bot/<method>`, or `/bot<placeholder>/<method>` when its library
 * builds the path from the `auth.agentEnvVar` placeholder it was given.
 */
import { coveredHosts, secretKeyOf } from './common.js';
import { placeholderFor } from './placeholder.js';
import type { ProviderTypeDef } from './types.js';
import { telegramWordProblem } from './action-words.js';
import { telegramAction } from './telegram-actions.js';

export const telegram: ProviderTypeDef = {
  type: 'telegram',
  policy: { type: 'telegram', resolver: telegramAction, bodyMatters: () => false },
  authTypes: ['bot-token', 'token'],
  authOptions: ['secretKey'],
  scopeFields: [],
  actionWordProblem: telegramWordProblem,
  configFields: [],
  defaultSecretKey: 'token',
  defaultHosts: ['api.telegram.org'],
  secretKeys: (spec) => ({ requiredKeys: [secretKeyOf(spec, 'token')], optionalKeys: [] }),
  targets: (p) => [
    {
      hosts: coveredHosts(p, ['api.telegram.org']),
      auth: {
        strategy: 'telegram',
        key: secretKeyOf(p.spec, 'token'),
        ...(p.spec.auth?.agentEnvVar === undefined ? {} : { placeholder: placeholderFor(p) }),
      },
    },
  ],
};
