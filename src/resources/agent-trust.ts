/**
 * Where an agent container finds the pai CA bundle (`pai render ca-bundle`: the system roots plus the
 * pai CA), and the environment variables that point the usual TLS stacks at it. `SSL_CERT_FILE`
 * replaces OpenSSL's default bundle, which is why the bundle carries the system roots too. Pure.
 */

/** The bundle's path inside the agent container (the webhook mounts it there; docs/ENVOY.md). */
export const CA_BUNDLE_PATH = '/etc/pai/ca-bundle.pem';

/**
 * The variables each stack reads: OpenSSL and Go (SSL_CERT_FILE), Python requests, Node (extra CAs,
 * added to its own roots), curl, git, and the AWS CLI and SDKs.
 */
export const CA_BUNDLE_ENV_VARS = [
  'SSL_CERT_FILE',
  'REQUESTS_CA_BUNDLE',
  'NODE_EXTRA_CA_CERTS',
  'CURL_CA_BUNDLE',
  'GIT_SSL_CAINFO',
  'AWS_CA_BUNDLE',
] as const;

/** The CA variables as name/value pairs pointing at `path` (default CA_BUNDLE_PATH). */
export function caBundleEnv(path: string = CA_BUNDLE_PATH): { name: string; value: string }[] {
  return CA_BUNDLE_ENV_VARS.map((name) => ({ name, value: path }));
}
