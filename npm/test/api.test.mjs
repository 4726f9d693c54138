// The action layer from Node: every facade method goes through the core's one
// dispatch (Kms::call), which an onCall hook sees call by call; kms.call() reaches
// every action with Alibaba's parameters and answers Alibaba's JSON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kms, StrongroomError, InvalidParameterError } from 'strongroom';

const enc = new TextEncoder();

async function code(p) {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof StrongroomError, `not a StrongroomError: ${e}`);
    return e.code;
  }
  assert.fail('expected a rejection');
}

test('a mixed workload is recorded call by call through the hook', async () => {
  const kms = await Kms.memory();
  const seen = [];
  kms.onCall((r) => seen.push(r));
  const { keyId } = await kms.createKey();
  await kms.createAlias({ aliasName: 'alias/node', keyId });
  const ctx = { app: 'node' };
  const e = await kms.encrypt({ keyId: 'alias/node', plaintext: enc.encode('hi'), encryptionContext: ctx });
  await kms.decrypt({ ciphertextBlob: e.ciphertextBlob, encryptionContext: ctx });
  await kms.generateDataKey({ keyId });
  const msg = await kms.encryptEnvelope({ keyIds: [keyId], plaintext: enc.encode('x'.repeat(3000)), encryptionContext: ctx });
  await kms.decryptEnvelope({ ciphertext: msg, encryptionContext: ctx });
  await kms.listKeys();
  await kms.getRandomPassword();
  assert.equal(await code(kms.describeKey({ keyId: 'no-such-key' })), 'Forbidden.KeyNotFound');
  await kms.disableKey({ keyId });
  assert.equal(await code(kms.encrypt({ keyId, plaintext: enc.encode('x') })), 'Forbidden.KeyDisabled');
  await kms.call('DescribeService');

  const arn = `acs:kms:strongroom:local:key/${keyId}`;
  const alias = 'acs:kms:strongroom:local:alias/node';
  assert.deepEqual(
    seen.map((r) => [r.action, r.resources, r.code]),
    [
      ['CreateKey', ['*', arn], null],
      ['CreateAlias', [arn, alias], null],
      ['Encrypt', [alias, arn], null],
      ['Decrypt', [arn], null],
      ['GenerateDataKey', [arn], null],
      ['EncryptEnvelope', [arn], null],
      ['DecryptEnvelope', [arn], null],
      ['ListKeys', ['*'], null],
      ['GetRandomPassword', ['*'], null],
      ['DescribeKey', [], 'Forbidden.KeyNotFound'],
      ['DisableKey', [arn], null],
      ['Encrypt', [arn], 'Forbidden.KeyDisabled'],
      ['DescribeService', ['*'], null],
    ],
  );
  for (const r of seen) {
    assert.equal(r.principal, 'owner');
    assert.match(r.requestId, /^[0-9a-f-]{36}$/);
  }
  assert.equal(new Set(seen.map((r) => r.requestId)).size, seen.length);
  // Removing the hook stops the records; a throwing hook changes nothing.
  kms.onCall(null);
  await kms.listKeys();
  assert.equal(seen.length, 13);
  kms.onCall(() => { throw new Error('hook failed'); });
  await kms.listKeys();
});

test('kms.call speaks Alibaba parameters and answers Alibaba JSON', async () => {
  const kms = await Kms.memory();
  const k = await kms.call('CreateKey', { Description: 'wire' });
  assert.match(k.RequestId, /^[0-9a-f-]{36}$/);
  const keyId = k.KeyMetadata.KeyId;
  assert.equal(k.KeyMetadata.KeyState, 'Enabled');
  const e = await kms.call('Encrypt', { KeyId: keyId, Plaintext: enc.encode('hi'), EncryptionContext: { a: 'b' } });
  assert.equal(typeof e.CiphertextBlob, 'string');
  // The same blob opens through the typed method: one dispatch, one format.
  const d = await kms.decrypt({ ciphertextBlob: Uint8Array.from(atob(e.CiphertextBlob), (c) => c.charCodeAt(0)), encryptionContext: { a: 'b' } });
  assert.equal(new TextDecoder().decode(d.plaintext), 'hi');
  const d2 = await kms.call('Decrypt', { CiphertextBlob: e.CiphertextBlob, EncryptionContext: '{"a":"b"}' });
  assert.equal(d2.Plaintext, btoa('hi'));
  const l = await kms.call('ListKeys', { PageSize: '1' });
  assert.equal(l.Keys.Key.length, 1);
  assert.equal(l.TotalCount, 1);
  const s = await kms.call('DescribeService');
  assert.ok(s.Actions.Action.includes('DescribeService'));
  assert.equal(await code(kms.call('NoSuchAction')), 'InvalidAction.NotFound');
  assert.equal(await code(kms.call('DescribeKey', {})), 'InvalidParameter.KeyId');
  assert.equal(await code(kms.call('DescribeKey', { KeyId: keyId, Typo: 1 })), 'InvalidParameter.Request');
  assert.equal(await code(kms.call('ListKeys', { PageSize: 0 })), 'InvalidParameter.Limit');
  assert.equal(await code(kms.call('ListKeys', { PageSize: -1 })), 'InvalidParameter.Limit');
  assert.equal(await code(kms.listKeys({ pageSize: -1 })), 'InvalidParameter.Limit');
  assert.equal(await code(kms.listKeys({ pageNumber: 2 ** 40 })), 'InvalidParameter.Limit');
  assert.throws(() => kms.call('ListKeys', [1]), InvalidParameterError);
});

