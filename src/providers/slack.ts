/** slack: a bot (or user) token as Bearer on slack.com's Web API (`/api/<method>`). */
import { BEARER, coveredHosts, secretKeyOf } from './common.js';
import type { ProviderTypeDef } from './types.js';
import { slackWordProblem } from './action-words.js';

export const slack: ProviderTypeDef = {
  type: 'slack',
  authTypes: ['bot-token', 'token'],
  authOptions: ['secretKey'],
  scopeFields: ['channels'],
  actionWordProblem: slackWordProblem,
  configFields: [],
  defaultSecretKey: 'token',
  defaultHosts: ['slack.com'],
  secretKeys: (spec) => ({ requiredKeys: [secretKeyOf(spec, 'token')], optionalKeys: [] }),
  targets: (p) => [
    {
      hosts: coveredHosts(p, ['slack.com']),
      auth: { strategy: 'header', header: 'authorization', prefix: BEARER, key: secretKeyOf(p.spec, 'token') },
    },
  ],
};
