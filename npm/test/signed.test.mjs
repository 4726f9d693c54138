// Signed envelope messages (suite 0x0002) in Node: the full package signs (one-shot,
// web stream, Node stream) and verifies with its signer reported; a required signer is
// enforced; tampering fails with its code; strongroom/decrypt verifies on WebCrypto;
// both read tests/vectors/envelope_signed_v1.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Kms, InvalidCiphertextError, _vectorOpenEnvelope } from 'strongroom';
import * as light from 'strongroom/decrypt';

const V = JSON.parse(readFileSync(new URL('../../tests/vectors/envelope_signed_v1.json', import.meta.url), 'utf8'));
const hex = (s) => Uint8Array.from(s.match(/../g) ?? [], (b) => parseInt(b, 16));
const enc = new TextEncoder();

async function setup() {
  const kms = await Kms.memory();
  const to = (await kms.createKey()).keyId;
  const signer = (await kms.createKey({ keySpec: 'EC_P256', keyUsage: 'SIGN/VERIFY' })).keyId;
  await kms.createAlias({ aliasName: 'alias/sender', keyId: signer });
  return { kms, to, signer };
}

test('one-shot, web streams and Node streams sign; readers report a known signer', async () => {
  const { kms, to, signer } = await setup();
  const pt = enc.encode('signed in node '.repeat(20_000));
  const msg = await kms.encryptEnvelope({ keyIds: [to], plaintext: pt, signingKeyId: 'alias/sender', frameLength: 65536 });
  const r = await kms.decryptEnvelope({ ciphertext: msg, requiredSigner: signer });
  assert.deepEqual(r.plaintext, pt);
  assert.equal(r.signer.keyId, signer);
  assert.equal(r.signer.known, true);
  assert.deepEqual(r.signer.publicKey, (await kms.getPublicKey({ keyId: signer })).publicKeyDer);
  // Web streams.
  const chunks = [];
  const src = new ReadableStream({ start(c) { for (let i = 0; i < pt.length; i += 7777) c.enqueue(pt.subarray(i, i + 7777)); c.close(); } });
  await src.pipeThrough(kms.encryptStream({ keyIds: [to], signingKeyId: signer, frameLength: 4096 })).pipeTo(new WritableStream({ write(c) { chunks.push(c); } }));
  const streamed = Buffer.concat(chunks);
  assert.deepEqual((await kms.decryptEnvelope({ ciphertext: streamed, requiredSigner: 'alias/sender' })).plaintext, pt);
  const ds = kms.decryptStream({ requiredSigner: signer });
  const out = await new Response(new Blob([streamed]).stream().pipeThrough(ds)).arrayBuffer();
  assert.deepEqual(new Uint8Array(out), pt);
  assert.equal((await ds.info).signer.known, true);
  // Node streams.
  const parts = [];
  await pipeline(Readable.from([pt]), kms.createEncryptStream({ keyIds: [to], signingKeyId: signer }), new Writable({ write(c, _e, cb) { parts.push(c); cb(); } }));
  assert.deepEqual((await kms.decryptEnvelope({ ciphertext: Buffer.concat(parts) })).plaintext, pt);
  // strongroom/decrypt opens the same message, the signature checked on WebCrypto.
  const unwrap = async (q) => (await kms.decrypt({ ciphertextBlob: q.ciphertextBlob, encryptionContext: q.encryptionContext })).plaintext;
  const publicKey = (await kms.getPublicKey({ keyId: signer })).publicKeyDer;
  const l = await light.decryptEnvelope({ ciphertext: msg, unwrap, requiredSigner: { publicKey, keyId: signer } });
  assert.deepEqual(l.plaintext, pt);
  assert.equal(l.signer.known, true);
  assert.equal(light.parseEnvelopeHeader(msg).signer.keyId, signer);
  const ls = light.createDecryptStream({ unwrap });
  const lo = await new Response(new Blob([streamed]).stream().pipeThrough(ls)).arrayBuffer();
  assert.deepEqual(new Uint8Array(lo), pt);
  assert.equal((await ls.info).signer.known, false, 'no required signer given: not known');
});

