/**
 * `pai create model-provider NAME --provider P --api-key KEY [--endpoint URL] [--allowed-models a,b]`
 * (Pai's command): stores the key as the Secret `NAME-key` (key `api-key`), then applies the
 * ModelProvider referencing it. `--api-key -` reads the key from standard input (one trailing
 * newline removed), so it never appears in argv, `ps` or shell history; the key is sent only in a
 * request body, and nothing printed or logged holds it. If the ModelProvider cannot be applied, the
 * secret this command created is deleted again, so a failed command leaves nothing behind.
 */
import { modelProviderDef } from '../providers/model-providers.js';
import { nameProblem } from '../resources/names.js';
import { API_VERSION, MODEL_PROVIDER_KINDS, type ModelProviderKind } from '../resources/types.js';
import { parseResource } from '../resources/validate.js';
import { resourceDocument } from '../resources/document.js';
import { type AdminClient, CliError } from './client.js';
import type { CliIo } from './io.js';

export interface CreateModelProviderOptions {
  readonly provider: string;
  readonly apiKey?: string;
  readonly endpoint?: string;
  readonly allowedModels?: string;
  readonly apiVersion?: string;
}

/** The secret key the key is stored under (Pai's convention). */
export const API_KEY_KEY = 'api-key';

/** The key from `--api-key`: `-` reads stdin (one trailing newline dropped); never echoed anywhere. */
async function readKey(given: string, io: CliIo): Promise<Buffer> {
  if (given !== '-') {
    if (io.isTerminal?.() === true) {
      io.stderr('warning: the API key is on the command line (visible in ps and shell history); prefer --api-key - and stdin\n');
    }
    return Buffer.from(given, 'utf8');
  }
  let key = await io.readStdin();
  if (key.length > 0 && key[key.length - 1] === 0x0a) key = key.subarray(0, key.length - (key[key.length - 2] === 0x0d ? 2 : 1));
  if (key.length === 0) throw new CliError('--api-key -: standard input was empty', 2);
  return key;
}

function providerOf(text: string): ModelProviderKind {
  if (!(MODEL_PROVIDER_KINDS as readonly string[]).includes(text)) {
    throw new CliError(`--provider must be one of ${MODEL_PROVIDER_KINDS.join(', ')}`, 2);
  }
  return text as ModelProviderKind;
}

/** The ModelProvider document the options describe, validated locally before anything is written. */
function manifest(name: string, provider: ModelProviderKind, opts: CreateModelProviderOptions, secret: string | undefined) {
  const allowed = opts.allowedModels
    ?.split(',')
    .map((m) => m.trim())
    .filter((m) => m.length > 0);
  const doc = {
    apiVersion: API_VERSION,
    kind: 'ModelProvider',
    metadata: { name },
    spec: {
      provider,
      ...(opts.endpoint === undefined ? {} : { endpoint: opts.endpoint }),
      ...(opts.apiVersion === undefined ? {} : { apiVersion: opts.apiVersion }),
      ...(secret === undefined
        ? {}
        : { apiKeySecretRef: provider === 'bedrock' ? { name: secret } : { name: secret, key: API_KEY_KEY } }),
      ...(allowed === undefined ? {} : { allowedModels: allowed }),
    },
  };
  try {
    return parseResource(doc, 'the model provider');
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : 'invalid model provider', 2);
  }
}

/** Runs `pai create model-provider`. */
export async function createModelProvider(
  client: AdminClient,
  name: string,
  opts: CreateModelProviderOptions,
  io: CliIo,
): Promise<void> {
  const problem = nameProblem(name);
  if (problem) throw new CliError(`invalid model provider name ${JSON.stringify(name.slice(0, 80))}: ${problem}`, 2);
  const provider = providerOf(opts.provider);
  if (provider === 'bedrock')
    throw new CliError('bedrock uses AWS keys: add them with pai add secret, then pai apply a ModelProvider', 2);
  if (opts.apiKey === undefined && modelProviderDef(provider).keyOptional !== true) {
    throw new CliError(`--api-key is required for provider ${provider} (use --api-key - to read it from stdin)`, 2);
  }
  const secret = opts.apiKey === undefined ? undefined : `${name}-key`;
  if (secret !== undefined && nameProblem(secret) !== undefined)
    throw new CliError(`the name is too long for its secret ${secret}`, 2);
  const resource = manifest(name, provider, opts, secret);
  if (secret !== undefined && opts.apiKey !== undefined) {
    const key = await readKey(opts.apiKey, io);
    try {
      await client.request('POST', client.nsPath('secrets'), {
        name: secret,
        binaryData: { [API_KEY_KEY]: key.toString('base64') },
      });
    } catch (err) {
      if (err instanceof CliError && err.apiCode === 'already_exists') {
        throw new CliError(`secret ${secret} already exists; delete it, or apply a ModelProvider that references it`);
      }
      throw err;
    } finally {
      key.fill(0);
    }
    io.stdout(`secret/${secret} created\n`);
  }
  try {
    await client.request('PUT', client.nsPath(`modelproviders/${encodeURIComponent(name)}`), resourceDocument(resource));
  } catch (err) {
    if (secret !== undefined) {
      await client.request('DELETE', client.nsPath(`secrets/${encodeURIComponent(secret)}`)).catch(() => undefined);
      io.stderr(`secret/${secret} deleted again: the model provider was not created\n`);
    }
    throw err;
  }
  io.stdout(`modelprovider/${name} created\n`);
}
