// Node side: Encrypt (64 B) and GenerateDataKey through the npm package (wasm core),
// against node:crypto aes-256-gcm doing the equivalent work in the same run. JSON lines.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Kms } from '../npm/dist/node.mjs';

async function medianNs(fn, rounds = 31, batch = 500) {
  for (let i = 0; i < batch; i++) await fn();
  const xs = [];
  for (let r = 0; r < rounds; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) await fn();
    xs.push(Number(process.hrtime.bigint() - t) / batch);
  }
  xs.sort((a, b) => a - b);
  return xs[xs.length >> 1];
}
function report(op, ours, peerName, peer) {
  console.log(JSON.stringify({ runtime: 'node', op, strongroom_median_ns: Math.round(ours), peer: peerName, peer_median_ns: Math.round(peer), ratio_vs_peer: Math.round((peer / ours) * 1000) / 1000 }));
}
const kms = await Kms.memory();
const key = await kms.createKey();
const ctx = { app: 'bench' };
const pt = new Uint8Array(64);
const k = randomBytes(32);
const aad = Buffer.from([0, 1, 0, 3, 97, 112, 112, 0, 5, 98, 101, 110, 99, 104]);
const raw = (data) => {
  const c = createCipheriv('aes-256-gcm', k, randomBytes(12));
  c.setAAD(aad);
  const out = Buffer.concat([c.update(data), c.final(), c.getAuthTag()]);
  return out;
};
report('Encrypt-64B', await medianNs(() => kms.encrypt({ keyId: key.keyId, plaintext: pt, encryptionContext: ctx })), 'node:crypto aes-256-gcm (64 B)', await medianNs(() => raw(pt)));
report('GenerateDataKey', await medianNs(() => kms.generateDataKey({ keyId: key.keyId, encryptionContext: ctx })), 'randomBytes 32 + node:crypto aes-256-gcm wrap', await medianNs(() => raw(randomBytes(32))));

// Envelope bulk: 1 MiB and 64 MiB through the package (frames on node:crypto), against
// node:crypto aes-256-gcm one-shot on the same sizes.
for (const [label, size, rounds] of [['1MiB', 1 << 20, 31], ['64MiB', 64 << 20, 5]]) {
  const data = new Uint8Array(size).fill(0x5a);
  const ct = await kms.encryptEnvelope({ keyIds: [key.keyId], plaintext: data, encryptionContext: ctx });
  const iv = Buffer.alloc(12, 1);
  const seal = () => { const c = createCipheriv('aes-256-gcm', k, iv); const o = Buffer.concat([c.update(data), c.final()]); return [o, c.getAuthTag()]; };
  const [sealed, tag] = seal();
  const open = () => { const d = createDecipheriv('aes-256-gcm', k, iv); d.setAuthTag(tag); return Buffer.concat([d.update(sealed), d.final()]); };
  report(`EnvelopeEncrypt-${label}`, await medianNs(() => kms.encryptEnvelope({ keyIds: [key.keyId], plaintext: data, encryptionContext: ctx }), rounds, 1), 'node:crypto aes-256-gcm one-shot', await medianNs(seal, rounds, 1));
  report(`EnvelopeDecrypt-${label}`, await medianNs(() => kms.decryptEnvelope({ ciphertext: ct, encryptionContext: ctx }), rounds, 1), 'node:crypto aes-256-gcm one-shot', await medianNs(open, rounds, 1));
}
