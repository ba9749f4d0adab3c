/**
 * Assertions on the injector's ext_proc answers, shared by the Process suites: a denial is an
 * ImmediateResponse with the error table's status, a JSON body and the reason header; no secret
 * value appears anywhere in a response but where it is expected.
 */
import type { ExecutionContext } from 'ava';
import type { ProcessingResponse__Output } from '../../src/generated/envoy/service/ext_proc/v3/ProcessingResponse.js';
import { findCanary } from './canary.js';

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