test('a required signer, tampering and bad signing keys fail with their codes', async () => {
  const { kms, to, signer } = await setup();
  const other = (await kms.createKey({ keySpec: 'EC_P256', keyUsage: 'SIGN/VERIFY' })).keyId;
  const msg = await kms.encryptEnvelope({ keyIds: [to], plaintext: enc.encode('x'.repeat(1000)), signingKeyId: signer, frameLength: 256 });
  const plain = await kms.encryptEnvelope({ keyIds: [to], plaintext: enc.encode('unsigned') });
  assert.equal((await kms.decryptEnvelope({ ciphertext: plain })).signer, undefined);
  for (const [ct, req] of [[plain, signer], [msg, other]]) {
    await assert.rejects(kms.decryptEnvelope({ ciphertext: ct, requiredSigner: req }), (e) => e instanceof InvalidCiphertextError && e.code === 'InvalidCiphertext.SignerMismatch');
  }
  const unwrap = async (q) => (await kms.decrypt({ ciphertextBlob: q.ciphertextBlob, encryptionContext: q.encryptionContext })).plaintext;
  const otherPk = (await kms.getPublicKey({ keyId: other })).publicKeyDer;
  await assert.rejects(light.decryptEnvelope({ ciphertext: msg, unwrap, requiredSigner: { publicKey: otherPk } }), { code: 'InvalidCiphertext.SignerMismatch' });
  const flipped = msg.slice();
  flipped[flipped.length - 3] ^= 1;
  const cases = [
    [flipped, 'InvalidCiphertext.Signature'],
    [msg.subarray(0, msg.length - 1), 'InvalidCiphertext.Truncated'],
    [Buffer.concat([msg, Buffer.from([0])]), 'InvalidCiphertext.TrailingData'],
  ];
  for (const [ct, code] of cases) {
    await assert.rejects(kms.decryptEnvelope({ ciphertext: ct }), { code }, code);
    await assert.rejects(light.decryptEnvelope({ ciphertext: ct, unwrap }), { code }, `decrypt entry: ${code}`);
    // Streamed in small chunks: the final frame (232 bytes) is never released on a bad signature.
    const got = [];
    const ds = kms.decryptStream();
    const src = new ReadableStream({ start(c) { for (let i = 0; i < ct.length; i += 50) c.enqueue(ct.subarray(i, i + 50)); c.close(); } });
    await assert.rejects(src.pipeThrough(ds).pipeTo(new WritableStream({ write(c) { got.push(c); } })), { code });
    if (code !== 'InvalidCiphertext.TrailingData') assert.ok(Buffer.concat(got).length <= 768, `${code}: ${Buffer.concat(got).length} bytes released`);
  }
  await assert.rejects(kms.encryptEnvelope({ keyIds: [to], plaintext: enc.encode('x'), signingKeyId: to }), { code: 'InvalidParameter.SigningKeyId' });
  await assert.rejects(kms.encryptEnvelope({ keyIds: [to], plaintext: enc.encode('x'), signingKeyId: 5 }), { code: 'InvalidParameter.SigningKeyId' });
});

test('the shared vectors: the core and strongroom/decrypt open them with the data key', async () => {
  const dk = hex(V.data_key);
  for (const m of V.messages) {
    assert.deepEqual(await _vectorOpenEnvelope(dk, hex(m.message)), hex(m.plaintext), m.name);
    const r = await light.decryptEnvelope({ ciphertext: hex(m.message), unwrap: async () => dk.slice(), requiredSigner: { publicKey: hex(V.signer.public_key), keyId: V.signer.key_id } });
    assert.deepEqual(r.plaintext, hex(m.plaintext), m.name);
  }
  for (const n of V.negative) {
    await assert.rejects(_vectorOpenEnvelope(dk, hex(n.message)), { code: n.error }, n.name);
    await assert.rejects(light.decryptEnvelope({ ciphertext: hex(n.message), unwrap: async () => dk.slice() }), { code: n.error }, `decrypt entry: ${n.name}`);
  }
});