test('every action of the core table has a method on Kms (no face drifts)', async () => {
  const kms = await Kms.memory();
  const actions = (await kms.call('DescribeService')).Actions.Action;
  assert.ok(actions.length >= 40);
  const camel = (a) => a[0].toLowerCase() + a.slice(1);
  const missing = actions.filter((a) => typeof kms[camel(a)] !== 'function');
  assert.deepEqual(missing, []);
  const s = await kms.describeService();
  assert.deepEqual(s.Actions.Action, actions);
});

test('generateRandom and hash: the instance API\'s keyless actions, through the dispatch', async () => {
  const kms = await Kms.memory();
  const seen = [];
  kms.onCall((r) => seen.push(r.action));
  const a = await kms.generateRandom({ length: 32 });
  assert.ok(a instanceof Uint8Array && a.length === 32);
  assert.notDeepEqual(a, await kms.generateRandom({ length: 32 }));
  assert.equal(await code(kms.generateRandom({ length: 0 })), 'InvalidParameter.Length');
  assert.equal(await code(kms.generateRandom({ length: 1025 })), 'InvalidParameter.Length');
  const { algorithm, digest } = await kms.hash({ message: enc.encode('abc') });
  assert.equal(algorithm, 'SHA-256');
  assert.equal(Buffer.from(digest).toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal((await kms.hash({ message: enc.encode('abc'), algorithm: 'SHA-512' })).digest.length, 64);
  assert.equal(await code(kms.hash({ message: enc.encode('abc'), algorithm: 'SM3' })), 'InvalidParameter.Algorithm');
  assert.ok(seen.includes('GenerateRandom') && seen.includes('Hash'), seen.join());
});

// The management methods derive their results from the action's Alibaba JSON by name
// (KeyVersionId → keyVersionId), not field by field. This checks each result against
// the published TypeScript declaration (dist/types/api.d.ts): every field the wire gives
// is declared, every required declared field is there, bytes are Uint8Array — so the
// types cannot drift from the model unnoticed.
import { readFileSync } from 'node:fs';

function declarations() {
  const src = readFileSync(new URL('../dist/types/api.d.ts', import.meta.url), 'utf8');
  const out = {};
  for (const m of src.matchAll(/export interface (\w+)(?: extends (\w+))? \{([^}]*)\}/g)) {
    const fields = {};
    for (const f of m[3].matchAll(/^\s*(?:readonly\s+)?(\w+)(\??):\s*([^;]+);/gm)) fields[f[1]] = { optional: f[2] === '?', type: f[3].trim() };
    out[m[1]] = { base: m[2], fields };
  }
  return out;
}

