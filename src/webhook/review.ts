/**
 * One AdmissionReview (admission.k8s.io/v1) in, one out. A Pod CREATE naming an agent
 * (`pai.io/agent`, in the request's namespace) is answered with the injection JSONPatch; an
 * already-injected pod, another kind or operation, or a pod naming no agent is allowed unchanged;
 * an unknown agent or a pod that cannot be injected safely is refused with a message saying why.
 */
import { PaiError, toPaiError } from '../errors.js';
import { agentLabel } from '../injector/agents.js';
import { agentIdentity } from '../injector/identity.js';
import type { InjectionOptions } from './containers.js';
import { injectionPatch } from './patch.js';
import type { SidecarPieces } from './pieces.js';
import { AGENT_KEY, alreadyInjected, parsePod, podAgentName } from './pod.js';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly patchType?: 'JSONPatch';
  readonly patch?: string;
  readonly status?: { readonly code: number; readonly message: string; readonly reason?: string };
}

export interface AdmissionReviewOut {
  readonly apiVersion: typeof ADMISSION_API_VERSION;
  readonly kind: 'AdmissionReview';
  readonly response: AdmissionResponse;
}

export interface ReviewDeps {
  readonly pieces: SidecarPieces;
  readonly options: InjectionOptions;
}

interface ParsedRequest {
  readonly uid: string;
  readonly kind: string;
  readonly operation: string;
  readonly namespace: string | undefined;
  readonly object: unknown;
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/** Parses an AdmissionReview request. Throws PaiError `bad_request` naming what is missing. */
export function parseReview(body: unknown): ParsedRequest {
  if (field(body, 'apiVersion') !== ADMISSION_API_VERSION || field(body, 'kind') !== 'AdmissionReview') {
    throw new PaiError('bad_request', `expected an AdmissionReview of ${ADMISSION_API_VERSION}`);
  }
  const request = field(body, 'request');
  const uid = field(request, 'uid');
  if (typeof uid !== 'string' || uid === '') throw new PaiError('bad_request', 'the AdmissionReview has no request.uid');
  const ns = field(request, 'namespace');
  const kind = field(field(request, 'kind'), 'kind');
  const operation = field(request, 'operation');
  return {
    uid,
    kind: typeof kind === 'string' ? kind : '',
    operation: typeof operation === 'string' ? operation : '',
    namespace: typeof ns === 'string' && ns !== '' ? ns : undefined,
    object: field(request, 'object'),
  };
}

function refused(uid: string, error: PaiError): AdmissionResponse {
  return { uid, allowed: false, status: { code: error.status, reason: error.code, message: `pai: ${error.message}` } };
}

async function decide(req: ParsedRequest, deps: ReviewDeps): Promise<AdmissionResponse> {
  const allowed: AdmissionResponse = { uid: req.uid, allowed: true };
  if (req.kind !== 'Pod' || req.operation !== 'CREATE') return allowed;
  const pod = parsePod(req.object);
  const name = podAgentName(pod);
  if (name === undefined || alreadyInjected(pod)) return allowed;
  const podNamespace = field(field(req.object, 'metadata'), 'namespace');
  const agent = agentIdentity(name, req.namespace ?? (typeof podNamespace === 'string' ? podNamespace : undefined));
  if (agent === undefined) throw new PaiError('invalid', `${AGENT_KEY} "${name}" is not a valid agent name`);
  const pieces = await deps.pieces.forAgent(agent);
  if (pieces === undefined) {
    throw new PaiError(
      'unknown_agent',
      `unknown agent "${agent.name}" in namespace "${agent.namespace}" (${AGENT_KEY}): create the Agent first (pai apply)`,
    );
  }
  const ops = injectionPatch(pod, pieces, deps.options, agentLabel(agent));
  return { ...allowed, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(ops)).toString('base64') };
}

/**
 * The AdmissionReview answering `body`. Throws PaiError `bad_request` only when `body` is not an
 * AdmissionReview at all (no uid to answer to); every other failure is a refusal in the response.
 */
export async function reviewPod(body: unknown, deps: ReviewDeps): Promise<AdmissionReviewOut> {
  const req = parseReview(body);
  let response: AdmissionResponse;
  try {
    response = await decide(req, deps);
  } catch (err) {
    response = refused(req.uid, toPaiError(err));
  }
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response };
}
