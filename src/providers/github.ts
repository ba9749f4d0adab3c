/**
 * github: a PAT. Bearer on the API hosts; on git smart-HTTP paths (clone, fetch, push) Basic
 * `x-access-token:<token>`, which is what git sends and GitHub documents for tokens. Default hosts
 * api.github.com, uploads.github.com and github.com, where only the git paths get the token (the
 * web pages need none). A Provider naming its own host (GitHub Enterprise) gets Bearer on API
 * paths and Basic on git paths of that host.
 */
import { isGitSmartHttp } from '../inject/strategies.js';
import { coveredHosts, namesHosts, secretKeyOf } from './common.js';
import type { ProviderTypeDef } from './types.js';
import { githubWordProblem } from './action-words.js';
import { githubAction } from './github-actions.js';

/** The host whose only credentialed paths are git's (the default github.com). */
export const GITHUB_GIT_HOST = 'github.com';
export const GITHUB_DEFAULT_HOSTS = ['api.github.com', 'uploads.github.com', GITHUB_GIT_HOST] as const;

export const github: ProviderTypeDef = {
  type: 'github',
  policy: {
    type: 'github',
    resolver: githubAction,
    scope: { field: 'repositories', options: { caseInsensitive: true } },
    bodyMatters: () => false,
  },
  authTypes: ['pat'],
  authOptions: ['secretKey'],
  scopeFields: ['repositories'],
  actionWordProblem: githubWordProblem,
  configFields: [],
  defaultSecretKey: 'token',
  defaultHosts: GITHUB_DEFAULT_HOSTS,
  secretKeys: (spec) => ({ requiredKeys: [secretKeyOf(spec, 'token')], optionalKeys: [] }),
  targets: (p) => {
    const gitOnlyHosts = namesHosts(p.spec) ? [] : [GITHUB_GIT_HOST];
    return [
      {
        hosts: coveredHosts(p, GITHUB_DEFAULT_HOSTS),
        auth: { strategy: 'github', key: secretKeyOf(p.spec, 'token'), gitOnlyHosts },
        // github.com's web pages get no token (githubMutation), so the policy has nothing to govern there.
        ...(gitOnlyHosts.length === 0
          ? {}
          : { credentialFree: (host: string, path: string) => gitOnlyHosts.includes(host) && !isGitSmartHttp(path) }),
      },
    ];
  },
};
