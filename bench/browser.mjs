// Chromium side: envelope encryption of 1 MiB and 64 MiB through the npm browser build
// (frames on WebCrypto), against WebCrypto AES-256-GCM one-shot on the same sizes, in
// the same page. Run by `node npm/test/browser/run.mjs --page bench/browser.html`.
import { Kms } from '/npm/dist/browser.mjs';

const results = [];
async function medianNs(fn, rounds) {
  await fn();
  const xs = [];
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    await fn();
    xs.push((performance.now() - t) * 1e6);
  }
  xs.sort((a, b) => a - b);
  return xs[xs.length >> 1];
}
function report(op, ours, peerName, peer) {
  results.push({ ok: true, name: op, line: JSON.stringify({ runtime: 'chromium', op, strongroom_median_ns: Math.round(ours), peer: peerName, peer_median_ns: Math.round(peer), ratio_vs_peer: Math.round((peer / ours) * 1000) / 1000 }) });
}
try {
  const kms = await Kms.memory();
  const key = await kms.createKey();
  const subtle = crypto.subtle;
  const k = await subtle.importKey('raw', crypto.getRandomValues(new Uint8Array(32)), 'AES-GCM', false, ['encrypt', 'decrypt']);
  for (const [label, size, rounds] of [['1MiB', 1 << 20, 31], ['64MiB', 64 << 20, 5]]) {
    const pt = new Uint8Array(size).fill(0x5a);
    const ctx = { bench: 'bulk' };
    const ct = await kms.encryptEnvelope({ keyIds: [key.keyId], plaintext: pt, encryptionContext: ctx });
    const iv = new Uint8Array(12);
    const sealed = await subtle.encrypt({ name: 'AES-GCM', iv }, k, pt);
    const peerEnc = await medianNs(() => subtle.encrypt({ name: 'AES-GCM', iv }, k, pt), rounds);
    const peerDec = await medianNs(() => subtle.decrypt({ name: 'AES-GCM', iv }, k, sealed), rounds);
    report(`EnvelopeEncrypt-${label}`, await medianNs(() => kms.encryptEnvelope({ keyIds: [key.keyId], plaintext: pt, encryptionContext: ctx }), rounds), 'WebCrypto AES-GCM one-shot', peerEnc);
    report(`EnvelopeDecrypt-${label}`, await medianNs(() => kms.decryptEnvelope({ ciphertext: ct, encryptionContext: ctx }), rounds), 'WebCrypto AES-GCM one-shot', peerDec);
  }
} catch (e) {
  results.push({ ok: false, name: 'bench', error: `${e && e.stack ? e.stack : e}` });
}
window.__results = results;
