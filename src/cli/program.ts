/**
 * The `pai` command tree (commander): every command, its options and help. Imported by main.ts
 * for every command line except the server's own (`pai serve [--role R]`), which main.ts runs
 * without commander (docs/PERFORMANCE.md).
 */
import { Command, Option } from 'commander';
import type { CreateModelProviderOptions } from './create-model-provider.js';
import { CA_BUNDLE_PATH } from '../resources/agent-trust.js';
import type { RenderGatewayOptions } from './render-gateway.js';
import type { RenderInstallFlags } from './render-install.js';
import { nameProblem } from '../resources/names.js';
import { DEFAULT_NAMESPACE } from '../resources/types.js';
import { CliError } from './cli-error.js';
import type { AdminClient, CommandNamespace } from './client.js';
import type { CliIo } from './io.js';
import { SERVE_ROLES } from './serve-roles.js';
import { resourceCommands } from './registry.js';
import type { CreateTokenOptions } from './token-commands.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Commands that talk to no namespace (the server, tokens and keys are cluster-wide). */
const CLUSTER_COMMANDS = new Set(['serve', 'master-key', 'ca', 'ca-bundle', 'install']);

/** Adds `-n, --namespace` to every leaf command that acts in a namespace (kubectl's flag, accepted after the command). */
function addNamespaceOption(command: Command): void {
  for (const sub of command.commands) {
    if (sub.commands.length > 0) addNamespaceOption(sub);
    else if (!CLUSTER_COMMANDS.has(sub.name())) {
      sub.option('-n, --namespace <namespace>', 'the namespace to act in (default: $PAI_NAMESPACE, else "default")');
    }
  }
}

/** The namespace of the command about to run: -n, else PAI_NAMESPACE, else default. Throws CliError (usage) for a bad name. */
function commandNamespace(action: Command, io: CliIo): CommandNamespace {
  const given = action.optsWithGlobals<{ namespace?: string }>().namespace;
  const name = given ?? io.clientConfig().namespace ?? DEFAULT_NAMESPACE;
  const problem = nameProblem(name);
  if (problem !== undefined) throw new CliError(`invalid namespace ${JSON.stringify(name.slice(0, 80))}: ${problem}`, 2);
  return { name, explicit: given !== undefined };
}
const ADD_SECRET_HELP = `
Values never need to be on the command line (where other local users see them in ps, and the shell
history keeps them): give --from-literal KEY alone, --from-file or --from-env-file -.
Standard input feeds either the bare --from-literal KEYs or one "-" source, not both.

Examples:
  pai add secret gemini-key --from-literal api-key               # asks for the value, no echo
  printf '%s\\n' "$ID" "$SECRET" | pai add secret aws-creds --from-literal access_key_id --from-literal secret_access_key
  pai add secret tls --from-file tls.key --from-file ca=./ca.pem
  pai add secret app-env --from-env-file - < app.env
  pai add secret gemini-key --from-literal api-key=AIzaSy...     # works, but the value is in ps and history
`;

