import test from 'ava';
import { githubAction } from '../src/providers/github-actions.js';
import { describeAction, policyRequest } from './helpers/policy.js';
import type { ActionRow } from './helpers/policy.js';

const API = 'api.github.com';
const GIT = 'github.com';
const none = {};

// Look-alikes first: refused whatever the policy.
const refusals: [string, string, string, string][] = [
  [API, 'DELETE', '/repos/o/r/', 'refused bad_request'],
  [API, 'GET', '/repos/o/r/pulls/', 'refused bad_request'],
  [API, 'DELETE', '/repos/o/r;x', 'refused bad_request'],
  [API, 'POST', '/repos/o/r/pulls;jsessionid=1', 'refused bad_request'],
  [GIT, 'POST', '/o/r/git-receive-pack/', 'refused bad_request'],
  [GIT, 'GET', '/o/r.git/info/refs?service=git-receive-pack&service=git-upload-pack', 'refused bad_request'],
  [GIT, 'GET', '/o/r.git/info/refs?service=git-evil-pack', 'refused bad_request'],
];
for (const [host, method, path, expected] of refusals) {
  test(`github refuses ${method} ${host}${path}`, (t) => {
    t.is(describeAction(githubAction(policyRequest(host, method, path))), expected);
  });
}

// Every one of Pai's 14 words, and the added ones, reachable; unknowns resolve to no action.
const rows: ActionRow[] = [
  ['GET', '/repos/o/r/contents/README.md', none, 'contents:read @ o/r'],
  ['GET', '/repos/o/r/git/trees/main?recursive=1', none, 'contents:read @ o/r'],
  ['GET', '/repos/o/r/tarball/main', none, 'contents:read @ o/r'],
  ['PUT', '/repos/o/r/contents/a.txt', none, 'contents:write @ o/r'],
  ['DELETE', '/repos/o/r/contents/a.txt', none, 'contents:write @ o/r'],
  ['POST', '/repos/o/r/git/refs', none, 'contents:write @ o/r'],
  ['POST', '/repos/o/r/releases', none, 'contents:write @ o/r'],
  ['PUT', '/repos/o/r/pulls/3/merge', none, 'contents:write @ o/r'],
  ['GET', '/repos/o/r/pulls', none, 'pulls:read @ o/r'],
  ['GET', '/repos/o/r/pulls/3/files', none, 'pulls:read @ o/r'],
  ['HEAD', '/repos/o/r/pulls/3', none, 'pulls:read @ o/r'],
  ['GET', '/repos/o/r/PULLS', none, 'pulls:read @ o/r'],
  ['POST', '/repos/o/r/pulls', none, 'pulls:create @ o/r'],
  ['POST', '/repos/o/r/Pulls', none, 'pulls:create @ o/r'],
  ['POST', '/repos/o/r/pulls/3/comments', none, 'pulls:comment @ o/r'],
  ['POST', '/repos/o/r/pulls/3/comments/9/replies', none, 'pulls:comment @ o/r'],
  ['PATCH', '/repos/o/r/pulls/comments/9', none, 'pulls:comment @ o/r'],
  ['POST', '/repos/o/r/pulls/3/reviews', none, 'pulls:comment @ o/r'],
  ['PUT', '/repos/o/r/pulls/3/reviews/4/dismissals', none, 'pulls:update @ o/r'],
  ['PATCH', '/repos/o/r/pulls/3', none, 'pulls:update @ o/r'],
  ['POST', '/repos/o/r/pulls/3/requested_reviewers', none, 'pulls:update @ o/r'],
  ['PUT', '/repos/o/r/pulls/3/update-branch', none, 'pulls:update @ o/r'],
  ['GET', '/repos/o/r/issues?state=open', none, 'issues:read @ o/r'],
  ['GET', '/repos/o/r/issues/5/comments', none, 'issues:read @ o/r'],
  ['GET', '/repos/o/r/labels', none, 'issues:read @ o/r'],
  ['POST', '/repos/o/r/issues', none, 'issues:create @ o/r'],
  ['POST', '/repos/o/r/issues/5/comments', none, 'issues:comment @ o/r'],
  ['PATCH', '/repos/o/r/issues/comments/77', none, 'issues:comment @ o/r'],
  ['DELETE', '/repos/o/r/issues/comments/77', none, 'issues:comment @ o/r'],
  ['POST', '/repos/o/r/issues/5/reactions', none, 'issues:comment @ o/r'],
  ['PATCH', '/repos/o/r/issues/5', none, 'issues:update @ o/r'],
  ['POST', '/repos/o/r/issues/5/labels', none, 'issues:update @ o/r'],
  ['PUT', '/repos/o/r/issues/5/lock', none, 'issues:update @ o/r'],
  ['POST', '/repos/o/r/labels', none, 'issues:update @ o/r'],
  ['GET', '/repos/o/r', none, 'repo:read @ o/r'],
  ['GET', '/repos/o/r/languages', none, 'repo:read @ o/r'],
  ['GET', '/repos/o/r/collaborators', none, 'repo:read @ o/r'],
  ['DELETE', '/repos/o/r', none, 'repo:delete @ o/r'],
  ['DELETE', '/repos/O/R', none, 'repo:delete @ O/R'],
  ['PATCH', '/repos/o/r', none, 'admin:repo @ o/r'],
  ['POST', '/repos/o/r/transfer', none, 'admin:repo @ o/r'],
  ['PUT', '/repos/o/r/collaborators/mallory', none, 'admin:collaborators @ o/r'],
  ['DELETE', '/repos/o/r/collaborators/alice', none, 'admin:collaborators @ o/r'],
  ['PATCH', '/repos/o/r/invitations/1', none, 'admin:collaborators @ o/r'],
  ['POST', '/repos/o/r/hooks', none, 'admin:hooks @ o/r'],
  ['GET', '/repos/o/r/hooks', none, 'admin:hooks @ o/r'],
  ['POST', '/repos/o/r/keys', none, 'admin:keys @ o/r'],
  ['PUT', '/repos/o/r/branches/main/protection', none, 'admin:protection @ o/r'],
  ['GET', '/repos/o/r/branches/main', none, 'contents:read @ o/r'],
  ['POST', '/repos/o/r/rulesets', none, 'admin:protection @ o/r'],
  ['PUT', '/repos/o/r/actions/secrets/TOKEN', none, 'admin:secrets @ o/r'],
  ['GET', '/repos/o/r/environments/prod/secrets', none, 'admin:secrets @ o/r'],
  ['GET', '/orgs/acme', none, 'org:read'],
  ['GET', '/orgs/acme/members', none, 'org:read'],
  ['PATCH', '/orgs/acme', none, 'org:update'],
  ['PUT', '/orgs/acme/memberships/mallory', none, 'org:update'],
  ['POST', '/orgs/acme/hooks', none, 'admin:hooks'],
  ['PUT', '/orgs/acme/actions/secrets/X', none, 'admin:secrets'],
  // Unknown repository paths: no action but the repository (scope still applies).
  ['GET', '/repos/o/r/actions/runs', none, '- @ o/r'],
  ['POST', '/repos/o/r/forks', none, '- @ o/r'],
  ['OPTIONS', '/repos/o/r', none, '- @ o/r'],
  // Off the two families: no action, no resource.
  ['POST', '/graphql', none, '-'],
  ['GET', '/user', none, '-'],
  ['GET', '/search/code?q=repo:other/secret', none, '-'],
  ['GET', '/repositories/123/contents/x', none, '-'],
  ['GET', '/repos', none, '-'],
  ['GET', '/', none, '-'],
];
for (const [method, path, options, expected] of rows) {
  test(`github ${method} ${path} → ${expected}`, (t) => {
    t.is(describeAction(githubAction(policyRequest(API, method, path, options))), expected);
  });
}

