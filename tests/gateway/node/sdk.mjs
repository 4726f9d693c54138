// @alicloud/kms20160120 (RPC, HMAC-SHA1 through @alicloud/rpc-client), unmodified,
// against a running `strongroom serve`. ENDPOINT, PROTOCOL, APP_KEY and READER_KEY
// (AccessKey JSON files) come from tests/gateway/test_node_sdk.py. Prints one line per
// check; exits non-zero on the first failure.
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import kmsPkg from '@alicloud/kms20160120';

const Kms = kmsPkg.default;
const m = kmsPkg;
const cred = (f) => JSON.parse(readFileSync(f, 'utf8'));
const client = (c) => new Kms({
  accessKeyId: c.AccessKeyId, accessKeySecret: c.AccessKeySecret,
  endpoint: process.env.ENDPOINT, protocol: process.env.PROTOCOL, regionId: 'cn-hangzhou',
});
const app = client(cred(process.env.APP_KEY));
const b64 = (s) => Buffer.from(s).toString('base64');
// rpc-client reports `${Code}Error` as e.code; the server's body is e.data.
async function code(p) {
  try { await p; } catch (e) { return [e.data ? e.data.Code : e.code]; }
  return ['no error'];
}
const ok = (what) => console.log(`ok - ${what}`);

const key = (await app.createKey(new m.CreateKeyRequest({ description: 'node sdk' }))).keyMetadata;
assert.equal(key.keyState, 'Enabled');
ok('CreateKey');
for (const ctx of [undefined, { tenant: 'acme', note: 'a b&c=d é' }]) {
  const e = await app.encrypt(new m.EncryptRequest({ keyId: key.keyId, plaintext: b64('from node'), encryptionContext: ctx }));
  const d = await app.decrypt(new m.DecryptRequest({ ciphertextBlob: e.ciphertextBlob, encryptionContext: ctx }));
  assert.equal(d.plaintext, b64('from node'));
  ok(`Encrypt / Decrypt ${ctx ? 'with' : 'without'} an EncryptionContext`);
}
const g = await app.generateDataKey(new m.GenerateDataKeyRequest({ keyId: key.keyId, numberOfBytes: 32 }));
assert.equal(Buffer.from(g.plaintext, 'base64').length, 32);
assert.equal((await app.decrypt(new m.DecryptRequest({ ciphertextBlob: g.ciphertextBlob }))).plaintext, g.plaintext);
ok('GenerateDataKey');
await app.createAlias(new m.CreateAliasRequest({ aliasName: 'alias/node-sdk', keyId: key.keyId }));
assert.equal((await app.describeKey(new m.DescribeKeyRequest({ keyId: 'alias/node-sdk' }))).keyMetadata.keyId, key.keyId);
ok('CreateAlias, DescribeKey by alias');
const e = await app.encrypt(new m.EncryptRequest({ keyId: key.keyId, plaintext: b64('x'), encryptionContext: { a: 'b' } }));
const [wrongCtx] = await code(app.decrypt(new m.DecryptRequest({ ciphertextBlob: e.ciphertextBlob, encryptionContext: { a: 'c' } })));
assert.equal(wrongCtx, 'InvalidCiphertext');
ok('a wrong EncryptionContext is refused');
const [unknown] = await code(app.describeKey(new m.DescribeKeyRequest({ keyId: 'nope' })));
assert.equal(unknown, 'Forbidden.KeyNotFound');
ok('an unknown key is Forbidden.KeyNotFound');
const reader = client(cred(process.env.READER_KEY));
const [denied] = await code(reader.encrypt(new m.EncryptRequest({ keyId: key.keyId, plaintext: b64('x') })));
assert.equal(denied, 'Forbidden.NoPermission');
ok('a read-only user is denied Encrypt by policy');
const wrong = client({ ...cred(process.env.APP_KEY), AccessKeySecret: 'wrong' });
const [badSig] = await code(wrong.listKeys(new m.ListKeysRequest({})));
assert.equal(badSig, 'SignatureDoesNotMatch');
ok('a wrong secret is SignatureDoesNotMatch');
