/**
 * The comments of a rendered sidecar bootstrap (sidecar-config.ts): a header naming the agent, the
 * mode and the injector, and a note before the first occurrence of each key that matters for
 * security, saying why it is set so. Pure.
 */
import { Document, isMap, isScalar, isSeq, type Node } from 'yaml';
import type { Obj } from './envoy-common.js';
import type { SidecarMode } from './sidecar-http.js';

interface Context {
  readonly agent: { readonly namespace: string; readonly name: string };
  readonly mode: SidecarMode;
  readonly injector: { readonly kind: 'unix' | 'mtls' };
  /** Hosts left out of the HTTPS listener, with the reason. */
  readonly skipped: readonly string[];
}

/** Comments by `key` or `key=value` (the first pair that matches gets it). */
const NOTES: Readonly<Record<string, string>> = {
  node: " RENDERED: the agent is named here, never by anything the agent sends. The SDS service reads\n node.metadata pai.agent / pai.namespace and serves this agent's leaf only.",
  admin:
    " Admin on a 0600 unix socket (384 = octal 0600) that only the Envoy container mounts, never a localhost\n TCP port: the agent shares the pod's network namespace. Delete the block to turn admin off.",
  'name=agent_https':
    " The agent's HTTPS: its hosts resolve to 127.0.0.1 in the agent container only, and an init container\n redirects the agent uid's 127.0.0.1:443 here (docs/ENVOY.md).",
  per_connection_buffer_limit_bytes:
    ' BODY LIMIT 10 MiB: the most Envoy buffers when the injector asks for a body (SigV4, body policies);\n larger is answered 413. Bodies the injector does not ask for stream unbuffered.',
  filter_chain_match:
    " Only the SNI names of the agent's leaf (its own certifiable hosts): any other name, or none,\n matches no chain and the connection is closed.",
  tls_certificate_sds_secret_configs: " The agent's leaf over SDS from the injector: the key never touches a file or a volume.",
  internal_address_config:
    ' One TEST-NET-1 address as the only internal range: every request from the agent is "external",\n so Envoy strips its x-envoy-* control headers before any filter sees them.',
  strip_any_host_port: ' A port the agent wrote is dropped before matching; the upstream port comes from the cluster.',
  virtual_hosts:
    ' One virtual host per agent host (RENDERED); anything else is answered 403 by not_bound and never\n leaves the pod. No retry_policy and no internal_redirect_policy anywhere: a request carrying a\n credential is sent once, to one host; a 3xx goes back to the agent, whose next request is\n checked again for its own host.',
  context_extensions: ' AGENT IDENTITY (RENDERED): what the injector reads as the agent, from this file only.',
  'metadata=filter_metadata':
    ' AGENT IDENTITY (RENDERED): ext_proc has no context_extensions; the route metadata reaches the\n injector through request_attributes.',
  failure_mode_allow: ' Fail closed: no answer from the injector, no request upstream (503).',
  request_attributes:
    " CEL expressions whose values Envoy sends on the stream's first message: the agent and namespace as\n plain strings (preferred), and the whole route metadata as text format (fallback).",
  decoder_header_mutation_rules: ' The injector may not touch host/:authority, :scheme, :method or x-envoy-*; trying is a 500.',
  mutation_rules:
    ' The injector may not touch host/:authority, :scheme, :method or x-envoy-*; trying is a 500.\n :path is allowed (telegram).',
  clusters:
    ' Upstreams: TLS with SNI = the host and a certificate from the SYSTEM roots naming the host\n (never the pai CA: a pai leaf must not pose as a real API to the sidecar).',
  'name=dynamic_forward_proxy_cluster':
    ' Wildcard hosts: SNI and certificate name follow the requested host (auto_sni, auto_san_validation).',
  'name=pai_injector':
    ' The injector. Over a unix socket: only the Envoy and injector containers mount its directory\n (never TCP, never an abstract "@" socket). Over mTLS (shared mode): Envoy proves the agent with its\n own client certificate.',
};

function keyOf(node: unknown): string | undefined {
  return isScalar(node) ? String(node.value) : undefined;
}

/** Attaches each note to the first pair it matches, depth first in document order. */
function annotate(node: Node | null | undefined, used: Set<string>): void {
  if (isSeq(node)) for (const item of node.items) annotate(item as Node, used);
  if (!isMap(node)) return;
  for (const pair of node.items) {
    const key = keyOf(pair.key);
    const value = isScalar(pair.value)
      ? String(pair.value.value)
      : isMap(pair.value)
        ? keyOf(pair.value.items[0]?.key)
        : undefined;
    for (const candidate of [`${key}=${value}`, `${key}`]) {
      const note = NOTES[candidate];
      if (note !== undefined && !used.has(candidate) && isScalar(pair.key)) {
        used.add(candidate);
        pair.key.commentBefore = note;
        break;
      }
    }
    annotate(pair.value as Node, used);
  }
}

function header(ctx: Context): string {
  const lines = [
    ` pai-secrets: Envoy sidecar of agent ${ctx.agent.name} in namespace ${ctx.agent.namespace}, ${ctx.mode} mode.`,
    ' Rendered by `pai render sidecar` (docs/ENVOY.md); do not edit, render again.',
    '',
    '   agent ──HTTPS──▶ 127.0.0.1:8443 ─┐',
    '   agent ──HTTP───▶ 127.0.0.1:8081 ─┴▶ injector (credential) ─TLS─▶ the real host',
    '',
    ctx.mode === 'ext-authz'
      ? ' ext_authz: one Check per request; headers and query parameters only.'
      : ' ext_proc: a stream per request; can rewrite :path (telegram) and sign the body (SigV4).',
    ctx.injector.kind === 'unix'
      ? " Injector: the pod's own, over its unix socket."
      : ' Injector: a shared pai-injector over mTLS (shared mode); no injector and no store credential in the pod.',
  ];
  for (const s of ctx.skipped) lines.push(` Not served over HTTPS: ${s}.`);
  return lines.join('\n');
}

/** `config` as YAML text with the sidecar's comments. */
export function commented(config: Obj, ctx: Context): string {
  const doc = new Document(config, { aliasDuplicateObjects: false });
  annotate(doc.contents, new Set());
  doc.commentBefore = header(ctx);
  return doc.toString({ lineWidth: 0 });
}
