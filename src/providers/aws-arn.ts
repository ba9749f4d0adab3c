/**
 * ARN building blocks shared by the AWS resolvers. Where a request names a resource without its
 * account (a DynamoDB table or a secret by name), the account is `*`: the ARN then matches only
 * scope patterns with `*` (or `?`s) in the account field, never one naming an account, so an
 * unknown account fails closed. Where a request's resource cannot be told at all, resolvers use
 * the widest ARN of that kind (`…:table/*`), which only a scope covering every such resource admits.
 */

/** The ARN partition of a region: aws-cn for cn-*, aws-us-gov for us-gov-*, else aws. */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/** `arn:<partition>:<service>:<region>:<account>:<rest>`. */
export function arn(service: string, region: string, account: string, rest: string): string {
  return `arn:${partitionOf(region)}:${service}:${region}:${account}:${rest}`;
}

const ARN = /^arn:aws(?:-cn|-us-gov)?:[a-z0-9-]+:[a-z0-9-]*:(?:\d{12}|\*)?:[^\s]+$/;

/** True when `s` has the shape of an ARN (partition, service, region, account, resource). */
export function looksLikeArn(s: string): boolean {
  return ARN.test(s);
}
