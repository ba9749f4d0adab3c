/**
 * azure: a service principal (client_id, client_secret; tenant from `config.tenantId`, or a
 * `tenant_id` key in the secret as before) → client-credentials token → Bearer. Each Azure
 * service takes a token for its own audience, so `config.services` picks hosts and scopes per
 * service (arm, the default: management.azure.com; storage; keyvault; graph). Credential-minting
 * calls get no token unless `config.services` names them: Microsoft Graph (`graph`: it adds
 * passwords and keys to applications) and ARM's key- and secret-listing actions (`listkeys`:
 * POST …/listKeys, regenerateKey, listAccountSas, …). An explicit `auth.scope` applies to all.
 */
import { fieldPath, type Problems } from '../resources/fields.js';
import type { Provider, ProviderSpec } from '../resources/types.js';
import { coveredHosts, namesHosts } from './common.js';
import { type RequestGate, withheld } from './gate.js';
import type { KeySet, ProviderTypeDef, TargetPart } from './types.js';
import { azureWordProblem } from './action-words.js';
import { azureAction } from './azure-actions.js';

export const AZURE_DEFAULT_SCOPE = 'https://management.azure.com/.default';

interface AzureService {
  readonly hosts: readonly string[];
  readonly scope: string;
}

/** The services `config.services` may name, with their hosts and token audience. */
export const AZURE_SERVICES: Readonly<Record<string, AzureService>> = {
  arm: { hosts: ['management.azure.com'], scope: AZURE_DEFAULT_SCOPE },
  storage: {
    hosts: [
      '*.blob.core.windows.net',
      '*.queue.core.windows.net',
      '*.table.core.windows.net',
      '*.file.core.windows.net',
      '*.dfs.core.windows.net',
    ],
    scope: 'https://storage.azure.com/.default',
  },
  keyvault: { hosts: ['*.vault.azure.net'], scope: 'https://vault.azure.net/.default' },
  graph: { hosts: ['graph.microsoft.com'], scope: 'https://graph.microsoft.com/.default' },
  // Not a host of its own: allows ARM's key- and secret-listing actions (see armKeysGate).
  listkeys: { hosts: [], scope: AZURE_DEFAULT_SCOPE },
};

/** ARM actions that return or create keys, secrets, SAS tokens or publishing credentials. */
const ARM_MINTING_ACTION =
  /\/(listkeys|regeneratekey|regeneratekeys|listaccountsas|listservicesas|listcredentials?|listsecrets|listconnectionstrings|listkeyvalue|listadminkeys|listquerykeys|listclusteradmincredential|listclusterusercredential|listpublishingcredentials|generatekey|gettoken|generatetoken)$/;

function armKeysGate(provider: string): RequestGate {
  return ({ host, method, path }) => {
    if (host !== 'management.azure.com' || method.toUpperCase() !== 'POST') return undefined;
    const q = path.indexOf('?');
    const bare = (q === -1 ? path : path.slice(0, q)).toLowerCase().replace(/\/+$/, '');
    if (!ARM_MINTING_ACTION.test(bare)) return undefined;
    return withheld(
      provider,
      'credential_minting',
      'this ARM action returns keys or secrets; list listkeys in config.services to allow it',
    );
  };
}

function azureKeys(spec: ProviderSpec): KeySet {
  const tenant = spec.config?.tenantId === undefined ? ['tenant_id'] : [];
  return { requiredKeys: ['client_id', 'client_secret', ...tenant], optionalKeys: [] };
}

function checkServices(spec: ProviderSpec, problems: Problems): void {
  (spec.config?.services ?? []).forEach((s, i) => {
    if (AZURE_SERVICES[s] === undefined) {
      problems.add(
        fieldPath('spec.config.services', i),
        `must be one of ${Object.keys(AZURE_SERVICES).join(', ')} for type azure`,
      );
    }
  });
}

function azureTargets(p: Provider): TargetPart[] {
  const a = p.spec.auth;
  const tokenUrl = a?.tokenUrl === undefined ? {} : { tokenUrl: a.tokenUrl };
  const tenantId = p.spec.config?.tenantId === undefined ? {} : { tenantId: p.spec.config.tenantId };
  const services = p.spec.config?.services ?? ['arm'];
  const gate = services.includes('listkeys') ? undefined : armKeysGate(p.metadata.name);
  const strategy = (scope: string) => ({ strategy: 'azure', scope: a?.scope ?? scope, ...tokenUrl, ...tenantId }) as const;
  if (namesHosts(p.spec)) return [{ hosts: coveredHosts(p, []), auth: strategy(AZURE_DEFAULT_SCOPE), ...(gate ? { gate } : {}) }];
  const bound = services.map((s) => AZURE_SERVICES[s]).filter((s): s is AzureService => s !== undefined && s.hosts.length > 0);
  // `listkeys` alone widens ARM; it does not stand for a host of its own.
  const parts =
    bound.length > 0 ? bound : [AZURE_SERVICES['arm'] ?? { hosts: ['management.azure.com'], scope: AZURE_DEFAULT_SCOPE }];
  return parts.map((s) => ({ hosts: s.hosts, auth: strategy(s.scope), ...(gate ? { gate } : {}) }));
}

export const azure: ProviderTypeDef = {
  type: 'azure',
  policy: {
    type: 'azure',
    resolver: azureAction,
    scope: { field: 'resources', options: { caseInsensitive: true, questionMark: true } },
    bodyMatters: () => false,
  },
  authTypes: ['azure-client-credentials'],
  authOptions: ['scope', 'tokenUrl'],
  scopeFields: ['resources'],
  actionWordProblem: azureWordProblem,
  configFields: ['tenantId', 'region', 'services'],
  defaultSecretKey: 'client_id',
  fixedKeys: 'the secret holds client_id and client_secret (and tenant_id unless config.tenantId is set)',
  defaultHosts: ['management.azure.com'],
  check: checkServices,
  secretKeys: azureKeys,
  targets: azureTargets,
};