test('results conform to the published TypeScript declarations (derived from the wire, no drift)', async () => {
  const ifs = declarations();
  const fieldsOf = (name) => ({ ...(ifs[name].base ? fieldsOf(ifs[name].base) : {}), ...ifs[name].fields });
  const checked = new Set();
  const conforms = (name, v, path = name) => {
    assert.ok(ifs[name], `no declaration ${name}`);
    checked.add(name);
    const fields = fieldsOf(name);
    for (const k of Object.keys(v)) assert.ok(k in fields, `${path}: ${name} declares no ${k}`);
    for (const [k, f] of Object.entries(fields)) {
      if (!f.optional) assert.notEqual(v[k], undefined, `${path}: ${name}.${k} is missing`);
      if (f.type === 'Uint8Array' && v[k] !== undefined) assert.ok(v[k] instanceof Uint8Array, `${path}.${k} is not bytes`);
      const list = f.type.match(/^(\w+)\[\]$/);
      if (list && ifs[list[1]]) v[k].forEach((x, i) => conforms(list[1], x, `${path}.${k}[${i}]`));
    }
    return v;
  };
  const kms = await Kms.memory();
  const k = conforms('KeyMetadata', await kms.createKey({ description: 'drift' }));
  const keyId = k.keyId;
  assert.equal(k.description, 'drift');
  assert.equal(k.deleteDate, undefined);
  conforms('KeyMetadata', await kms.describeKey({ keyId }));
  await kms.createAlias({ aliasName: 'alias/drift', keyId });
  assert.deepEqual(conforms('ListAliasesResult', await kms.listAliases()).aliases.map((a) => a.aliasName), ['alias/drift']);
  conforms('ListAliasesResult', await kms.listAliasesByKeyId({ keyId }));
  await kms.tagResource({ keyId, tags: { team: 'a' } });
  const tags = await kms.listResourceTags({ keyId });
  tags.forEach((t) => conforms('Tag', t));
  assert.deepEqual(tags, [{ tagKey: 'team', tagValue: 'a' }]);
  const v = conforms('KeyVersion', await kms.createKeyVersion({ keyId }));
  assert.deepEqual(conforms('KeyVersion', await kms.describeKeyVersion({ keyId, keyVersionId: v.keyVersionId })), v);
  assert.equal(conforms('ListKeyVersionsResult', await kms.listKeyVersions({ keyId })).keyVersions.length, 2);
  const rot = conforms('KeyMetadata', await kms.updateRotationPolicy({ keyId, enableAutomaticRotation: true, rotationInterval: '604800s' }));
  assert.equal(rot.automaticRotation, 'Enabled');
  const { ciphertextBlob } = await kms.encrypt({ keyId, plaintext: enc.encode('hi') });
  const { keyId: k2 } = await kms.createKey();
  const re = conforms('ReEncryptResult', await kms.reEncrypt({ ciphertextBlob, destinationKeyId: k2 }));
  assert.equal(re.sourceKeyId, keyId);
  assert.deepEqual((await kms.decrypt({ ciphertextBlob: re.ciphertextBlob })).plaintext, enc.encode('hi'));
  assert.equal(conforms('KeyMetadata', await kms.setDeletionProtection({ keyId, enableDeletionProtection: true })).deletionProtection, 'Enabled');
  await kms.setDeletionProtection({ keyId, enableDeletionProtection: false });
  conforms('KeyMetadata', await kms.updateKeyDescription({ keyId, description: 'd2' }));
  conforms('KeyMetadata', await kms.disableKey({ keyId }));
  conforms('KeyMetadata', await kms.enableKey({ keyId }));
  assert.equal((await kms.scheduleKeyDeletion({ keyId: k2, pendingWindowInDays: 7 })).keyState, 'PendingDeletion');
  conforms('KeyMetadata', await kms.cancelKeyDeletion({ keyId: k2 }));
  const keys = conforms('ListKeysResult', await kms.listKeys({ filters: [{ key: 'KeyState', values: ['Enabled'] }] }));
  assert.deepEqual(new Set(keys.keys.map((x) => x.keyId)), new Set([keyId, k2]));
  const { keyId: rsa } = await kms.createKey({ keySpec: 'RSA_2048', keyUsage: 'ENCRYPT/DECRYPT' });
  const pk = conforms('PublicKeyResult', await kms.getPublicKey({ keyId: rsa }));
  assert.equal(pk.publicKeyDer.length, 294);
  const ct = conforms('AsymmetricEncryptResult', await kms.asymmetricEncrypt({ keyId: rsa, algorithm: 'RSAES_OAEP_SHA_256', plaintext: enc.encode('x') }));
  const pt = conforms('AsymmetricDecryptResult', await kms.asymmetricDecrypt({ keyId: rsa, algorithm: 'RSAES_OAEP_SHA_256', ciphertextBlob: ct.ciphertextBlob }));
  assert.deepEqual(pt.plaintext, enc.encode('x'));
  assert.ok(!JSON.stringify(pt).includes('"0":'), 'asymmetricDecrypt results redact the plaintext');
  const dk = await kms.generateDataKey({ keyId });
  conforms('ExportDataKeyResult', await kms.exportDataKey({ ciphertextBlob: dk.ciphertextBlob, publicKeyBlob: pk.publicKeyDer }));
  conforms('GenerateAndExportDataKeyResult', await kms.generateAndExportDataKey({ keyId, publicKeyBlob: pk.publicKeyDer }));
  assert.deepEqual(conforms('VerifyStoreResult', await kms.verifyStore()).problems, []);
  const msg = await kms.encryptEnvelope({ keyIds: [keyId], plaintext: enc.encode('drift') });
  conforms('ReEncryptEnvelopeResult', await kms.reEncryptEnvelope({ ciphertext: msg }));
  conforms('DataKeyPairResult', await kms.generateDataKeyPair({ keyId, keyPairSpec: 'EC_P256' }));
  conforms('DataKeyPairWithoutPlaintextResult', await kms.generateDataKeyPairWithoutPlaintext({ keyId, keyPairSpec: 'EC_P256', keyFormat: 'DER' }));
  const { keyId: ext } = await kms.createKey({ origin: 'EXTERNAL' });
  const params = conforms('ImportParameters', await kms.getParametersForImport({ keyId: ext }));
  assert.ok(params.importToken && params.tokenExpireTime);
  assert.ok(checked.size >= 15, [...checked].join(','));
  // runDue: what is due (nothing here) without an action; resolves to nothing.
  assert.equal(await kms.runDue(), undefined);
});

