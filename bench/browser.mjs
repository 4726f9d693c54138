// Chromium side: envelope encryption of 1 MiB and 64 MiB through the npm browser build
// (frames on WebCrypto), against WebCrypto AES-256-GCM one-shot on the same sizes, in
// the same page; Encrypt / Decrypt 64 B and GenerateDataKey (in the wasm) against
// WebCrypto AES-GCM of 64 B; CreateKey RSA_2048 / EC_P256 against WebCrypto generateKey;
// asymmetric sign / verify / OAEP decrypt against WebCrypto. Run by `node npm/test/browser/run.mjs --page bench/browser.html`.
import { Kms, verifySignature } from '/npm/dist/browser.mjs';

const results = [];
/** Median per-call time over `rounds` samples of `batch` calls each (Chromium's
 * performance.now() is coarsened to 100 µs: fast operations need batches). */
async function medianNs(fn, rounds, batch = 1) {
  await fn();
  const xs = [];
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    for (let i = 0; i < batch; i++) await fn();
    xs.push(((performance.now() - t) * 1e6) / batch);
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
  // The small calls run in the wasm itself (no WebCrypto under them): Encrypt /
  // Decrypt of 64 B and GenerateDataKey against WebCrypto AES-256-GCM of 64 B. These
  // are what the browsers' size-built wasm (opt-level "z", npm/build.mjs) pays for.
  {
    const pt = new Uint8Array(64).fill(0x5a);
    const iv = new Uint8Array(12);
    const peer = await medianNs(() => subtle.encrypt({ name: 'AES-GCM', iv }, k, pt), 31, 200);
    const blob = (await kms.encrypt({ keyId: key.keyId, plaintext: pt })).ciphertextBlob;
    report('Encrypt-64B', await medianNs(() => kms.encrypt({ keyId: key.keyId, plaintext: pt }), 31, 200), 'WebCrypto AES-GCM 64 B', peer);
    report('Decrypt-64B', await medianNs(() => kms.decrypt({ ciphertextBlob: blob }), 31, 200), 'WebCrypto AES-GCM 64 B', peer);
    report('GenerateDataKey', await medianNs(() => kms.generateDataKey({ keyId: key.keyId }), 31, 200), 'WebCrypto AES-GCM 64 B', peer);
  }
  // Key generation in the wasm (RustCrypto; no WebCrypto under it): CreateKey RSA_2048
  // and EC_P256 against WebCrypto's generateKey. CreateKey also commits the key to the
  // store (Aliyun_AES_256 shows that part alone). RSA prime search time varies a lot
  // from key to key: the median of 9.
  for (const [spec, gen, rounds, batch, usage] of [
    ['Aliyun_AES_256', { name: 'AES-GCM', length: 256 }, 31, 20, 'ENCRYPT/DECRYPT'],
    ['RSA_2048', { name: 'RSA-PSS', hash: 'SHA-256', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) }, 9, 1],
    ['EC_P256', { name: 'ECDSA', namedCurve: 'P-256' }, 31, 20],
  ]) {
    const uses = usage ? ['encrypt', 'decrypt'] : ['sign', 'verify'];
    report(`CreateKey-${spec}`, await medianNs(() => kms.createKey({ keySpec: spec, keyUsage: usage ?? 'SIGN/VERIFY' }), rounds, batch), 'WebCrypto generateKey', await medianNs(() => subtle.generateKey(gen, false, uses), rounds, batch));
  }
  // Asymmetric: through the package (WebCrypto for RSA-OAEP decryption and message
  // signing / verification, the wasm core's RustCrypto for digests) against WebCrypto.
  const msg = new TextEncoder().encode('benchmark message');
  const digest = new Uint8Array(await subtle.digest('SHA-256', msg));
  const rsaGen = (name) => ({ name, hash: 'SHA-256', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) });
  for (const [spec, alg, gen, op, rounds] of [
    ['RSA_2048', 'RSA_PSS_SHA_256', rsaGen('RSA-PSS'), { name: 'RSA-PSS', saltLength: 32 }, 21],
    ['RSA_2048', 'RSA_PKCS1_SHA_256', rsaGen('RSASSA-PKCS1-v1_5'), { name: 'RSASSA-PKCS1-v1_5' }, 21],
    ['EC_P256', 'ECDSA_SHA_256', { name: 'ECDSA', namedCurve: 'P-256' }, { name: 'ECDSA', hash: 'SHA-256' }, 101],
  ]) {
    const k = await kms.createKey({ keySpec: spec, keyUsage: 'SIGN/VERIFY' });
    const pub = (await kms.getPublicKey({ keyId: k.keyId })).publicKeyDer;
    const sig = (await kms.asymmetricSign({ keyId: k.keyId, algorithm: alg, message: msg })).value;
    const pair = await subtle.generateKey(gen, false, ['sign', 'verify']);
    const psig = await subtle.sign(op, pair.privateKey, msg);
    const peerSign = await medianNs(() => subtle.sign(op, pair.privateKey, msg), rounds, 20);
    const peerVerify = await medianNs(() => subtle.verify(op, pair.publicKey, psig, msg), rounds, 50);
    report(`AsymmetricSign-message-${spec}-${alg}`, await medianNs(() => kms.asymmetricSign({ keyId: k.keyId, algorithm: alg, message: msg }), rounds, 20), 'WebCrypto', peerSign);
    report(`AsymmetricSign-digest-${spec}-${alg}`, await medianNs(() => kms.asymmetricSign({ keyId: k.keyId, algorithm: alg, digest }), Math.min(rounds, 11), spec === 'EC_P256' ? 20 : 1), 'WebCrypto', peerSign);
    report(`VerifySignature-message-${spec}-${alg}`, await medianNs(() => verifySignature({ publicKey: pub, keySpec: spec, algorithm: alg, signature: sig, message: msg }), rounds, 50), 'WebCrypto', peerVerify);
    report(`VerifySignature-digest-${spec}-${alg}`, await medianNs(() => verifySignature({ publicKey: pub, keySpec: spec, algorithm: alg, signature: sig, digest }), rounds, 20), 'WebCrypto', peerVerify);
  }
  {
    const k = await kms.createKey({ keySpec: 'RSA_2048' });
    const ct = (await kms.asymmetricEncrypt({ keyId: k.keyId, algorithm: 'RSAES_OAEP_SHA_256', plaintext: digest })).ciphertextBlob;
    const pair = await subtle.generateKey(rsaGen('RSA-OAEP'), false, ['encrypt', 'decrypt']);
    const pct = await subtle.encrypt({ name: 'RSA-OAEP' }, pair.publicKey, digest);
    report('AsymmetricDecrypt-RSA_2048-OAEP_SHA_256', await medianNs(() => kms.asymmetricDecrypt({ keyId: k.keyId, algorithm: 'RSAES_OAEP_SHA_256', ciphertextBlob: ct }), 21, 20), 'WebCrypto', await medianNs(() => subtle.decrypt({ name: 'RSA-OAEP' }, pair.privateKey, pct), 21, 20));
  }
} catch (e) {
  results.push({ ok: false, name: 'bench', error: `${e && e.stack ? e.stack : e}` });
}
window.__results = results;
