/** slack: a bot (or user) token as Bearer on slack.com's Web API (`/api/<method>`). */
import { BEARER, coveredHosts, secretKeyOf } from './common.js';
import type { ProviderTypeDef } from './types.js';
import { slackWordProblem } from './action-words.js';
import { slackAction } from './slack-actions.js';

export const slack: ProviderTypeDef = {
  type: 'slack',
  // Channels are named with or without Slack's leading '#'; the channel argument may be in the body.
  policy: {
    type: 'slack',
    resolver: slackAction,
    scope: { field: 'channels', options: { caseInsensitive: true }, prepare: (s) => (s.startsWith('#') ? s.slice(1) : s) },
    bodyMatters: (_decides, hasScope) => hasScope,
  },
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