/** Builds the command tree; actions report their exit code through `setCode`. */
export function buildProgram(io: CliIo, setCode: (code: number) => void): Command {
  let namespace: CommandNamespace = { name: DEFAULT_NAMESPACE, explicit: false };
  const client = async (): Promise<AdminClient> => {
    const { AdminClient } = await import('./client.js');
    const c = AdminClient.fromConfig(io.clientConfig());
    c.namespace = namespace;
    return c;
  };
  const program = new Command('pai')
    .description('pai-secrets: store credentials for AI agents and inject them at the edge, so agents never hold them.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });

  const add = program.command('add').description('add a resource (secret)');
  add
    .command('secret')
    .description('create a secret from literals, files or an env file (values are write-only: they are never shown again)')
    .argument('<name>', 'secret name (DNS-1123 label)')
    .option(
      '--from-literal <key[=value]>',
      'KEY alone: the value is asked for without echo on a terminal, else read from stdin (one line per such KEY, in order); ' +
        'KEY=VALUE: the value is on the command line, visible to every local user (ps) and kept in shell history (repeatable)',
      collect,
      [],
    )
    .option(
      '--from-file <[key=]path>',
      'a file whose bytes are the value; the key defaults to the file name; "KEY=-" reads stdin (repeatable)',
      collect,
      [],
    )
    .option('--from-env-file <path>', 'a file of KEY=VALUE lines (repeatable; "-" reads stdin)', collect, [])
    .option('--overwrite', 'replace the keys of an existing secret', false)
    .addHelpText('after', ADD_SECRET_HELP)
    .action(
      async (name: string, opts: { fromLiteral: string[]; fromFile: string[]; fromEnvFile: string[]; overwrite: boolean }) => {
        const { addSecret } = await import('./add-secret.js');
        await addSecret(await client(), name, opts, io);
      },
    );

  for (const verb of resourceCommands(program, client, io)) void verb;

  program
    .command('apply')
    .description('create or update agents, providers and model providers from YAML or JSON documents')
    .option('-f, --filename <file>', 'a file of one or more documents ("-" reads stdin; repeatable)', collect, [])
    .option('--dry-run', 'validate every document and its references; write nothing', false)
    .addHelpText('after', '\nExamples:\n  pai apply -f agents.yaml\n  cat provider.json | pai apply -f -\n')
    .action(async (opts: { filename: string[]; dryRun: boolean }) => {
      const { apply } = await import('./apply.js');
      await apply(await client(), opts.filename, opts.dryRun, io);
    });

  const render = program
    .command('render')
    .description("render an agent's env values (audited), hosts file or sidecar config, or the LLM gateway's Envoy config");
  render
    .command('env')
    .description("print an agent's spec.env with the secret values, for its launcher (renderer or owner token)")
    .argument('<agent>', 'agent name')
    .addOption(
      new Option('-o, --output <format>', 'dotenv (sourceable by sh) or json').choices(['dotenv', 'json']).default('dotenv'),
    )
    .option('--ca-bundle <path>', `where the agent container mounts \`pai render ca-bundle\` (default ${CA_BUNDLE_PATH})`)
    .option('--no-ca-bundle', 'leave out SSL_CERT_FILE and the other CA variables (an agent run outside a pod)')
    .action(async (agent: string, opts: { output: string; caBundle?: string | boolean }) => {
      const { renderEnv } = await import('./render.js');
      await renderEnv(await client(), agent, opts.output, io, opts.caBundle === true ? undefined : opts.caBundle);
    });
  render
    .command('hosts')
    .description("print the agent container's hosts file: each host of its Providers and ModelProviders at 127.0.0.1")
    .argument('<agent>', 'agent name')
    .action(async (agent: string) => {
      const c = await client();
      const { renderText } = await import('./ca-commands.js');
      await renderText(c, c.nsPath(`agents/${encodeURIComponent(agent)}/hosts`), io);
    });
  render
    .command('sidecar')
    .description("print the agent's Envoy sidecar bootstrap: TLS on 127.0.0.1:8443 for its own hosts, HTTP on :8081 (no values)")
    .argument('<agent>', 'agent name')
    .addOption(
      new Option('--mode <mode>', 'injector API; auto: ext-proc when a bound type or policy needs it, else ext-authz')
        .choices(['auto', 'ext-authz', 'ext-proc'])
        .default('auto'),
    )
    .option('--shared-injector <host:port>', 'shared mode: reach a shared pai-injector over mTLS instead of the pod socket')
    .option('--sds-cert <name>', "shared mode: the SDS name of Envoy's client certificate", 'default')
    .addHelpText(
      'after',
      '\nExamples:\n  pai render sidecar triage-bot > envoy.yaml\n  pai render sidecar triage-bot --mode ext-proc -n team-a\n',
    )
    .action(async (agent: string, opts: { mode: string; sharedInjector?: string; sdsCert: string }) => {
      const c = await client();
      const query = new URLSearchParams({ mode: opts.mode });
      if (opts.sharedInjector !== undefined) query.set('sharedInjector', opts.sharedInjector);
      if (opts.sharedInjector !== undefined) query.set('sdsCert', opts.sdsCert);
      const { renderText } = await import('./ca-commands.js');
      await renderText(c, `${c.nsPath(`agents/${encodeURIComponent(agent)}/sidecar`)}?${query.toString()}`, io);
    });
  render
    .command('ca-bundle')
    .description('print the system roots plus the pai CA (PEM), for SSL_CERT_FILE in the agent container')
    .action(async () => {
      const { renderText } = await import('./ca-commands.js');
      await renderText(await client(), '/v1/ca-bundle', io);
    });
  render
    .command('gateway')
    .description("print the shared LLM gateway's Envoy bootstrap: one route and cluster per ModelProvider (no values)")
    .addOption(new Option('-o, --output <format>', 'yaml or json').choices(['yaml', 'json']).default('yaml'))
    .option('--port <port>', 'the TCP port agents connect to', '8080')
    .option('--injector-socket <path>', "the injector's unix socket as Envoy's container mounts it", '/var/run/pai/injector.sock')
    .addOption(
      new Option(
        '--client-cert <mode>',
        'agent identity: required (certificates), optional (certificate or agent token), none (tokens)',
      )
        .choices(['required', 'optional', 'none'])
        .default('required'),
    )
    .option(
      '--trust-domain <domain>',
      "SPIFFE trust domain of agent certificates (the injector's PAI_SPIFFE_TRUST_DOMAIN)",
      'pai',
    )
    .option('--tls-dir <dir>', 'where tls.crt, tls.key and agents-ca.crt are mounted', '/etc/pai/gateway')
    .addHelpText(
      'after',
      '\nExamples:\n  pai render gateway > envoy-gateway.yaml\n  pai render gateway --client-cert none --port 8443\n',
    )
    .action(async (opts: RenderGatewayOptions) => {
      const { renderGateway } = await import('./render-gateway.js');
      await renderGateway(await client(), opts, io);
    });

  render
    .command('install')
    .description('print the Kubernetes manifests: admin and webhook Deployments, Services, webhook configuration (no values)')
    .option('--namespace <namespace>', "pai's own namespace", 'pai-system')
    .addOption(
      new Option('--store <store>', 'local (one replica over a volume) or vault').choices(['local', 'vault']).default('local'),
    )
    .option('--image <image>', 'the pai-secrets image', 'ghcr.io/pai/pai-secrets:0.1.0')
    .option('--envoy-image <image>', "the agent pods' Envoy image", 'envoyproxy/envoy:v1.36.2')
    .option(
      '--redirect-image <image>',
      "the agent pods' iptables image (redirect init container)",
      'ghcr.io/pai/pai-redirect:0.1.0',
    )
    .option('--ca-bundle <file>', 'PEM of the pai CA (pai get ca > ca.pem); default: read from the admin API')
    .option('--vault-addr <url>', "Vault's address (--store vault)", 'https://vault.vault.svc:8200')
    .option('--vault-mount <path>', 'the KV v2 mount (--store vault)', 'pai')
    .option('--vault-ca <file>', "PEM of Vault's CA, put in a ConfigMap (--store vault)")
    .option('--agent-namespaces <list>', "comma-separated namespaces of agent pods (Vault's pai-injector role)", '')
    .addHelpText(
      'after',
      '\nExamples:\n  pai get ca > ca.pem && pai render install --store vault --ca-bundle ca.pem | kubectl apply -f -\n',
    )
    .action(async (opts: RenderInstallFlags) => {
      const { renderInstallCommand } = await import('./render-install.js');
      await renderInstallCommand(client, opts, io);
    });

  const create = program.command('create').description('create a token or a model provider');
  create
    .command('model-provider')
    .description("store an LLM provider's API key (as secret NAME-key) and create the ModelProvider that uses it")
    .argument('<name>', 'the ModelProvider name: agents refer to models as NAME/<model id>')
    .requiredOption('--provider <provider>', 'anthropic, openai, gemini, openrouter, azure-openai or vllm')
    .option('--api-key <key>', 'the API key; "-" reads it from stdin (keeps it out of ps and shell history)')
    .option('--endpoint <url>', 'base URL (required for azure-openai and vllm; OpenAI-compatible services: --provider openai)')
    .option('--allowed-models <list>', 'comma-separated model ids the gateway allows')
    .option('--api-version <version>', 'azure-openai: the api-version query parameter added when the agent sends none')
    .addHelpText(
      'after',
      '\nExamples:\n  pai create model-provider anthropic --provider anthropic --api-key - < anthropic.key\n' +
        '  pai create model-provider google --provider gemini --api-key -\n',
    )
    .action(async (name: string, opts: CreateModelProviderOptions) => {
      const { createModelProvider } = await import('./create-model-provider.js');
      await createModelProvider(await client(), name, opts, io);
    });
  create
    .command('token')
    .description('create an API token (--role) or an agent token for the LLM gateway (AGENT); printed once')
    .argument('[agent]', 'the agent the token speaks for (role agent); it must exist, and the token dies with it')
    .addOption(
      new Option('--role <role>', 'API role when no agent is given (owner and renderer tokens need an owner token)').choices([
        'owner',
        'admin',
        'viewer',
        'renderer',
      ]),
    )
    .option(
      '--ttl <duration>',
      "lifetime, e.g. 30d, 12h, at most 366d (default: the server's PAI_TOKEN_DEFAULT_TTL, 90d; agent tokens: no expiry)",
    )
    .option('--description <text>', 'a note shown in pai get tokens')
    .action(async (agent: string | undefined, opts: CreateTokenOptions) => {
      const { createToken } = await import('./token-commands.js');
      await createToken(await client(), agent, opts, io);
    });

  program
    .command('status')
    .description("an agent's Providers and ModelProviders, with today's request count and last use of each")
    .argument('<agent>', 'agent name')
    .addHelpText('after', '\nExample:\n  pai status triage-bot -n team-a\n')
    .action(async (agent: string) => {
      const { status } = await import('./status.js');
      await status(await client(), agent, io);
    });

  program
    .command('serve')
    .description('run the admin API and the injector on this machine (embedded store unless PAI_STORE=vault)')
    .addOption(new Option('--role <role>', 'which servers to run').choices(SERVE_ROLES).default('all'))
    .action(async (opts: { role: string }) => {
      // Loaded on demand: the servers' modules (gRPC, SQLite, Envoy protos) would slow every other command.
      const { serve } = await import('./serve.js');
      setCode(await serve(opts.role, io));
    });

  const rotate = program.command('rotate').description('rotate keys');
  rotate
    .command('ca')
    .description('make a new pai CA sign the leaves; the previous one stays trusted for the overlap (admin)')
    .option('--overlap <duration>', "how long the previous CA stays trusted (e.g. 7d); default: the server's")
    .action(async (opts: { overlap?: string }) => {
      const { rotateCa } = await import('./ca-commands.js');
      await rotateCa(await client(), opts.overlap, io);
    });
  rotate
    .command('master-key')
    .description('generate a new master key and re-wrap every data key under it in one transaction (local store)')
    .action(async () => {
      const res = await (
        await client()
      ).request<{ oldKeyId: string; newKeyId: string; rewrapped: number }>('POST', '/v1/admin/master-key/rotate', {});
      io.stdout(`master key rotated: ${res.body.oldKeyId} -> ${res.body.newKeyId} (${res.body.rewrapped} secrets re-wrapped)\n`);
    });

  addNamespaceOption(program);
  program.hook('preAction', (_root, action) => {
    namespace = commandNamespace(action, io);
  });
  return program;
}
