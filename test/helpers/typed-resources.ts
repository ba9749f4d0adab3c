/** Typed, already-valid resources for the pure resource suites (references, resolution). */
import type { Agent, ModelProvider, Provider } from '../../src/resources/types.js';

export const mp = (name: string, spec: ModelProvider['spec']): ModelProvider => ({
  apiVersion: 'pai.io/v1',
  kind: 'ModelProvider',
  metadata: { name },
  spec,
});

export const provider = (name: string, spec: Provider['spec']): Provider => ({
  apiVersion: 'pai.io/v1',
  kind: 'Provider',
  metadata: { name },
  spec,
});

export const agent = (name: string, spec: Agent['spec']): Agent => ({
  apiVersion: 'pai.io/v1',
  kind: 'Agent',
  metadata: { name },
  spec,
});
