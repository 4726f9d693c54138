// Master keys in an OpenBao transit engine from Node (the transit backend over fetch):
// keys made and used in the engine, a file store reopened with it, and an engine that
// refuses the token or is not there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kms, BackendError, InvalidCiphertextError, RejectedError, InvalidParameterError } from 'strongroom';
import { startBao } from './helpers/bao.mjs';

const enc = new TextEncoder();
let bao;
before(async () => {
  bao = await startBao();
});
after(() => bao.stop());

test('keys made and used in the engine; a store reopened with it', async () => {
  const transit = { address: bao.address, token: bao.token };
  const path = join(mkdtempSync(join(tmpdir(), 'sr-node-transit-')), 'store');
  const kms = await Kms.open({ path, passphrase: 'pw', transit });
  const k = (await kms.createKey()).keyId;
  const e = await kms.encrypt({ keyId: k, plaintext: enc.encode('in bao'), encryptionContext: { a: 'b' } });
  assert.equal(new TextDecoder().decode((await kms.decrypt({ ciphertextBlob: e.ciphertextBlob, encryptionContext: { a: 'b' } })).plaintext), 'in bao');
  await assert.rejects(kms.decrypt({ ciphertextBlob: e.ciphertextBlob, encryptionContext: { a: 'c' } }), InvalidCiphertextError);
  const msg = await kms.encryptEnvelope({ keyIds: [k], plaintext: new Uint8Array(70_000).fill(7) });
  const rsa = (await kms.createKey({ keySpec: 'RSA_2048', keyUsage: 'SIGN/VERIFY' })).keyId;
  const s = await kms.asymmetricSign({ keyId: rsa, algorithm: 'RSA_PSS_SHA_256', message: enc.encode('m') });
  assert.equal((await kms.asymmetricVerify({ keyId: rsa, algorithm: 'RSA_PSS_SHA_256', message: enc.encode('m'), signature: s.value })).value, true);
  await kms.close();
  const again = await Kms.open({ path, passphrase: 'pw', transit });
  assert.equal((await again.decryptEnvelope({ ciphertext: msg })).plaintext.length, 70_000);
  // VerifyStore probes both keys in the engine (AES: encrypt + decrypt; RSA: sign + verify).
  const healthy = await again.verifyStore();
  assert.deepEqual([healthy.keyVersions, healthy.keyVersionsVerified, healthy.keyProblems], [2, 2, []]);
  await again.close();
  const refused = await Kms.open({ path, passphrase: 'pw', transit: { ...transit, token: 'wrong' } });
  await assert.rejects(refused.decryptEnvelope({ ciphertext: msg }), (x) => x instanceof BackendError && /permission denied/.test(x.message));
  await refused.close();
  const gone = await Kms.open({ path, passphrase: 'pw', transit: { ...transit, address: 'http://127.0.0.1:9' } });
  await assert.rejects(gone.decryptEnvelope({ ciphertext: msg }), BackendError);
  // An engine that is not there: every key version named, not an error of the call.
  const dead = await gone.verifyStore();
  assert.equal(dead.keyVersions, 2);
  assert.equal(dead.keyVersionsVerified, 0);
  assert.deepEqual(dead.keyProblems.map((p) => p.keyId).sort(), [k, rsa].sort());
  assert.ok(dead.keyProblems.every((p) => p.code === 'Rejected.BackendUnavailable'), JSON.stringify(dead.keyProblems));
  await gone.close();
  const plain = await Kms.open({ path, passphrase: 'pw' });
  await assert.rejects(plain.decryptEnvelope({ ciphertext: msg }), (x) => x instanceof BackendError && /transit/.test(x.message));
  await plain.close();
});

test('what the engine lacks, and bad settings, are refused by name', async () => {
  const kms = await Kms.memory({ transit: { address: bao.address, token: bao.token } });
  await assert.rejects(kms.createKey({ keySpec: 'Aliyun_AES_192' }), (x) => x instanceof RejectedError && x.code === 'Rejected.Unsupported');
  await assert.rejects(Kms.memory({ transit: { address: 'bao:8200', token: 't' } }), (x) => x instanceof InvalidParameterError && x.code === 'InvalidParameter.Transit');
  await assert.rejects(Kms.memory({ transit: { address: bao.address, token: 't' }, transport: () => new Uint8Array() }), (x) => x.code === 'InvalidParameter.Transit');
});
