import test from 'ava';
import { awsAction } from '../src/providers/aws-actions.js';
import { describeAction, policyRequest } from './helpers/policy.js';
import type { RequestOptions } from './helpers/policy.js';

const none = {};
const S3 = 's3.us-east-1.amazonaws.com';
const VH = 'my-bucket.s3.us-east-1.amazonaws.com';
const SQS = 'sqs.eu-west-1.amazonaws.com';
const DDB = 'dynamodb.us-east-1.amazonaws.com';
const SM = 'secretsmanager.us-east-1.amazonaws.com';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const target = (t: string): Record<string, string> => ({ 'x-amz-target': t, 'content-type': 'application/x-amz-json-1.0' });
const Q = 'https://sqs.eu-west-1.amazonaws.com/123456789012/jobs';

type Row = readonly [host: string, method: string, path: string, options: RequestOptions, expected: string];
const rows: Row[] = [
  // Refused first.
  [S3, 'GET', '/my-bucket?acl&tagging', none, 'refused bad_request'],
  [S3, 'GET', '/my-bucket?prefix=a&prefix=b', none, 'refused bad_request'],
  [S3, 'PUT', '/my-bucket/k', { headers: { 'x-amz-copy-source': 'no-key' } }, 'refused bad_request'],
  [S3, 'DELETE', '/my-bucket/k', { headers: { 'x-amz-copy-source': 'src/k' } }, 'refused bad_request'],
  [SQS, 'GET', '/?Action=SendMessage&Action=DeleteMessage', none, 'refused bad_request'],
  [SQS, 'GET', '/?Action=SendMessage&action=DeleteMessage', none, 'refused bad_request'],
  [SQS, 'GET', '/?Action=Send.Message', none, 'refused bad_request'],
  [SQS, 'POST', '/?Action=SendMessage', { headers: FORM, body: 'Action=DeleteMessage' }, 'refused bad_request'],
  [SQS, 'GET', `/?Action=SendMessage&QueueUrl=${encodeURIComponent('https://sqs.us-east-1.amazonaws.com/123456789012/jobs')}`, none, 'refused bad_request (sqs:SendMessage)'],
  [SQS, 'GET', `/?Action=SendMessage&QueueUrl=${encodeURIComponent('https://evil.example.com/123456789012/jobs')}`, none, 'refused bad_request (sqs:SendMessage)'],
  [SQS, 'GET', `/123456789012/other?Action=SendMessage&QueueUrl=${encodeURIComponent(Q)}`, none, 'refused bad_request'],
  [SQS, 'POST', '/', { headers: { 'content-type': 'application/json' }, body: 'Action=DeleteMessage' }, 'refused bad_body'],
  [SQS, 'POST', '/', { headers: target('AmazonSQS.Send-Message') }, 'refused bad_request'],
  [SQS, 'POST', '/', { headers: target('AmazonSQS.SendMessage'), body: `{"QueueUrl":"${Q}","queueurl":"x"}` }, 'refused bad_body (sqs:SendMessage)'],
  [DDB, 'POST', '/', { headers: target('DynamoDB_20120810.GetItem'), body: '{"TableName":"a","TableName":"b"}' }, 'refused bad_body (dynamodb:GetItem)'],
  [DDB, 'POST', '/', { headers: target('DynamoDB_20120810.TransactWriteItems'), body: '{"TransactItems":[{"Put":{}}]}' }, 'refused bad_body (dynamodb:TransactWriteItems)'],
  ['lambda.us-east-1.amazonaws.com', 'POST', '/2015-03-31/functions/f/invocations?Qualifier=a&Qualifier=b', none, 'refused bad_request'],
  ['sts.amazonaws.com', 'POST', '/?Action=GetCallerIdentity', { headers: FORM, body: 'Action=AssumeRole' }, 'refused bad_request'],
  // Needs the body.
  [SQS, 'POST', '/', none, 'needs_body action'],
  [DDB, 'POST', '/', { headers: target('DynamoDB_20120810.GetItem') }, 'needs_body resource (dynamodb:GetItem)'],
  [SM, 'POST', '/', { headers: target('secretsmanager.GetSecretValue') }, 'needs_body resource (secretsmanager:GetSecretValue)'],
  ['sts.amazonaws.com', 'POST', '/', none, 'needs_body action'],
  // S3, path-style and virtual-host.
  [S3, 'GET', '/', none, 's3:ListAllMyBuckets'],
  [S3, 'GET', '/my-bucket', none, 's3:ListBucket @ arn:aws:s3:::my-bucket/*'],
  [S3, 'GET', '/my-bucket?list-type=2&prefix=logs%2F2024&x-id=ListObjectsV2', none, 's3:ListBucket @ arn:aws:s3:::my-bucket/logs/2024*'],
  [VH, 'GET', '/?list-type=2&prefix=a', none, 's3:ListBucket @ arn:aws:s3:::my-bucket/a*'],
  [VH, 'HEAD', '/', none, 's3:ListBucket @ arn:aws:s3:::my-bucket/*'],
  [S3, 'GET', '/my-bucket?versions', none, 's3:ListBucketVersions @ arn:aws:s3:::my-bucket/*'],
  [S3, 'GET', '/my-bucket?uploads', none, 's3:ListBucketMultipartUploads @ arn:aws:s3:::my-bucket/*'],
  [S3, 'PUT', '/new-bucket', none, 's3:CreateBucket @ arn:aws:s3:::new-bucket'],
  [S3, 'DELETE', '/my-bucket', none, 's3:DeleteBucket @ arn:aws:s3:::my-bucket'],
  [S3, 'PUT', '/my-bucket?policy', none, 's3:PutBucketPolicy @ arn:aws:s3:::my-bucket'],
  [S3, 'DELETE', '/my-bucket?policy', none, 's3:DeleteBucketPolicy @ arn:aws:s3:::my-bucket'],
  [S3, 'GET', '/my-bucket?acl', none, 's3:GetBucketAcl @ arn:aws:s3:::my-bucket'],
  [S3, 'DELETE', '/my-bucket?tagging', none, 's3:PutBucketTagging @ arn:aws:s3:::my-bucket'],
  [S3, 'GET', '/my-bucket?location', none, 's3:GetBucketLocation @ arn:aws:s3:::my-bucket'],
  [S3, 'POST', '/my-bucket?delete', { body: '<Delete/>' }, 's3:DeleteObject @ arn:aws:s3:::my-bucket/*'],
  [S3, 'GET', '/my-bucket?analytics', none, '- @ arn:aws:s3:::my-bucket'],
  [S3, 'GET', '/my-bucket/a/b.txt', none, 's3:GetObject @ arn:aws:s3:::my-bucket/a/b.txt'],
  [S3, 'GET', '/my-bucket/a/b.txt?versionId=3&x-id=GetObject', none, 's3:GetObject @ arn:aws:s3:::my-bucket/a/b.txt'],
  [S3, 'GET', '/my-bucket/sp%20ace+plus', none, 's3:GetObject @ arn:aws:s3:::my-bucket/sp ace+plus'],
  [S3, 'GET', '/my-bucket/dir/', none, 's3:GetObject @ arn:aws:s3:::my-bucket/dir/'],
  [VH, 'GET', '/a/b.txt', none, 's3:GetObject @ arn:aws:s3:::my-bucket/a/b.txt'],
  ['my.s3.bucket.s3.amazonaws.com', 'GET', '/k', none, 's3:GetObject @ arn:aws:s3:::my.s3.bucket/k'],
  ['my-bucket.s3-us-west-2.amazonaws.com', 'GET', '/k', none, 's3:GetObject @ arn:aws:s3:::my-bucket/k'],
  ['s3.cn-north-1.amazonaws.com.cn', 'GET', '/b/k', none, 's3:GetObject @ arn:aws-cn:s3:::b/k'],
  [S3, 'HEAD', '/my-bucket/k', none, 's3:HeadObject @ arn:aws:s3:::my-bucket/k'],
  [S3, 'PUT', '/my-bucket/k', none, 's3:PutObject @ arn:aws:s3:::my-bucket/k'],
  [S3, 'PUT', '/my-bucket/k', { headers: { 'x-amz-copy-source': '/src-bucket/secret%20key?versionId=1' } }, 's3:PutObject @ arn:aws:s3:::my-bucket/k + s3:GetObject @ arn:aws:s3:::src-bucket/secret key'],
  [S3, 'PUT', '/my-bucket/k?partNumber=1&uploadId=u', { headers: { 'x-amz-copy-source': 'src/k' } }, 's3:PutObject @ arn:aws:s3:::my-bucket/k + s3:GetObject @ arn:aws:s3:::src/k'],
  [S3, 'PUT', '/my-bucket/k?partNumber=1&uploadId=u', none, 's3:PutObject @ arn:aws:s3:::my-bucket/k'],
  [S3, 'POST', '/my-bucket/k?uploads', none, 's3:PutObject @ arn:aws:s3:::my-bucket/k'],
  [S3, 'POST', '/my-bucket/k?uploadId=u', none, 's3:PutObject @ arn:aws:s3:::my-bucket/k'],
  [S3, 'DELETE', '/my-bucket/k?uploadId=u', none, 's3:AbortMultipartUpload @ arn:aws:s3:::my-bucket/k'],
  [S3, 'GET', '/my-bucket/k?uploadId=u', none, 's3:ListMultipartUploadParts @ arn:aws:s3:::my-bucket/k'],
  [S3, 'DELETE', '/my-bucket/k', none, 's3:DeleteObject @ arn:aws:s3:::my-bucket/k'],
  [S3, 'DELETE', '/my-bucket/k?versionId=2', none, 's3:DeleteObject @ arn:aws:s3:::my-bucket/k'],
  [S3, 'DELETE', '/my-bucket/k?unknownparam=1', none, 's3:DeleteObject @ arn:aws:s3:::my-bucket/k'],
  [S3, 'PUT', '/my-bucket/k?acl', none, 's3:PutObjectAcl @ arn:aws:s3:::my-bucket/k'],
  [S3, 'DELETE', '/my-bucket/k?tagging', none, 's3:DeleteObjectTagging @ arn:aws:s3:::my-bucket/k'],
  [S3, 'POST', '/my-bucket/k?restore', none, 's3:RestoreObject @ arn:aws:s3:::my-bucket/k'],
  [S3, 'POST', '/my-bucket/k?select&select-type=2', none, 's3:GetObject @ arn:aws:s3:::my-bucket/k'],
  ['ap-123456789012.s3-accesspoint.us-east-1.amazonaws.com', 'GET', '/k', none, '-'],
  // SQS, query protocol (GET, POST form, queue in the path) and JSON protocol.
  [SQS, 'GET', `/?Action=SendMessage&QueueUrl=${encodeURIComponent(Q)}&MessageBody=x`, none, 'sqs:SendMessage @ arn:aws:sqs:eu-west-1:123456789012:jobs'],
  [SQS, 'POST', '/', { headers: FORM, body: `Action=DeleteMessage&QueueUrl=${encodeURIComponent(Q)}&ReceiptHandle=r` }, 'sqs:DeleteMessage @ arn:aws:sqs:eu-west-1:123456789012:jobs'],
  [SQS, 'POST', '/123456789012/jobs.fifo', { headers: FORM, body: 'Action=deleteMessage' }, 'sqs:deleteMessage @ arn:aws:sqs:eu-west-1:123456789012:jobs.fifo'],
  [SQS, 'POST', '/', { headers: FORM, body: `Action=DeleteMessageBatch&QueueUrl=${encodeURIComponent(Q)}` }, 'sqs:DeleteMessage @ arn:aws:sqs:eu-west-1:123456789012:jobs'],
  [SQS, 'GET', '/?Action=SendMessageBatch', none, 'sqs:SendMessage @ arn:aws:sqs:eu-west-1:*:*'],
  [SQS, 'GET', '/?Action=ListQueues', none, 'sqs:ListQueues'],
  [SQS, 'GET', '/?Action=CreateQueue&QueueName=new', none, 'sqs:CreateQueue @ arn:aws:sqs:eu-west-1:*:new'],
  [SQS, 'GET', '/?Action=GetQueueUrl&QueueName=q&QueueOwnerAWSAccountId=210987654321', none, 'sqs:GetQueueUrl @ arn:aws:sqs:eu-west-1:210987654321:q'],
  [SQS, 'GET', `/?action=SendMessage&queueurl=${encodeURIComponent(Q)}`, none, 'sqs:SendMessage @ arn:aws:sqs:eu-west-1:123456789012:jobs'],
  [SQS, 'GET', '/', none, '-'],
  [SQS, 'POST', '/', { headers: target('AmazonSQS.SendMessage'), body: `{"QueueUrl":"${Q}","MessageBody":"x"}` }, 'sqs:SendMessage @ arn:aws:sqs:eu-west-1:123456789012:jobs'],
  [SQS, 'POST', '/', { headers: target('AmazonSQS.ChangeMessageVisibilityBatch'), body: `{"QueueUrl":"${Q}"}` }, 'sqs:ChangeMessageVisibility @ arn:aws:sqs:eu-west-1:123456789012:jobs'],
  [SQS, 'POST', '/', { headers: target('AmazonSQS.ListQueues') }, 'sqs:ListQueues'],
  // DynamoDB.
  [DDB, 'POST', '/', { headers: target('DynamoDB_20120810.GetItem'), body: '{"TableName":"Orders","Key":{}}' }, 'dynamodb:GetItem @ arn:aws:dynamodb:us-east-1:*:table/Orders'],
  [DDB, 'POST', '/', { headers: target('DynamoDB_20120810.Query'), body: '{"TableName":"arn:aws:dynamodb:us-east-1:123456789012:table/Orders"}' }, 'dynamodb:Query @ arn:aws:dynamodb:us-east-1:123456789012:table/Orders'],
  [DDB, 'POST', '/', { headers: target('DynamoDB_20120810.ListTables'), body: '{}' }, 'dynamodb:ListTables'],
  [DDB, 'POST', '/', { headers: target('DynamoDB_20120810.BatchGetItem'), body: '{"RequestItems":{"Orders":{},"Users":{}}}' }, 'dynamodb:BatchGetItem @ arn:aws:dynamodb:us-east-1:*:table/Orders + dynamodb:BatchGetItem @ arn:aws:dynamodb:us-east-1:*:table/Users'],
  [DDB, 'POST', '/', { headers: target('DynamoDB_20120810.TransactWriteItems'), body: '{"TransactItems":[{"Delete":{"TableName":"A"}},{"Put":{"TableName":"B"}}]}' }, 'dynamodb:TransactWriteItems @ arn:aws:dynamodb:us-east-1:*:table/A + dynamodb:DeleteItem @ arn:aws:dynamodb:us-east-1:*:table/A + dynamodb:PutItem @ arn:aws:dynamodb:us-east-1:*:table/B'],
  [DDB, 'POST', '/', { headers: target('DynamoDB_20120810.ExecuteStatement'), body: '{"Statement":"DELETE FROM Orders"}' }, 'dynamodb:ExecuteStatement @ arn:aws:dynamodb:us-east-1:*:table/*'],
  [DDB, 'POST', '/', { headers: target('DynamoDBStreams_20120810.GetRecords'), body: '{}' }, '-'],
  // Secrets Manager.
  [SM, 'POST', '/', { headers: target('secretsmanager.GetSecretValue'), body: '{"SecretId":"prod/db"}' }, 'secretsmanager:GetSecretValue @ arn:aws:secretsmanager:us-east-1:*:secret:prod/db'],
  [SM, 'POST', '/', { headers: target('secretsmanager.GetSecretValue'), body: '{"SecretId":"arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf"}' }, 'secretsmanager:GetSecretValue @ arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf'],
  [SM, 'POST', '/', { headers: target('secretsmanager.ListSecrets') }, 'secretsmanager:ListSecrets'],
  [SM, 'POST', '/', { headers: target('secretsmanager.BatchGetSecretValue'), body: '{"SecretIdList":["a","b"]}' }, 'secretsmanager:BatchGetSecretValue @ arn:aws:secretsmanager:us-east-1:*:secret:a + secretsmanager:GetSecretValue @ arn:aws:secretsmanager:us-east-1:*:secret:a + secretsmanager:GetSecretValue @ arn:aws:secretsmanager:us-east-1:*:secret:b'],
  [SM, 'POST', '/', { headers: target('secretsmanager.BatchGetSecretValue'), body: '{"Filters":[]}' }, 'secretsmanager:BatchGetSecretValue @ arn:aws:secretsmanager:us-east-1:*:secret:* + secretsmanager:GetSecretValue @ arn:aws:secretsmanager:us-east-1:*:secret:*'],
  // Lambda and STS.
  ['lambda.us-east-1.amazonaws.com', 'POST', '/2015-03-31/functions/my-fn/invocations', none, 'lambda:InvokeFunction @ arn:aws:lambda:us-east-1:*:function:my-fn'],
  ['lambda.us-east-1.amazonaws.com', 'POST', '/2015-03-31/functions/my-fn/invocations?Qualifier=prod', none, 'lambda:InvokeFunction @ arn:aws:lambda:us-east-1:*:function:my-fn:prod'],
  ['lambda.us-east-1.amazonaws.com', 'POST', '/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Afn/invocations', none, 'lambda:InvokeFunction @ arn:aws:lambda:us-east-1:123456789012:function:fn'],
  ['lambda.us-east-1.amazonaws.com', 'POST', '/2015-03-31/functions/123456789012%3Afunction%3Afn/invocations', none, 'lambda:InvokeFunction @ arn:aws:lambda:us-east-1:123456789012:function:fn'],
  ['lambda.us-east-1.amazonaws.com', 'POST', '/2021-11-15/functions/fn/response-streaming-invocations', none, 'lambda:InvokeFunction @ arn:aws:lambda:us-east-1:*:function:fn'],
  ['lambda.us-east-1.amazonaws.com', 'POST', '/2014-11-13/functions/fn/invoke-async/', none, 'lambda:InvokeFunction @ arn:aws:lambda:us-east-1:*:function:fn'],
  ['lambda.us-east-1.amazonaws.com', 'DELETE', '/2015-03-31/functions/fn', none, 'lambda:DeleteFunction @ arn:aws:lambda:us-east-1:*:function:fn'],
  ['lambda.us-east-1.amazonaws.com', 'GET', '/2015-03-31/functions', none, 'lambda:ListFunctions'],
  ['sts.amazonaws.com', 'GET', '/?Action=GetCallerIdentity&Version=2011-06-15', none, 'sts:GetCallerIdentity'],
  ['sts.us-west-2.amazonaws.com', 'POST', '/', { headers: FORM, body: 'Action=GetCallerIdentity&Version=2011-06-15' }, 'sts:GetCallerIdentity'],
  ['sts.amazonaws.com', 'POST', '/', { headers: FORM, body: 'Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fadmin' }, 'sts:AssumeRole @ arn:aws:iam::123456789012:role/admin'],
  // Other services and hosts: no action.
  ['ec2.us-east-1.amazonaws.com', 'GET', '/?Action=TerminateInstances', none, '-'],
  ['monitoring.us-east-1.amazonaws.com', 'POST', '/', { body: '' }, '-'],
  ['example.com', 'GET', '/', none, '-'],
];
for (const [host, method, path, options, expected] of rows) {
  test(`aws ${method} ${host}${path.slice(0, 70)} ${String(options.body ?? '').slice(0, 40)} → ${expected.slice(0, 60)}`, (t) => {
    t.is(describeAction(awsAction(policyRequest(host, method, path, options))), expected);
  });
}
