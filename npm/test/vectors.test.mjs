// tests/vectors/blob_v1.json through the npm package in Node, and the blobs opened by
// node:crypto's AES-GCM (an implementation no one here wrote) following docs/FORMAT.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createDecipheriv } from 'node:crypto';
import { Kms, _vectorSeal } from 'strongroom';

const V = JSON.parse(readFileSync(new URL('../../tests/vectors/blob_v1.json', import.meta.url)));
const hex = (s) => Uint8Array.from(Buffer.from(s, 'hex'));

function contextAad(ctx) {
  const keys = Object.keys(ctx).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const parts = [Buffer.from([keys.length >> 8, keys.length & 255])];
  for (const k of keys) for (const s of [k, ctx[k]]) {
    const b = Buffer.from(s, 'utf8');
    parts.push(Buffer.from([b.length >> 8, b.length & 255]), b);
  }
  return Buffer.concat(parts);
}

for (const v of V.blobs) {
  test(`vector ${v.name}: seal matches and node:crypto opens it`, async () => {
    const blob = await _vectorSeal({ material: hex(v.material), nonce: hex(v.nonce), keyId: v.key_id, keyVersionId: v.key_version_id, plaintext: hex(v.plaintext), encryptionContext: v.encryption_context });
    assert.equal(Buffer.from(blob).toString('hex'), v.blob);
    const b = Buffer.from(v.blob, 'hex');
    const hdrLen = 3 + b[1] + b[2 + b[1]];
    const nonce = b.subarray(hdrLen, hdrLen + 12);
    const ct = b.subarray(hdrLen + 12, b.length - 16);
    const tag = b.subarray(b.length - 16);
    const alg = { 16: 'aes-128-gcm', 24: 'aes-192-gcm', 32: 'aes-256-gcm' }[v.material.length / 2];
    const d = createDecipheriv(alg, Buffer.from(v.material, 'hex'), nonce);
    d.setAAD(Buffer.concat([b.subarray(0, hdrLen), contextAad(v.encryption_context)]));
    d.setAuthTag(tag);
    assert.equal(Buffer.concat([d.update(ct), d.final()]).toString('hex'), v.plaintext);
  });
}

test('store image vector decrypts through the Kms API', async () => {
  const s = V.store;
  const kms = await Kms.open({ image: hex(s.image), passphrase: s.passphrase });
  assert.equal((await kms.describeKey({ keyId: s.key_id })).creationDate, s.creation_date);
  const d = await kms.decrypt({ ciphertextBlob: hex(s.blob), encryptionContext: s.encryption_context });
  assert.equal(Buffer.from(d.plaintext).toString('hex'), s.plaintext);
});
