/**
 * `pai get|describe|delete TYPE [NAME]`: one table of resource types (with kubectl-style singular,
 * plural and short aliases) dispatching to each type's handlers.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { CliError } from './cli-error.js';
import type { AdminClient } from './client.js';
import type { CliIo } from './io.js';
import type { OutputFormat } from './output.js';
import type { ResourcePlural } from '../resources/types.js';

// The handlers' modules are imported when a command runs (cli/main.ts: `pai serve` loads none).
const secrets = () => import('./secrets-commands.js');
const resources = () => import('./resource-commands.js');
const tokens = () => import('./token-commands.js');

/** The get, describe and delete handlers of a resource type of the admin API. */
function resourceHandlers(plural: ResourcePlural): Pick<Required<TypeHandlers>, 'get' | 'describe' | 'delete'> {
  return {
    get: async (c, n, f, io) => (await resources()).getResources(plural)(c, n, f, io),
    describe: async (c, n, io) => (await resources()).describeResource(plural)(c, n, io),
    delete: async (c, n, force, io) => (await resources()).deleteResource(plural)(c, n, force, io),
  };
}

interface TypeHandlers {
  readonly names: readonly string[];
  readonly get: (client: AdminClient, name: string | undefined, format: OutputFormat, io: CliIo) => Promise<void>;
  readonly describe?: (client: AdminClient, name: string, io: CliIo) => Promise<void>;
  readonly delete?: (client: AdminClient, name: string, force: boolean, io: CliIo) => Promise<void>;
}

const TYPES: readonly TypeHandlers[] = [
  {
    names: ['secrets', 'secret'],
    get: async (c, n, f, io) => (await secrets()).getSecrets(c, n, f, io),
    describe: async (c, n, io) => (await secrets()).describeSecret(c, n, io),
    delete: async (c, n, force, io) => (await secrets()).deleteSecret(c, n, force, io),
  },
  { names: ['agents', 'agent'], ...resourceHandlers('agents') },
  // Pai's words: `pai get services`, `pai describe provider`, `pai delete service`.
  { names: ['providers', 'provider', 'services', 'service', 'svc'], ...resourceHandlers('providers') },
  {
    names: ['modelproviders', 'modelprovider', 'model-providers', 'model-provider', 'mp'],
    ...resourceHandlers('modelproviders'),
  },
  {
    names: ['tokens', 'token'],
    get: async (c, _n, f, io) => (await tokens()).getTokens(c, f, io),
    delete: async (c, id, _f, io) => (await tokens()).deleteToken(c, id, io),
  },
  // The pai CA's public certificates (PEM); never its key.
  { names: ['ca'], get: async (c, _n, _f, io) => (await import('./ca-commands.js')).getCa(c, io) },
];

function lookup(type: string): TypeHandlers {
  const found = TYPES.find((t) => t.names.includes(type.toLowerCase()));
  if (!found) {
    throw new CliError(`unknown resource type "${type}" (expected one of ${TYPES.map((t) => t.names[0]).join(', ')})`, 2);
  }
  return found;
}

/** Adds get, describe and delete to `program`; returns the commands added. */
export function resourceCommands(program: Command, client: () => Promise<AdminClient>, io: CliIo): Command[] {
  const output = new Option('-o, --output <format>', 'output format: table, json, yaml or name').default('table');
  const get = program
    .command('get')
    .description('list resources, or show one (never secret values)')
    .argument('<type>', 'secrets | agents | services (providers) | model-providers | tokens | ca')
    .argument('[name]', 'one resource')
    .addOption(output)
    .addHelpText(
      'after',
      '\nExamples:\n  pai get secrets\n  pai get secret gemini-key -o yaml\n  pai get services -n team-a\n  pai get model-providers -o json\n',
    )
    .action(async (type: string, name: string | undefined, opts: { output: string }) => {
      const { outputFormat } = await import('./output.js');
      await lookup(type).get(await client(), name, outputFormat(opts.output), io);
    });
  const describe = program
    .command('describe')
    .description('show details of one resource (keys with byte sizes, versions, references)')
    .argument('<type>', 'secret | agent | provider (service) | model-provider')
    .argument('<name>', 'resource name')
    .action(async (type: string, name: string) => {
      const h = lookup(type);
      if (!h.describe) throw new CliError(`describe is not available for ${h.names[0]}`, 2);
      await h.describe(await client(), name, io);
    });
  const del = program
    .command('delete')
    .description('delete a resource')
    .argument('<type>', 'secret | agent | service (provider) | model-provider | token')
    .argument('<name>', 'resource name (token id for tokens)')
    .option('--force', 'delete a secret even though resources reference it (they break until it is restored)', false)
    .action(async (type: string, name: string, opts: { force: boolean }) => {
      const h = lookup(type);
      if (!h.delete) throw new CliError(`delete is not available for ${h.names[0]}`, 2);
      await h.delete(await client(), name, opts.force, io);
    });
  return [get, describe, del];
}