test('generateDataKeyPair: a key pair for use outside the KMS, its private key under the CMK', async () => {
  const { createPrivateKey, createPublicKey, sign, verify } = await import('node:crypto');
  const { inspect } = await import('node:util');
  const kms = await Kms.memory();
  const { keyId } = await kms.createKey();
  const seen = [];
  kms.onCall((r) => seen.push(`${r.action}:${r.code}`));
  const encryptionContext = { purpose: 'signing' };
  const msg = enc.encode('signed outside the KMS');
  for (const [spec, format] of [['EC_P256', 'PEM'], ['EC_P256K', 'DER'], ['RSA_2048', undefined]]) {
    const p = await kms.generateDataKeyPair({ keyId, keyPairSpec: spec, keyFormat: format, encryptionContext });
    assert.equal(p.keyId, keyId);
    assert.equal(p.keyPairSpec, spec);
    const der = format === 'DER';
    if (!der) {
      assert.match(new TextDecoder().decode(p.privateKeyPlaintext), /^-----BEGIN PRIVATE KEY-----\n/);
      assert.match(new TextDecoder().decode(p.publicKey), /^-----BEGIN PUBLIC KEY-----\n/);
    }
    const priv = createPrivateKey(der ? { key: Buffer.from(p.privateKeyPlaintext), format: 'der', type: 'pkcs8' } : Buffer.from(p.privateKeyPlaintext));
    const pub = createPublicKey(der ? { key: Buffer.from(p.publicKey), format: 'der', type: 'spki' } : Buffer.from(p.publicKey));
    assert.equal(priv.asymmetricKeyType, spec.startsWith('RSA') ? 'rsa' : 'ec');
    assert.ok(verify('sha256', msg, pub, sign('sha256', msg, priv)), `${spec}: the public key is the private key's`);
    // The private key's ciphertext is a ciphertext blob: Decrypt with the context opens it.
    const back = await kms.decrypt({ ciphertextBlob: p.privateKeyCiphertextBlob, encryptionContext });
    assert.deepEqual(back.plaintext, p.privateKeyPlaintext);
    assert.equal(await code(kms.decrypt({ ciphertextBlob: p.privateKeyCiphertextBlob })), 'InvalidCiphertext');
    // Never shown: inspect and JSON show no private key bytes.
    assert.equal(JSON.parse(JSON.stringify(p)).privateKeyPlaintext, '[redacted]');
    assert.match(inspect(p), /privateKeyPlaintext: '\[redacted\]'/);
  }
  const w = await kms.generateDataKeyPairWithoutPlaintext({ keyId, keyPairSpec: 'EC_P256', keyFormat: 'DER' });
  assert.equal(w.privateKeyPlaintext, undefined);
  const opened = await kms.decrypt({ ciphertextBlob: w.privateKeyCiphertextBlob });
  const pub = createPublicKey({ key: Buffer.from(w.publicKey), format: 'der', type: 'spki' });
  const priv = createPrivateKey({ key: Buffer.from(opened.plaintext), format: 'der', type: 'pkcs8' });
  assert.ok(verify('sha256', msg, pub, sign('sha256', msg, priv)));
  // Two calls, two different pairs.
  const again = await kms.generateDataKeyPairWithoutPlaintext({ keyId, keyPairSpec: 'EC_P256', keyFormat: 'DER' });
  assert.notDeepEqual(again.publicKey, w.publicKey);
  // Bad input and an unusable CMK: stable codes, nothing drawn.
  assert.equal(await code(kms.generateDataKeyPair({ keyId })), 'InvalidParameter.KeyPairSpec');
  assert.equal(await code(kms.generateDataKeyPair({ keyId, keyPairSpec: 'Aliyun_AES_256' })), 'InvalidParameter.KeyPairSpec');
  assert.equal(await code(kms.generateDataKeyPair({ keyId, keyPairSpec: 'EC_SM2' })), 'InvalidParameter.KeyPairSpec');
  assert.equal(await code(kms.generateDataKeyPair({ keyId, keyPairSpec: 'EC_P256', keyFormat: 'JWK' })), 'InvalidParameter.KeyFormat');
  const { keyId: signer } = await kms.createKey({ keySpec: 'EC_P256', keyUsage: 'SIGN/VERIFY' });
  assert.equal(await code(kms.generateDataKeyPair({ keyId: signer, keyPairSpec: 'EC_P256' })), 'InvalidParameter.KeySpec');
  await kms.disableKey({ keyId });
  assert.equal(await code(kms.generateDataKeyPair({ keyId, keyPairSpec: 'EC_P256' })), 'Forbidden.KeyDisabled');
  assert.ok(seen.includes('GenerateDataKeyPair:null') && seen.includes('GenerateDataKeyPairWithoutPlaintext:null'), seen.join());
  assert.ok(seen.includes('GenerateDataKeyPair:Forbidden.KeyDisabled'), seen.join());
});

