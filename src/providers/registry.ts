/**
 * The Provider type registry: one entry per `spec.type`, each in its own file. Validation,
 * defaults, reference checks and the injector read everything type-specific from here.
 */
import type { ProviderType } from '../resources/types.js';
import { aws } from './aws.js';
import { azure } from './azure.js';
import { gcp } from './gcp.js';
import { github } from './github.js';
import { httpToken } from './http-token.js';
import { mcp } from './mcp.js';
import { slack } from './slack.js';
import { telegram } from './telegram.js';
import type { ProviderTypeDef } from './types.js';

export const PROVIDER_REGISTRY: Readonly<Record<ProviderType, ProviderTypeDef>> = {
  github,
  telegram,
  slack,
  aws,
  gcp,
  azure,
  'http-token': httpToken,
  mcp,
};

/** The registry entry of `type`. */
export function providerType(type: ProviderType): ProviderTypeDef {
  return PROVIDER_REGISTRY[type];
}
