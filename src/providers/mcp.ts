/**
 * mcp: a remote MCP server (`mcp.transport: sse`, the default, at `mcp.url`) gets Bearer on the
 * host of its URL; a stdio server (`mcp.command`) runs inside the agent and takes no credential,
 * so it has no `auth` and no host.
 */
import { fieldPath, type Problems } from '../resources/fields.js';
import type { ProviderSpec } from '../resources/types.js';
import { BEARER, coveredHosts, secretKeyOf } from './common.js';
import type { ProviderTypeDef } from './types.js';
import { mcpAction } from './mcp-actions.js';

const isStdio = (spec: ProviderSpec): boolean => spec.mcp?.transport === 'stdio';

/** url for sse, command for stdio; a stdio server takes no auth or host. */
function checkTransport(spec: ProviderSpec, problems: Problems): void {
  const at = (field: string) => fieldPath('spec.mcp', field);
  if (spec.mcp === undefined) {
    problems.add('spec.mcp', 'required for type mcp (mcp.url for an sse server, mcp.command for stdio)');
    return;
  }
  if (isStdio(spec)) {
    if (spec.mcp.command === undefined) problems.add(at('command'), 'required with transport stdio');
    if (spec.mcp.url !== undefined) problems.add(at('url'), 'not used with transport stdio');
    if (spec.auth !== undefined) problems.add('spec.auth', 'not used with transport stdio (the server runs in the agent)');
    if (spec.host !== undefined) problems.add('spec.host', 'not used with transport stdio');
    return;
  }
  if (spec.mcp.url === undefined) problems.add(at('url'), 'required with transport sse');
  if (spec.mcp.command !== undefined) problems.add(at('command'), 'only with transport stdio');
  if (spec.auth === undefined) problems.add('spec.auth', 'required with transport sse');
}

export const mcp: ProviderTypeDef = {
  type: 'mcp',
  // Tool names: allowed exactly, denied case-insensitively; the tool is in the JSON-RPC body.
  policy: { type: 'mcp', resolver: mcpAction, exactAllow: true, toolPolicy: true, bodyMatters: (decides) => decides },
  authTypes: ['api-key'],
  authOptions: ['secretKey'],
  scopeFields: [],
  configFields: [],
  defaultSecretKey: 'token',
  defaultHosts: [],
  authOptional: isStdio,
  check: checkTransport,
  secretKeys: (spec) =>
    spec.auth === undefined
      ? { requiredKeys: [], optionalKeys: [] }
      : { requiredKeys: [secretKeyOf(spec, 'token')], optionalKeys: [] },
  targets: (p) => {
    if (isStdio(p.spec) || p.spec.auth === undefined) return [];
    const url = p.spec.mcp?.url;
    const hosts = coveredHosts(p, url === undefined ? [] : [new URL(url).hostname]);
    return [{ hosts, auth: { strategy: 'header', header: 'authorization', prefix: BEARER, key: secretKeyOf(p.spec, 'token') } }];
  },
};
