/**
 * Helpers for the Vault store tests: a VaultConfig for a test double, and a fake clock shared by
 * the store and the double (token TTLs move when the test says so, not with wall time).
 */
import type { VaultConfig } from '../../src/config.js';
import type { VaultDouble } from './server.js';

/** A VaultConfig pointing at `double`, token auth unless `overrides` say otherwise. */
export function vaultConfig(double: VaultDouble, overrides: Partial<VaultConfig> = {}): VaultConfig {
  return {
    addr: double.addr,
    namespace: undefined,
    caCertFile: undefined,
    mount: 'pai',
    auth: 'token',
    token: double.rootToken,
    role: undefined,
    kubernetesJwtPath: '/nonexistent/token',
    kubernetesAuthMount: 'kubernetes',
    approleRoleId: undefined,
    approleSecretIdFile: undefined,
    approleAuthMount: 'approle',
    // Generous, so that a loaded test machine does not turn into time-outs; fault tests set their own.
    requestTimeoutMs: 5000,
    retryBudgetMs: 10_000,
    ...overrides,
  };
}

export interface FakeClock {
  readonly now: () => number;
  advance(ms: number): void;
}

/** A clock that starts at the real time and moves only by `advance`. */
export function fakeClock(): FakeClock {
  let t = Date.now();
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}
