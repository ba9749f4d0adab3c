/**
 * Shared by the resources suites (admin API, env rendering, canary): what the admin API lists of
 * every secret and resource (the "nothing changed" witness), the audit log as records, and the
 * assertion of an error response `{"error": {"code", "message", …details}}`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { type ApiResult, api } from './api.js';

/** The collections the admin API lists. */
export const COLLECTIONS = ['secrets', 'modelproviders', 'providers', 'agents'] as const;

/** Every secret and resource as the API lists it (names, keys, specs, versions, times). Throws unless each list answers 200. */
export async function resourceState(baseUrl: string, token: string): Promise<Record<string, unknown>> {
  const state: Record<string, unknown> = {};
  for (const collection of COLLECTIONS) {
    const res = await api(baseUrl, token, 'GET', `/v1/${collection}`);
    if (res.status !== 200) throw new Error(`GET /v1/${collection} answered ${res.status}: ${res.text}`);
    state[collection] = res.json.items;
  }
  return state;
}

/** One line of the audit log. */
export interface AuditRecord {
  readonly time: string;
  readonly actor: { readonly tokenId: string; readonly role: string };
  readonly action: string;
  readonly kind?: string;
  readonly name?: string;
  readonly keys?: readonly string[];
  readonly outcome: 'ok' | 'error';
  readonly code?: string;
  readonly detail?: Record<string, unknown>;
}

/** The audit log of a data dir (`audit.log`), one record per line; empty when there is none yet. */
export function auditRecords(dataDir: string): AuditRecord[] {
  const file = path.join(dataDir, 'audit.log');
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as AuditRecord);
}

/** Asserts an error response: status, JSON content type, the code, a message (matching `message` when given). */
export function assertApiError(t: ExecutionContext, res: ApiResult, status: number, code: string, message?: RegExp): void {
  t.is(res.status, status, res.text);
  t.regex(res.headers.get('content-type') ?? '', /^application\/json/);
  t.is(res.json?.error?.code, code, res.text);
  t.is(typeof res.json?.error?.message, 'string');
  if (message) t.regex(String(res.json?.error?.message), message);
}
