/**
 * The Provider type registry: one entry per `spec.type`, each in its own file. Validation,
 * defaults, reference checks and the injector read everything type-specific from here.
 */
import { type CompiledPolicy, compilePolicy } from '../policy/compile.js';
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

/**
 * The compiled policy of a Provider of `type` (compilePolicy with the type's traits), or undefined
 * when it has neither `policy` nor `scope`. Throws PaiError `invalid` naming the field.
 */
export function compileProviderPolicy(
  type: ProviderType,
  blocks: Parameters<typeof compilePolicy>[1],
): CompiledPolicy | undefined {
  return compilePolicy(PROVIDER_REGISTRY[type].policy, blocks);
}
