// Asymmetric keys, data-key export and BYOK in Node, on the wasm core's pure-Rust RSA /
// ECDSA, checked by node:crypto (OpenSSL, which no one here wrote): our public keys load
// there, our signatures verify there, what it encrypts to our keys decrypts here, what
// we export it decrypts, material it wraps imports. Plus the Wycheproof sample and the
// error codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import crypto from 'node:crypto';
import { Kms, verifySignature, InvalidParameterError, InvalidCiphertextError, RejectedError, KeyStateError } from 'strongroom';

const kms = await Kms.memory();
// The same store with every private-key operation in the wasm core (no WebCrypto).
const wasmOnly = await Kms.open({ image: await kms.exportImage({ passphrase: 'p' }), passphrase: 'p', platformCrypto: false });
const MSG = new TextEncoder().encode('signed in wasm, checked by node:crypto');
const sha256 = (m) => new Uint8Array(crypto.createHash('sha256').update(m).digest());
const oaepHash = { RSAES_OAEP_SHA_256: 'sha256', RSAES_OAEP_SHA_1: 'sha1' };

const cases = [
  ['RSA_2048', 'RSA_PSS_SHA_256'],
  ['RSA_2048', 'RSA_PKCS1_SHA_256'],
  ['EC_P256', 'ECDSA_SHA_256'],
  ['EC_P256K', 'ECDSA_SHA_256'],
];

