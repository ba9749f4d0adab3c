import test from 'ava';
import { azureAction } from '../src/providers/azure-actions.js';
import { gcpAction } from '../src/providers/gcp-actions.js';
import { describeAction, policyRequest } from './helpers/policy.js';

const GCS = 'storage.googleapis.com';
const SLASH = { normalForm: { allowEncodedSlash: true } };
const B = 'projects/_/buckets';

const gcpRows: [string, string, string, string][] = [
  [GCS, 'GET', '/storage/v1/b/bk/o/', 'refused bad_request'],
  [GCS, 'GET', '/storage/v1/b/bk;x/o', 'refused bad_request'],
  [GCS, 'GET', '/storage/v1/b/bk/o?prefix=a&prefix=b', 'refused bad_request'],
  [GCS, 'POST', '/storage/v1/b/bk/o/a/copyTo/b/d', 'refused bad_request'],
  [GCS, 'GET', '/storage/v1/b/b%2Fk/o', 'refused bad_request'],
  [GCS, 'GET', '/storage/v1/b', 'storage.buckets.list'],
  [GCS, 'POST', '/storage/v1/b?project=p', `storage.buckets.create @ ${B}/*`],
  [GCS, 'GET', '/storage/v1/b/bk', `storage.buckets.get @ ${B}/bk`],
  [GCS, 'PATCH', '/storage/v1/b/bk', `storage.buckets.update @ ${B}/bk`],
  [GCS, 'DELETE', '/storage/v1/b/bk', `storage.buckets.delete @ ${B}/bk`],
  [GCS, 'GET', '/storage/v1/b/bk/iam', `storage.buckets.getIamPolicy @ ${B}/bk`],
  [GCS, 'PUT', '/storage/v1/b/bk/iam', `storage.buckets.setIamPolicy @ ${B}/bk`],
  [GCS, 'GET', '/storage/v1/b/bk/o', `storage.objects.list @ ${B}/bk/objects/*`],
  [GCS, 'GET', '/storage/v1/b/bk/o?prefix=logs%2F', `storage.objects.list @ ${B}/bk/objects/logs/*`],
  [GCS, 'GET', '/storage/v1/b/bk/o/dir%2Ffile.txt?alt=media', `storage.objects.get @ ${B}/bk/objects/dir/file.txt`],
  [GCS, 'GET', '/download/storage/v1/b/bk/o/f', `storage.objects.get @ ${B}/bk/objects/f`],
  [GCS, 'PATCH', '/storage/v1/b/bk/o/f', `storage.objects.update @ ${B}/bk/objects/f`],
  [GCS, 'DELETE', '/storage/v1/b/bk/o/a%2F..%2Fb', `storage.objects.delete @ ${B}/bk/objects/a/../b`],
  [
    GCS,
    'POST',
    '/upload/storage/v1/b/bk/o?uploadType=media&name=up%2Fx.bin',
    `storage.objects.create @ ${B}/bk/objects/up/x.bin`,
  ],
  [GCS, 'POST', '/upload/storage/v1/b/bk/o?uploadType=multipart', `storage.objects.create @ ${B}/bk/objects/*`],
  [
    GCS,
    'POST',
    '/storage/v1/b/bk/o/src/copyTo/b/dst/o/d%2Fx',
    `storage.objects.create @ ${B}/dst/objects/d/x + storage.objects.get @ ${B}/bk/objects/src`,
  ],
  [
    GCS,
    'POST',
    '/storage/v1/b/bk/o/src/rewriteTo/b/dst/o/d',
    `storage.objects.create @ ${B}/dst/objects/d + storage.objects.get @ ${B}/bk/objects/src`,
  ],
  [
    GCS,
    'POST',
    '/storage/v1/b/bk/o/out/compose',
    `storage.objects.create @ ${B}/bk/objects/out + storage.objects.get @ ${B}/bk/objects/*`,
  ],
  [GCS, 'GET', '/storage/v1/b/bk/o/f/acl', `- @ ${B}/bk/objects/f`],
  [GCS, 'POST', '/batch/storage/v1', '-'],
  // XML API: path-style and virtual-host.
  [GCS, 'GET', '/', 'storage.buckets.list'],
  [GCS, 'GET', '/bk', `storage.objects.list @ ${B}/bk/objects/*`],
  [GCS, 'PUT', '/bk', `storage.buckets.create @ ${B}/bk`],
  [GCS, 'GET', '/bk/dir/f.txt', `storage.objects.get @ ${B}/bk/objects/dir/f.txt`],
  [GCS, 'PUT', '/bk/f', `storage.objects.create @ ${B}/bk/objects/f`],
  [GCS, 'DELETE', '/bk/f', `storage.objects.delete @ ${B}/bk/objects/f`],
  ['bk.storage.googleapis.com', 'GET', '/f%20g', `storage.objects.get @ ${B}/bk/objects/f g`],
  ['bk.storage.googleapis.com', 'GET', '/', `storage.objects.list @ ${B}/bk/objects/*`],
  ['bigquery.googleapis.com', 'POST', '/bigquery/v2/projects/p/jobs', '-'],
];
for (const [host, method, path, expected] of gcpRows) {
  test(`gcp ${method} ${host}${path} → ${expected}`, (t) => {
    t.is(describeAction(gcpAction(policyRequest(host, method, path, SLASH))), expected);
  });
}

