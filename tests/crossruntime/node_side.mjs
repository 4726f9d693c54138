// Cross-runtime round trip, Node side: decrypt what Python made, then make a store
// image, blob and envelope for Python. Usage: node node_side.mjs IN OUT
import { readFileSync, writeFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { Kms, SecretCache, verifySignature } from '../../npm/dist/node.mjs';

const [inPath, outPath] = process.argv.slice(2);
const hex = (s) => Uint8Array.from(Buffer.from(s, 'hex'));
const x = JSON.parse(readFileSync(inPath, 'utf8'));
const kms = await Kms.open({ image: hex(x.image), passphrase: x.passphrase });
const d = await kms.decrypt({ ciphertextBlob: hex(x.blob), encryptionContext: x.encryption_context });
assert.equal(Buffer.from(d.plaintext).toString('hex'), x.plaintext);
console.log('ok - node decrypted the blob Python made');
const r = await kms.decryptEnvelope({ ciphertext: hex(x.envelope), encryptionContext: x.encryption_context });
assert.equal(Buffer.from(r.plaintext).toString('hex'), x.envelope_plaintext);
console.log('ok - node decrypted the envelope Python made');
{
  const s = await kms.decryptEnvelope({ ciphertext: hex(x.signed), requiredSigner: 'alias/xrt-signer' });
  assert.equal(Buffer.from(s.plaintext).toString('hex'), x.envelope_plaintext);
  assert.ok(s.signer.known && s.signer.keyId === x.signer_key_id);
  console.log('ok - node verified the signed envelope Python made (required signer, known)');
}

// Python's secrets, read here from its store image.
{
  const cur = await kms.getSecretValue({ secretName: 'xrt/db-password' });
  assert.equal(cur.secretData, x.secrets.current);
  assert.deepEqual(cur.versionStages, ['ACSCurrent']);
  assert.equal((await kms.getSecretValue({ secretName: 'xrt/db-password', versionStage: 'ACSPrevious' })).secretData, x.secrets.previous);
  assert.equal((await kms.getSecretValue({ secretName: 'xrt/db-password', versionStage: 'blue' })).secretData, x.secrets.blue);
  const b = await kms.getSecretValue({ secretName: 'xrt/binary' });
  assert.equal(Buffer.from(b.secretData).toString('hex'), x.secrets.binary);
  assert.deepEqual((await kms.describeSecret({ secretName: 'xrt/db-password', fetchTags: true })).tags, { from: 'python' });
  console.log('ok - node read the secrets Python made (text, stages, binary, tags)');
}

// The sealed disk copies Python's SecretCache kept: served here by a cache whose KMS
// cannot be reached (the same file format in every runtime).
{
  const down = { getSecretValue: async () => { throw Object.assign(new Error('unreachable'), { code: 'Rejected.BackendUnavailable' }); } };
  const cache = new SecretCache(down, { persist: { path: `${inPath}.cache`, key: Uint8Array.from({ length: 32 }, (_, i) => i) } });
  assert.equal((await cache.get('xrt/db-password')).secretData, x.secrets.current);
  assert.equal(Buffer.from((await cache.get('xrt/binary')).secretData).toString('hex'), x.secrets.binary);
  console.log("ok - node served the sealed disk copies Python's SecretCache kept");
}

// Python's backup, restored into a Node file store; then backed up again for the CLI.
const restored = await Kms.restoreBackup({ path: `${outPath}.node-store`, backup: new Uint8Array(readFileSync(`${inPath}.backup`)), backupPassphrase: 'xrt-backup', passphrase: 'xrt-node' });
const rd = await restored.decrypt({ ciphertextBlob: hex(x.blob), encryptionContext: x.encryption_context });
assert.equal(Buffer.from(rd.plaintext).toString('hex'), x.plaintext);
writeFileSync(`${outPath}.backup`, await restored.createBackup({ backupPassphrase: 'xrt-backup-2' }));
console.log('ok - node restored the backup Python made into a file store and decrypted with it');

// Python's signatures (AWS-LC) verify here (wasm, RustCrypto); the same private keys,
// from Python's store image, sign here for Python to verify; and Node encrypts to
// Python's RSA key for Python to decrypt.
const msg = hex(x.message);
const asym = [];
for (const s of x.asym) {
  const ok = await verifySignature({ publicKey: new TextEncoder().encode(s.public_key), keySpec: s.spec, algorithm: s.algorithm, signature: hex(s.signature), message: msg });
  assert.equal(ok, true, `${s.spec} ${s.algorithm}`);
  const mineMsg = new TextEncoder().encode(`signed by node (wasm) with ${s.spec}`);
  const sig = await kms.asymmetricSign({ keyId: s.key_id, algorithm: s.algorithm, message: mineMsg });
  asym.push({ key_id: s.key_id, spec: s.spec, algorithm: s.algorithm, message: Buffer.from(mineMsg).toString('hex'), signature: Buffer.from(sig.value).toString('hex') });
}
console.log(`ok - node (wasm) verified ${x.asym.length} signatures Python made on AWS-LC and signed with the same keys`);
const rsaPt = new Uint8Array(100).map((_, i) => i * 7);
const rsaCiphertexts = {};
for (const alg of ['RSAES_OAEP_SHA_256', 'RSAES_OAEP_SHA_1']) {
  const c = await kms.asymmetricEncrypt({ keyId: x.rsa_key_id, algorithm: alg, plaintext: rsaPt });
  rsaCiphertexts[alg] = Buffer.from(c.ciphertextBlob).toString('hex');
}

const mine = await Kms.memory();
const k = await mine.createKey({ description: 'made in node' });
const ctx = { from: 'node', to: 'python' };
const pt = Buffer.from('encrypted by Node, decrypted in Python');
const e = await mine.encrypt({ keyId: k.keyId, plaintext: new Uint8Array(pt), encryptionContext: ctx });
const envPt = new Uint8Array(123_457).map((_, i) => (i * 3) & 255);
const env = await mine.encryptEnvelope({ keyIds: [k.keyId], plaintext: envPt, encryptionContext: ctx, frameLength: 4096 });
const signerKey = await mine.createKey({ keySpec: 'EC_P256', keyUsage: 'SIGN/VERIFY' });
const signed = await mine.encryptEnvelope({ keyIds: [k.keyId], plaintext: envPt, encryptionContext: ctx, frameLength: 4096, signingKeyId: signerKey.keyId });
const image = await mine.exportImage({ passphrase: 'xrt-pass-2' });
writeFileSync(outPath, JSON.stringify({ passphrase: 'xrt-pass-2', image: Buffer.from(image).toString('hex'), blob: Buffer.from(e.ciphertextBlob).toString('hex'), encryption_context: ctx, plaintext: pt.toString('hex'), envelope: Buffer.from(env).toString('hex'), envelope_plaintext: Buffer.from(envPt).toString('hex'), signed: Buffer.from(signed).toString('hex'), signer_key_id: signerKey.keyId, asym, rsa_key_id: x.rsa_key_id, rsa_ciphertexts: rsaCiphertexts, rsa_plaintext: Buffer.from(rsaPt).toString('hex') }));
console.log('ok - node produced a store image and blob');
