/**
 * What the Process suites (injector-ext-proc, injector-ext-proc-flows) share: one injector with the
 * header fixture and the cloud token servers, the answers they expect (a pass, a denial as an
 * ImmediateResponse with the error table's status, JSON body and reason header), and the check that
 * no secret value appears in a response but where it is expected.
 */
import type { ExecutionContext } from 'ava';
import type { ExternalProcessorClient } from '../../src/generated/envoy/service/ext_proc/v3/ExternalProcessor.js';
import type { ProcessingResponse__Output } from '../../src/generated/envoy/service/ext_proc/v3/ProcessingResponse.js';
import { findCanary, makeCanary } from './canary.js';
import { extProcClient } from './ext-proc-filter.js';
import { type Stack, startStack } from './injector.js';
import { type Fixture, seedFixture } from './injector-fixture.js';
import { type CloudFixture, startCloudServers } from './token-servers.js';

export interface ProcessSuite {
  stack: Stack;
  fx: Fixture;
  cloud: CloudFixture;
  client: ExternalProcessorClient;
}

/** The signed-body limit the suites' injector runs with (PAI_MAX_SIGNED_BODY). */
export const MAX_BODY = 64 * 1024;

/** Starts the injector (64 KiB signed-body limit, 3 s token timeout), seeds both fixtures, opens a Process client. */
export async function startProcessSuite(): Promise<ProcessSuite> {
  const servers = await startCloudServers(makeCanary);
  const stack = await startStack({
    env: { PAI_MAX_SIGNED_BODY: '64Ki', PAI_TOKEN_TIMEOUT: '3s', PAI_ALLOWED_TOKEN_URLS: servers.allowedTokenUrls },
  });
  const fx = await seedFixture(stack, makeCanary);
  const cloud = await servers.seed(stack.admin);
  return { stack, fx, cloud, client: extProcClient(stack.injector) };
}

/** Closes whatever of a suite was started. */
export async function stopProcessSuite(suite: Partial<ProcessSuite> | undefined): Promise<void> {
  suite?.client?.close();
  await suite?.cloud?.close();
  await suite?.stack?.close();
}

/** The headers the injector removes from every request it injects into. */
export const CREDENTIAL_HEADERS = ['authorization', 'x-api-key', 'x-goog-api-key', 'api-key', 'proxy-authorization'];

/** The answer to request headers that changes nothing. */
export const PASS: ProcessingResponse__Output = {
  request_headers: { response: { status: 'CONTINUE' } },
  response: 'request_headers',
};

export interface ExpectedDenial {
  /** The envoy.type.v3.StatusCode name, e.g. `Forbidden`. */
  readonly http: string;
  readonly code: string;
  readonly message?: RegExp;
}

/** Asserts that `res` is the ImmediateResponse denial `row` describes (nothing is forwarded). */
export function assertImmediateDenial<C>(t: ExecutionContext<C>, res: ProcessingResponse__Output, row: ExpectedDenial): void {
  t.is(res.response, 'immediate_response', 'an ImmediateResponse, so nothing is forwarded');
  const im = res.immediate_response;
  t.deepEqual(im?.status, { code: row.http });
  t.deepEqual(im?.headers, {
    set_headers: [
      {
        header: { key: 'content-type', raw_value: Buffer.from('application/json') },
        append: { value: false },
        append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
      },
      {
        header: { key: 'x-pai-deny-reason', raw_value: Buffer.from(row.code) },
        append: { value: false },
        append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
      },
    ],
  });
  t.is(im?.details, `pai_${row.code}`);
  const body = JSON.parse(Buffer.from(im?.body ?? Buffer.alloc(0)).toString('utf8')) as {
    error: { code: string; message: string };
  };
  t.is(body.error.code, row.code);
  if (row.message) t.regex(body.error.message, row.message);
}

/** Asserts that none of `values` (but those in `except`) appears in `res`, its bytes read as latin1. */
export function assertNoValueIn<C>(
  t: ExecutionContext<C>,
  res: unknown,
  values: readonly string[],
  except: readonly string[] = [],
): void {
  const seen = JSON.stringify(res, (_k, v: unknown) =>
    v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer'
      ? Buffer.from((v as { data: number[] }).data).toString('latin1')
      : v,
  );
  for (const value of values) {
    if (except.includes(value)) continue;
    t.deepEqual(findCanary(seen, value), [], 'no secret value in the response');
  }
}