test('reEncryptEnvelope: a message moved to a new key version or to other keys, its frames untouched', async () => {
  const kms = await Kms.memory();
  const { keyId } = await kms.createKey();
  const { keyId: other } = await kms.createKey();
  const plaintext = new Uint8Array(5000).map((_, i) => i % 251);
  const encryptionContext = { app: 'reports' };
  const ciphertext = await kms.encryptEnvelope({ keyIds: [keyId], plaintext, encryptionContext, frameLength: 1024 });
  const before = await kms.decryptEnvelope({ ciphertext, encryptionContext });
  const { keyVersionId: v2 } = await kms.createKeyVersion({ keyId });
  const seen = [];
  kms.onCall((r) => seen.push(r.action));
  const r = await kms.reEncryptEnvelope({ ciphertext, encryptionContext });
  assert.deepEqual(seen, ['ReEncryptEnvelope']);
  assert.deepEqual(r.keyIds, [keyId]);
  assert.equal(r.sourceKeyVersionId, before.keyVersionId);
  assert.deepEqual(r.ciphertext.subarray(0, r.header.length), r.header);
  assert.deepEqual(r.ciphertext.subarray(r.header.length), ciphertext.subarray(r.replacedLength));
  const after = await kms.decryptEnvelope({ ciphertext: r.ciphertext, encryptionContext });
  assert.deepEqual(after.plaintext, plaintext);
  assert.equal(after.keyVersionId, v2);
  assert.deepEqual(after.messageId, before.messageId);
  // To another key: the old one can go.
  const o = await kms.reEncryptEnvelope({ ciphertext, destinationKeyIds: [other] });
  await kms.disableKey({ keyId });
  assert.equal((await kms.decryptEnvelope({ ciphertext: o.ciphertext })).keyId, other);
  assert.equal(await code(kms.decryptEnvelope({ ciphertext })), 'Forbidden.KeyDisabled');
  // Stable codes.
  assert.equal(await code(kms.reEncryptEnvelope({ ciphertext: ciphertext.subarray(0, 20) })), 'InvalidCiphertext.Truncated');
  assert.equal(await code(kms.reEncryptEnvelope({ ciphertext: o.ciphertext, encryptionContext: { app: 'other' } })), 'InvalidCiphertext.ContextMismatch');
  assert.equal(await code(kms.reEncryptEnvelope({ ciphertext: o.ciphertext, destinationKeyIds: 'k' })), 'InvalidParameter.KeyIds');
});
