/**
 * GitHub action resolver: Pai's action words for the REST API (`/repos/{o}/{r}/…`, `/orgs/{org}/…`)
 * and for git smart-HTTP on github.com. Resource: `owner/repo` as sent (scope compares it
 * case-insensitively). Fixed path words compare case-insensitively, so a differently cased copy
 * is classified like the original rather than slipping past a deny. Beyond Pai's 14 words this
 * resolver uses `issues:update` and the `admin:*` family (docs/POLICY.md lists them all).
 */
import { queryValues } from '../policy/path.js';
import { refused, resolved } from '../policy/request.js';
import type { PolicyRequest, ResolvedAction } from '../policy/request.js';
import { isRead, isWrite, lookAlikeProblem, pathSegments } from './segments.js';

type Seg = string | undefined;
const low = (s: Seg): string => (s ?? '').toLowerCase();

// Repository sections whose reads are contents:read and whose writes are contents:write
// (GitHub's "Contents" permission: files, git database, commits, branches, tags, releases, merges).
const CONTENTS = new Set([
  'contents',
  'readme',
  'tarball',
  'zipball',
  'git',
  'commits',
  'compare',
  'branches',
  'tags',
  'releases',
  'merges',
  'merge-upstream',
  'dispatches',
]);
// Repository metadata, read-only: repo:read.
const METADATA = new Set([
  'languages',
  'topics',
  'contributors',
  'stargazers',
  'subscribers',
  'forks',
  'teams',
  'collaborators',
  'invitations',
]);
// Sections that need admin rights on GitHub, whatever the method.
const ADMIN: ReadonlyMap<string, string> = new Map([
  ['hooks', 'admin:hooks'],
  ['keys', 'admin:keys'],
  ['rulesets', 'admin:protection'],
]);

function pullsAction(method: string, rest: readonly string[]): string | undefined {
  if (isRead(method)) return 'pulls:read';
  if (!isWrite(method)) return undefined;
  const [, n, sub, , tail] = rest.map((s) => s.toLowerCase());
  if (n === undefined) return method === 'POST' ? 'pulls:create' : 'pulls:update';
  if (n === 'comments') return 'pulls:comment'; // edit/delete/react to a review comment
  if (sub === undefined) return 'pulls:update';
  if (sub === 'merge') return 'contents:write';
  if (sub === 'comments') return 'pulls:comment';
  if (sub === 'reviews') return tail === 'dismissals' ? 'pulls:update' : 'pulls:comment';
  return 'pulls:update'; // update-branch, requested_reviewers, and anything new
}

function issuesAction(method: string, rest: readonly string[]): string | undefined {
  if (isRead(method)) return 'issues:read';
  if (!isWrite(method)) return undefined;
  const [, n, sub] = rest.map((s) => s.toLowerCase());
  if (n === undefined) return method === 'POST' ? 'issues:create' : 'issues:update';
  // On GitHub a pull request is also an issue: /issues/{n}/comments on a PR number is a PR
  // conversation comment. The path alone cannot tell; it is issues:comment.
  if (n === 'comments' || sub === 'comments' || sub === 'reactions') return 'issues:comment';
  return 'issues:update'; // edit, close, labels, assignees, lock
}

function sectionAction(method: string, rest: readonly string[]): string | undefined {
  const section = low(rest[0]);
  const admin = ADMIN.get(section);
  if (admin !== undefined) return admin;
  if (section === 'pulls') return pullsAction(method, rest);
  if (section === 'issues') return issuesAction(method, rest);
  if (section === 'labels' || section === 'milestones')
    return isRead(method) ? 'issues:read' : isWrite(method) ? 'issues:update' : undefined;
  if (section === 'actions' || section === 'environments') {
    const secretish = rest.some((s, i) => i > 0 && (low(s) === 'secrets' || low(s) === 'variables'));
    return secretish ? 'admin:secrets' : undefined;
  }
  if (section === 'branches' && rest.some((s) => low(s) === 'protection')) return 'admin:protection';
  if (section === 'transfer') return isWrite(method) ? 'admin:repo' : undefined;
  if (section === 'collaborators' || section === 'invitations') {
    if (isWrite(method)) return 'admin:collaborators';
  }
  if (CONTENTS.has(section)) return isRead(method) ? 'contents:read' : isWrite(method) ? 'contents:write' : undefined;
  if (METADATA.has(section) && isRead(method)) return 'repo:read';
  return undefined;
}

function repoAction(method: string, segs: readonly string[]): ResolvedAction {
  const [, owner, repo, ...rest] = segs;
  if (owner === undefined || repo === undefined) return resolved();
  const resource = `${owner}/${repo}`;
  if (rest.length === 0) {
    if (isRead(method)) return resolved('repo:read', resource);
    if (method === 'DELETE') return resolved('repo:delete', resource);
    // Rename, visibility, archive, default branch: GitHub asks for admin rights.
    if (method === 'PATCH') return resolved('admin:repo', resource);
    return resolved(undefined, resource);
  }
  return resolved(sectionAction(method, rest), resource);
}

function orgAction(method: string, segs: readonly string[]): ResolvedAction {
  const rest = segs.slice(2);
  if (segs[1] === undefined) return resolved();
  const section = low(rest[0]);
  if (section === 'hooks') return resolved('admin:hooks');
  if (section === 'actions' && rest.some((s) => low(s) === 'secrets' || low(s) === 'variables')) return resolved('admin:secrets');
  if (isRead(method)) return resolved('org:read');
  if (isWrite(method)) return resolved('org:update');
  return resolved();
}

// Git smart-HTTP (github.com/{o}/{r}[.git]/…): the service decides read or write.
function gitAction(req: PolicyRequest, segs: readonly string[]): ResolvedAction {
  const [owner, rawRepo, a, b, extra] = segs;
  if (owner === undefined || rawRepo === undefined || a === undefined || extra !== undefined) return resolved();
  const repo = low(rawRepo).endsWith('.git') ? rawRepo.slice(0, -4) : rawRepo;
  const resource = `${owner}/${repo}`;
  if (b === undefined) {
    if (low(a) === 'git-upload-pack') return resolved('contents:read', resource);
    if (low(a) === 'git-receive-pack') return resolved('contents:write', resource);
    return resolved();
  }
  if (low(a) !== 'info' || low(b) !== 'refs') return low(a) === 'info' ? resolved(undefined, resource) : resolved();
  const services = queryValues(req.query, 'service');
  if (services.length > 1) return refused('bad_request', 'git info/refs: more than one "service" parameter');
  const service = services[0];
  if (service === undefined || service === 'git-upload-pack') return resolved('contents:read', resource);
  if (service === 'git-receive-pack') return resolved('contents:write', resource);
  return refused('bad_request', 'git info/refs: unknown "service"');
}

/** Action and `owner/repo` resource of a GitHub request; no action for what it does not know (GraphQL, /user, …). */
export function githubAction(req: PolicyRequest): ResolvedAction {
  const lookAlike = lookAlikeProblem(req.path);
  if (lookAlike !== undefined) return refused('bad_request', lookAlike);
  const segs = pathSegments(req.path);
  if (req.host === 'github.com') return gitAction(req, segs);
  const first = low(segs[0]);
  if (first === 'repos') return repoAction(req.method, segs);
  if (first === 'orgs') return orgAction(req.method, segs);
  return resolved();
}
