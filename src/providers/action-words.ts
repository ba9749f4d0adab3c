/**
 * The shapes of `policy.allow/deny` words per type (PAI.md "Actions"), so a misspelt word is an
 * error naming the field rather than a rule that silently never matches. Pure.
 */
import { closest } from '../resources/fields.js';

/** GitHub's action words (Pai's documented list). */
export const GITHUB_ACTIONS = [
  'contents:read',
  'contents:write',
  'pulls:read',
  'pulls:create',
  'pulls:comment',
  'pulls:update',
  'issues:read',
  'issues:create',
  'issues:comment',
  'repo:read',
  'repo:delete',
  'org:read',
  'org:update',
  'admin:collaborators',
] as const;

const GITHUB_GROUPS = [...new Set(GITHUB_ACTIONS.map((a) => `${a.slice(0, a.indexOf(':'))}:*`))];

/** GitHub: one of the documented words, a `group:*`, or `*`. */
export function githubWordProblem(word: string): string | undefined {
  if (word === '*' || (GITHUB_ACTIONS as readonly string[]).includes(word) || GITHUB_GROUPS.includes(word)) return undefined;
  const near = closest(word, [...GITHUB_ACTIONS, ...GITHUB_GROUPS]);
  return `is not a GitHub action (${near === undefined ? `one of ${GITHUB_ACTIONS.join(', ')}, a group such as admin:*, or *` : `did you mean "${near}"?`})`;
}

/** A word checked by a pattern, with the expected form in the message. */
function shaped(pattern: RegExp, form: string): (word: string) => string | undefined {
  return (word) => (word === '*' || pattern.test(word) ? undefined : `must be ${form}, or *`);
}

/** Telegram Bot API method names (sendMessage), compared case-insensitively. */
export const telegramWordProblem = shaped(/^[A-Za-z][A-Za-z0-9]{0,63}$/, 'a Bot API method name such as sendMessage');
/** Slack Web API methods (chat.postMessage) or a family (chat.*). */
export const slackWordProblem = shaped(
  /^[a-z][a-zA-Z]*(\.[a-zA-Z]+)*(\.\*)?$/,
  'a Web API method such as chat.postMessage, or a family such as chat.*',
);
/** IAM actions: service:Action, with * wildcards in the action. */
export const awsWordProblem = shaped(/^[a-z0-9-]{1,64}:[A-Za-z0-9*]{1,128}$/, 'an IAM action such as s3:GetObject or s3:*');
/** GCP IAM permissions: service.resource.verb, with * for a whole part. */
export const gcpWordProblem = shaped(
  /^[a-z][a-zA-Z0-9]*(\.([a-zA-Z][a-zA-Z0-9]*|\*)){1,3}$/,
  'a GCP permission such as storage.objects.get',
);
/** Azure RBAC operations: Microsoft.X/…/read|write|delete|action, with * segments. */
export const azureWordProblem = shaped(
  /^Microsoft\.[A-Za-z0-9]+(\/([A-Za-z0-9.]+|\*)){1,12}$/,
  'an Azure operation such as Microsoft.Storage/storageAccounts/read',
);