test('uploads.github.com release assets are contents:write', (t) => {
  const r = githubAction(policyRequest('uploads.github.com', 'POST', '/repos/o/r/releases/1/assets?name=a.zip'));
  t.is(describeAction(r), 'contents:write @ o/r');
});

const gitRows: [string, string, string][] = [
  ['GET', '/o/r.git/info/refs?service=git-upload-pack', 'contents:read @ o/r'],
  ['GET', '/o/r/info/refs?service=git-upload-pack', 'contents:read @ o/r'],
  ['GET', '/o/r.GIT/info/refs?service=git-upload-pack', 'contents:read @ o/r'],
  ['GET', '/o/r.git/info/refs', 'contents:read @ o/r'],
  ['POST', '/o/r.git/git-upload-pack', 'contents:read @ o/r'],
  ['GET', '/o/r.git/info/refs?service=git-receive-pack', 'contents:write @ o/r'],
  ['POST', '/o/r.git/git-receive-pack', 'contents:write @ o/r'],
  ['POST', '/o/r/GIT-RECEIVE-PACK', 'contents:write @ o/r'],
  ['GET', '/o/r.git/info/lfs', '- @ o/r'],
  ['GET', '/o/r', '-'],
  ['GET', '/o/r/pulls', '-'],
  ['GET', '/login', '-'],
];
for (const [method, path, expected] of gitRows) {
  test(`git smart-HTTP ${method} github.com${path} → ${expected}`, (t) => {
    t.is(describeAction(githubAction(policyRequest(GIT, method, path))), expected);
  });
}