for (const [spec, alg] of cases) for (const [inst, where] of [[kms, 'platform'], [wasmOnly, 'wasm']]) {
  test(`${spec} ${alg} (${where}): sign, verify in node:crypto and in wasm`, async () => {
    const kms = inst;
    const k = await kms.createKey({ keySpec: spec, keyUsage: 'SIGN/VERIFY' });
    const pub = await kms.getPublicKey({ keyId: k.keyId });
    assert.match(pub.publicKey, /^-----BEGIN PUBLIC KEY-----\n/);
    const nodeKey = crypto.createPublicKey(pub.publicKey);
    assert.deepEqual(new Uint8Array(nodeKey.export({ type: 'spki', format: 'der' })), pub.publicKeyDer);
    const byMessage = await kms.asymmetricSign({ keyId: k.keyId, algorithm: alg, message: MSG });
    const byDigest = await kms.asymmetricSign({ keyId: k.keyId, algorithm: alg, digest: sha256(MSG) });
    for (const s of [byMessage.value, byDigest.value]) {
      const opts = { key: nodeKey };
      if (alg === 'RSA_PSS_SHA_256') Object.assign(opts, { padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
      assert.ok(crypto.verify('sha256', MSG, opts, s), 'node:crypto verifies');
      assert.equal((await kms.asymmetricVerify({ keyId: k.keyId, algorithm: alg, message: MSG, signature: s })).value, true);
      assert.equal(await verifySignature({ publicKey: pub.publicKeyDer, keySpec: spec, algorithm: alg, signature: s, message: MSG }), true);
    }
    // node:crypto signs, wasm verifies.
    const priv = crypto.generateKeyPairSync(spec.startsWith('RSA') ? 'rsa' : 'ec', spec.startsWith('RSA') ? { modulusLength: 2048 } : { namedCurve: spec === 'EC_P256' ? 'prime256v1' : 'secp256k1' });
    const opts = { key: priv.privateKey };
    if (alg === 'RSA_PSS_SHA_256') Object.assign(opts, { padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
    const theirs = new Uint8Array(crypto.sign('sha256', MSG, opts));
    const theirPub = new Uint8Array(priv.publicKey.export({ type: 'spki', format: 'der' }));
    assert.equal(await verifySignature({ publicKey: theirPub, keySpec: spec, algorithm: alg, signature: theirs, message: MSG }), true);
    theirs[theirs.length - 1] ^= 1;
    assert.equal(await verifySignature({ publicKey: theirPub, keySpec: spec, algorithm: alg, signature: theirs, message: MSG }), false);
  });
}

test('platformCrypto: message signing and OAEP decryption run on WebCrypto unless turned off', async () => {
  const subtle = globalThis.crypto.subtle;
  const calls = { sign: 0, decrypt: 0 };
  const orig = { sign: subtle.sign, decrypt: subtle.decrypt };
  subtle.sign = function (...a) { calls.sign++; return orig.sign.apply(this, a); };
  subtle.decrypt = function (...a) { calls.decrypt++; return orig.decrypt.apply(this, a); };
  try {
    for (const [inst, expect] of [[kms, 1], [wasmOnly, 0]]) {
      calls.sign = calls.decrypt = 0;
      const s = await inst.createKey({ keySpec: 'EC_P256', keyUsage: 'SIGN/VERIFY' });
      const sig = (await inst.asymmetricSign({ keyId: s.keyId, algorithm: 'ECDSA_SHA_256', message: MSG })).value;
      assert.equal((await inst.asymmetricVerify({ keyId: s.keyId, algorithm: 'ECDSA_SHA_256', digest: sha256(MSG), signature: sig })).value, true);
      await inst.asymmetricSign({ keyId: s.keyId, algorithm: 'ECDSA_SHA_256', digest: sha256(MSG) }); // digests stay in wasm
      const r = await inst.createKey({ keySpec: 'RSA_2048' });
      const ct = (await inst.asymmetricEncrypt({ keyId: r.keyId, algorithm: 'RSAES_OAEP_SHA_256', plaintext: MSG })).ciphertextBlob;
      assert.deepEqual((await inst.asymmetricDecrypt({ keyId: r.keyId, algorithm: 'RSAES_OAEP_SHA_256', ciphertextBlob: ct })).plaintext, MSG);
      assert.deepEqual(calls, { sign: expect, decrypt: expect });
    }
  } finally {
    Object.assign(subtle, orig);
  }
});

for (const [alg, inst, where] of [['RSAES_OAEP_SHA_256', kms, 'WebCrypto'], ['RSAES_OAEP_SHA_1', kms, 'WebCrypto'], ['RSAES_OAEP_SHA_256', wasmOnly, 'wasm'], ['RSAES_OAEP_SHA_1', wasmOnly, 'wasm']]) {
  test(`RSA ${alg}: node:crypto encrypts to our public key, ${where} decrypts; and back`, async () => {
    const kms = inst;
    const k = await kms.createKey({ keySpec: 'RSA_2048' });
    const pub = await kms.getPublicKey({ keyId: k.keyId });
    const pt = crypto.randomBytes(alg === 'RSAES_OAEP_SHA_256' ? 190 : 214);
    const ct = crypto.publicEncrypt({ key: pub.publicKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: oaepHash[alg] }, pt);
    const d = await kms.asymmetricDecrypt({ keyId: k.keyId, algorithm: alg, ciphertextBlob: new Uint8Array(ct) });
    assert.deepEqual(Buffer.from(d.plaintext), pt);
    // Our own encryption round-trips, and one byte more than Alibaba's limit is refused.
    const e = await kms.asymmetricEncrypt({ keyId: k.keyId, algorithm: alg, plaintext: new Uint8Array(pt) });
    assert.deepEqual(Buffer.from((await kms.asymmetricDecrypt({ keyId: k.keyId, algorithm: alg, ciphertextBlob: e.ciphertextBlob })).plaintext), pt);
    await assert.rejects(kms.asymmetricEncrypt({ keyId: k.keyId, algorithm: alg, plaintext: new Uint8Array(pt.length + 1) }), (x) => x.code === 'InvalidParameter.PlaintextTooLarge');
    const bad = new Uint8Array(ct);
    bad[7] ^= 1;
    await assert.rejects(kms.asymmetricDecrypt({ keyId: k.keyId, algorithm: alg, ciphertextBlob: bad }), InvalidCiphertextError);
  });
}

test('ExportDataKey / GenerateAndExportDataKey: node:crypto decrypts the exported key', async () => {
  const cmk = await kms.createKey();
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 3072 });
  const pem = new TextEncoder().encode(publicKey.export({ type: 'spki', format: 'pem' }));
  const g = await kms.generateAndExportDataKey({ keyId: cmk.keyId, publicKeyBlob: pem, wrappingKeySpec: 'RSA_3072', encryptionContext: { a: 'b' } });
  const dk = (await kms.decrypt({ ciphertextBlob: g.ciphertextBlob, encryptionContext: { a: 'b' } })).plaintext;
  assert.equal(dk.length, 32);
  const open = (ct, padding, oaep) => new Uint8Array(crypto.privateDecrypt({ key: privateKey, padding, oaepHash: oaep }, ct));
  assert.deepEqual(open(g.exportedDataKey, crypto.constants.RSA_PKCS1_OAEP_PADDING, 'sha256'), dk);
  const e = await kms.exportDataKey({ ciphertextBlob: g.ciphertextBlob, publicKeyBlob: pem, wrappingKeySpec: 'RSA_3072', wrappingAlgorithm: 'RSAES_OAEP_SHA_1', encryptionContext: { a: 'b' } });
  assert.deepEqual(open(e.exportedDataKey, crypto.constants.RSA_PKCS1_OAEP_PADDING, 'sha1'), dk);
  await assert.rejects(kms.exportDataKey({ ciphertextBlob: g.ciphertextBlob, publicKeyBlob: pem, wrappingKeySpec: 'RSA_2048', encryptionContext: { a: 'b' } }), (x) => x.code === 'InvalidParameter.PublicKey');
});

test('BYOK: node:crypto wraps the material; it imports and is the key', async () => {
  const key = await kms.createKey({ origin: 'EXTERNAL' });
  assert.equal(key.keyState, 'PendingImport');
  await assert.rejects(kms.encrypt({ keyId: key.keyId, plaintext: MSG }), KeyStateError);
  const p = await kms.getParametersForImport({ keyId: key.keyId });
  const wrapKey = crypto.createPublicKey({ key: Buffer.from(p.publicKey), format: 'der', type: 'spki' });
  assert.equal(wrapKey.asymmetricKeyDetails.modulusLength, 2048);
  const material = crypto.randomBytes(32);
  const wrapped = crypto.publicEncrypt({ key: wrapKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, material);
  const m = await kms.importKeyMaterial({ keyId: key.keyId, encryptedKeyMaterial: new Uint8Array(wrapped), importToken: p.importToken });
  assert.equal(m.keyState, 'Enabled');
  // The blob (docs/FORMAT.md §Blob, empty context) opens with node:crypto under the material.
  const blob = Buffer.from((await kms.encrypt({ keyId: key.keyId, plaintext: MSG })).ciphertextBlob);
  const h = 3 + blob[1] + blob[2 + blob[1]];
  const d = crypto.createDecipheriv('aes-256-gcm', material, blob.subarray(h, h + 12));
  d.setAAD(Buffer.concat([blob.subarray(0, h), Buffer.from([0, 0])]));
  d.setAuthTag(blob.subarray(blob.length - 16));
  assert.deepEqual(Buffer.concat([d.update(blob.subarray(h + 12, blob.length - 16)), d.final()]), Buffer.from(MSG));
  assert.equal((await kms.deleteKeyMaterial({ keyId: key.keyId })).keyState, 'PendingImport');
  await assert.rejects(kms.getParametersForImport({ keyId: key.keyId, wrappingAlgorithm: 'RSAES_PKCS1_V1_5' }), (x) => x.code === 'InvalidParameter.WrappingAlgorithm');
  const gen = await kms.createKey();
  await assert.rejects(kms.getParametersForImport({ keyId: gen.keyId }), (x) => x instanceof RejectedError && x.code === 'Rejected.KeyOrigin');
});

test('BYOK of a node:crypto EC key: RSA_AES_KEY_WRAP_SHA_256 (OAEP + id-aes256-wrap-pad)', async () => {
  const key = await kms.createKey({ keySpec: 'EC_P256', keyUsage: 'SIGN/VERIFY', origin: 'EXTERNAL' });
  const p = await kms.getParametersForImport({ keyId: key.keyId, wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256' });
  const pair = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const pkcs8 = pair.privateKey.export({ type: 'pkcs8', format: 'der' });
  const eph = crypto.randomBytes(32);
  const wrapKey = crypto.createPublicKey({ key: Buffer.from(p.publicKey), format: 'der', type: 'spki' });
  const head = crypto.publicEncrypt({ key: wrapKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, eph);
  const kw = crypto.createCipheriv('id-aes256-wrap-pad', eph, Buffer.from('A65959A6', 'hex'));
  const body = Buffer.concat([kw.update(pkcs8), kw.final()]);
  const m = await kms.importKeyMaterial({ keyId: key.keyId, encryptedKeyMaterial: new Uint8Array(Buffer.concat([head, body])), importToken: p.importToken });
  assert.equal(m.keyState, 'Enabled');
  const sig = (await kms.asymmetricSign({ keyId: key.keyId, algorithm: 'ECDSA_SHA_256', message: MSG })).value;
  assert.ok(crypto.verify('sha256', MSG, pair.publicKey, sig), 'node:crypto verifies with its own public key');
  const der = (await kms.getPublicKey({ keyId: key.keyId })).publicKeyDer;
  assert.deepEqual(Buffer.from(der), pair.publicKey.export({ type: 'spki', format: 'der' }));
});

test('the Wycheproof sample (tests/vectors/wycheproof_sample.json) through verifySignature, by message (WebCrypto where it has the algorithm) and by digest (wasm)', async () => {
  const W = JSON.parse(readFileSync(new URL('../../tests/vectors/wycheproof_sample.json', import.meta.url)));
  const hex = (s) => Uint8Array.from(Buffer.from(s, 'hex'));
  let n = 0;
  for (const v of W.vectors) {
    for (const input of [{ message: hex(v.msg) }, { digest: sha256(hex(v.msg)) }]) {
      let ok;
      try {
        ok = await verifySignature({ publicKey: hex(v.public_key), keySpec: v.key_spec, algorithm: v.algorithm, signature: hex(v.sig), ...input });
      } catch (e) {
        assert.ok(!v.valid && e instanceof InvalidParameterError, `${v.suite} tc ${v.tc_id}: ${e}`);
        ok = false;
      }
      assert.equal(ok, v.valid, `${v.suite} tc ${v.tc_id} ${Object.keys(input)}`);
    }
    n++;
  }
  assert.equal(n, W.vectors.length);
  assert.ok(n >= 200);
});

test('bad input gets its own code', async () => {
  const ec = await kms.createKey({ keySpec: 'EC_P256', keyUsage: 'SIGN/VERIFY' });
  const aes = await kms.createKey();
  await assert.rejects(kms.asymmetricSign({ keyId: ec.keyId, algorithm: 'ECDSA_SHA_256', digest: new Uint8Array(31) }), (x) => x.code === 'InvalidParameter.Digest');
  await assert.rejects(kms.asymmetricSign({ keyId: ec.keyId, algorithm: 'RSA_PSS_SHA_256', message: MSG }), (x) => x.code === 'InvalidParameter.Algorithm');
  await assert.rejects(kms.asymmetricSign({ keyId: ec.keyId, algorithm: 'ECDSA_SHA_256' }), InvalidParameterError);
  await assert.rejects(kms.asymmetricSign({ keyId: ec.keyId, algorithm: 'ECDSA_SHA_256', digest: sha256(MSG), message: MSG }), (x) => x.code === 'InvalidParameter.Digest');
  await assert.rejects(verifySignature({ publicKey: new Uint8Array(1), keySpec: 'EC_P256', algorithm: 'ECDSA_SHA_256', signature: new Uint8Array(8), digest: sha256(MSG), message: MSG }), (x) => x.code === 'InvalidParameter.Digest');
  await assert.rejects(kms.asymmetricSign({ keyId: aes.keyId, algorithm: 'ECDSA_SHA_256', message: MSG }), InvalidParameterError);
  await assert.rejects(kms.createKey({ keySpec: 'EC_P256', keyUsage: 'ENCRYPT/DECRYPT' }), (x) => x.code === 'InvalidParameter.KeyUsage');
  await assert.rejects(
    verifySignature({ publicKey: new TextEncoder().encode('-----BEGIN PUBLIC KEY-----\nnot base64!\n-----END PUBLIC KEY-----\n'), keySpec: 'EC_P256', algorithm: 'ECDSA_SHA_256', signature: new Uint8Array(8), message: MSG }),
    (x) => x.code === 'InvalidParameter.PublicKey',
  );
});
