// Node side: Encrypt (64 B) and GenerateDataKey through the npm package (wasm core),
// against node:crypto aes-256-gcm doing the equivalent work in the same run. JSON lines.
import { createCipheriv, randomBytes } from 'node:crypto';
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