const ARM = 'management.azure.com';
const CONTAINERS = 'Microsoft.Storage/storageAccounts/blobServices/containers';
const BLOBS = `${CONTAINERS}/blobs`;
const RG = '/subscriptions/s1/resourceGroups/rg';
const SA = `${RG}/providers/Microsoft.Storage/storageAccounts/acc`;
const azureRows: [string, string, string, string][] = [
  [ARM, 'DELETE', `${SA}/`, 'refused bad_request'],
  [ARM, 'DELETE', `${SA};x`, 'refused bad_request'],
  [ARM, 'PUT', `${RG}/providers/not-a-namespace/x/y`, 'refused bad_request'],
  [ARM, 'GET', '/subscriptions?api-version=2022-12-01', 'Microsoft.Resources/subscriptions/read'],
  [ARM, 'GET', '/subscriptions/s1', 'Microsoft.Resources/subscriptions/read @ /subscriptions/s1'],
  [
    ARM,
    'GET',
    '/subscriptions/s1/resourcegroups',
    'Microsoft.Resources/subscriptions/resourceGroups/read @ /subscriptions/s1/resourcegroups',
  ],
  [ARM, 'GET', RG, `Microsoft.Resources/subscriptions/resourceGroups/read @ ${RG}`],
  [ARM, 'PUT', RG, `Microsoft.Resources/subscriptions/resourceGroups/write @ ${RG}`],
  [ARM, 'DELETE', RG, `Microsoft.Resources/subscriptions/resourceGroups/delete @ ${RG}`],
  [ARM, 'GET', `${RG}/resources`, `Microsoft.Resources/subscriptions/resourceGroups/resources/read @ ${RG}`],
  [ARM, 'GET', SA, `Microsoft.Storage/storageAccounts/read @ ${SA}`],
  [ARM, 'HEAD', SA, `Microsoft.Storage/storageAccounts/read @ ${SA}`],
  [ARM, 'PUT', SA, `Microsoft.Storage/storageAccounts/write @ ${SA}`],
  [ARM, 'PATCH', SA, `Microsoft.Storage/storageAccounts/write @ ${SA}`],
  [ARM, 'DELETE', SA, `Microsoft.Storage/storageAccounts/delete @ ${SA}`],
  [ARM, 'DELETE', SA.toUpperCase(), `MICROSOFT.STORAGE/STORAGEACCOUNTS/delete @ ${SA.toUpperCase()}`],
  [ARM, 'POST', `${SA}/listKeys`, `Microsoft.Storage/storageAccounts/listKeys/action @ ${SA}`],
  [
    ARM,
    'GET',
    `${RG}/providers/Microsoft.Storage/storageAccounts`,
    `Microsoft.Storage/storageAccounts/read @ ${RG}/providers/Microsoft.Storage/storageAccounts`,
  ],
  [
    ARM,
    'PUT',
    `${SA}/blobServices/default/containers/c1`,
    `Microsoft.Storage/storageAccounts/blobServices/containers/write @ ${SA}/blobServices/default/containers/c1`,
  ],
  [
    ARM,
    'PUT',
    `${SA}/providers/Microsoft.Authorization/roleAssignments/ra1`,
    `Microsoft.Authorization/roleAssignments/write @ ${SA}/providers/Microsoft.Authorization/roleAssignments/ra1`,
  ],
  [
    ARM,
    'PUT',
    `${RG}/providers/Microsoft.Authorization/roleAssignments/ra1`,
    `Microsoft.Authorization/roleAssignments/write @ ${RG}/providers/Microsoft.Authorization/roleAssignments/ra1`,
  ],
  [
    ARM,
    'GET',
    '/providers/Microsoft.Management/managementGroups/mg',
    'Microsoft.Management/managementGroups/read @ /providers/Microsoft.Management/managementGroups/mg',
  ],
  [ARM, 'GET', '/subscriptions/s1/providers', '- @ /subscriptions/s1/providers'],
  [ARM, 'POST', SA, `- @ ${SA}`],
  [ARM, 'GET', '/tenants', '-'],
  // Blob storage: the data actions of Azure RBAC (Pai's documented storage policy), resource account/container[/blob].
  ['acc.blob.core.windows.net', 'GET', '/c/dir/blob.txt', `${BLOBS}/read @ acc/c/dir/blob.txt`],
  ['acc.blob.core.windows.net', 'HEAD', '/c/blob', `${BLOBS}/read @ acc/c/blob`],
  ['acc.blob.core.windows.net', 'PUT', '/c/blob?comp=block&blockid=AAA', `${BLOBS}/write @ acc/c/blob`],
  ['acc.blob.core.windows.net', 'DELETE', '/c/blob', `${BLOBS}/delete @ acc/c/blob`],
  ['acc.blob.core.windows.net', 'GET', '/c?restype=container&comp=list', `${BLOBS}/read @ acc/c`],
  ['acc.blob.core.windows.net', 'PUT', '/c?restype=container', `${CONTAINERS}/write @ acc/c`],
  ['acc.blob.core.windows.net', 'DELETE', '/c?restype=container', `${CONTAINERS}/delete @ acc/c`],
  ['acc.blob.core.windows.net', 'GET', '/?comp=list', `${CONTAINERS}/read @ acc`],
  ['acc.blob.core.windows.net', 'GET', '/?restype=service&comp=properties', '- @ acc'],
  ['acc.blob.core.windows.net', 'GET', '/c', '- @ acc/c'],
  ['acc.blob.core.windows.net', 'POST', '/c/blob', '- @ acc/c/blob'],
  ['acc.queue.core.windows.net', 'GET', '/q/messages', '-'],
  ['evil.blob.core.windows.net.example.com', 'GET', '/c/blob', '-'],
];
for (const [host, method, path, expected] of azureRows) {
  test(`azure ${method} ${host}${path} → ${expected}`, (t) => {
    t.is(describeAction(azureAction(policyRequest(host, method, path))), expected);
  });
}
