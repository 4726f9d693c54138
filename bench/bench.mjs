// Node side: Encrypt (64 B) and GenerateDataKey through the npm package (wasm core),
// against node:crypto aes-256-gcm doing the equivalent work in the same run; envelope
// bulk against node:crypto one-shot, ReEncryptEnvelope against decrypting and
// encrypting again; asymmetric sign / verify / OAEP decrypt (the
// wasm core's pure-Rust RSA / ECDSA) against WebCrypto (secp256k1, which WebCrypto
// lacks, against node:crypto). JSON lines.
import { createCipheriv, createDecipheriv, randomBytes, generateKeyPairSync, sign as nodeSign, verify as nodeVerify, createHash, webcrypto } from 'node:crypto';
import { Kms, SecretCache, verifySignature } from '../npm/dist/node.mjs';

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
/** Medians of per-call times of `ours` and `peer`, measured in alternating blocks of
 * `block` calls each: both sides see the same GC and CPU-frequency conditions over
 * the run, and within a block each reuses its own freed buffers. (Alternating single
 * calls makes the side with the larger output lose: its 1 MiB + header buffer cannot
 * reuse the other's freed 1 MiB chunk and takes fresh, page-faulting memory.) */
async function blockMedians(ours, peer, blocks, block) {
  const a = [];
  const b = [];
  for (let r = 0; r < blocks; r++) {
    for (const [fn, out] of [[ours, a], [peer, b]]) {
      await fn();
      const t = process.hrtime.bigint();
      for (let i = 0; i < block; i++) await fn();
      out.push(Number(process.hrtime.bigint() - t) / block);
    }
  }
  a.sort((x, y) => x - y);
  b.sort((x, y) => x - y);
  return [a[a.length >> 1], b[b.length >> 1]];
}

/** Medians of `ours` and `peer` measured alternately (one call each per round), so
 * both see the same GC and frequency conditions. */
async function pairedMedians(ours, peer, rounds) {
  await ours();
  await peer();
  const a = [];
  const b = [];
  for (let r = 0; r < rounds; r++) {
    let t = process.hrtime.bigint();
    await ours();
    a.push(Number(process.hrtime.bigint() - t));
    t = process.hrtime.bigint();
    await peer();
    b.push(Number(process.hrtime.bigint() - t));
  }
  a.sort((x, y) => x - y);
  b.sort((x, y) => x - y);
  return [a[a.length >> 1], b[b.length >> 1]];
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
// node:crypto aes-256-gcm one-shot on the same sizes; 41 blocks of 16 calls at 1 MiB,
// about a second a side.
for (const [label, size, blocks, block] of [['1MiB', 1 << 20, 41, 16], ['64MiB', 64 << 20, 5, 1]]) {
  const data = new Uint8Array(size).fill(0x5a);
  const ct = await kms.encryptEnvelope({ keyIds: [key.keyId], plaintext: data, encryptionContext: ctx });
  const iv = Buffer.alloc(12, 1);
  const seal = () => { const c = createCipheriv('aes-256-gcm', k, iv); const o = Buffer.concat([c.update(data), c.final()]); return [o, c.getAuthTag()]; };
  const [sealed, tag] = seal();
  const open = () => { const d = createDecipheriv('aes-256-gcm', k, iv); d.setAuthTag(tag); return Buffer.concat([d.update(sealed), d.final()]); };
  const [e1, e2] = await blockMedians(() => kms.encryptEnvelope({ keyIds: [key.keyId], plaintext: data, encryptionContext: ctx }), seal, blocks, block);
  report(`EnvelopeEncrypt-${label}`, e1, 'node:crypto aes-256-gcm one-shot', e2);
  const [d1, d2] = await blockMedians(() => kms.decryptEnvelope({ ciphertext: ct, encryptionContext: ctx }), open, blocks, block);
  report(`EnvelopeDecrypt-${label}`, d1, 'node:crypto aes-256-gcm one-shot', d2);
  // ReEncryptEnvelope (a new header, the frames copied) against what it saves a caller
  // from: decrypting the message and encrypting it again.
  const again = async () => kms.encryptEnvelope({ keyIds: [key.keyId], plaintext: (await kms.decryptEnvelope({ ciphertext: ct })).plaintext, encryptionContext: ctx });
  const [r1, r2] = await blockMedians(() => kms.reEncryptEnvelope({ ciphertext: ct }), again, blocks, block);
  report(`ReEncryptEnvelope-${label}`, r1, 'decryptEnvelope + encryptEnvelope', r2);
}

// Asymmetric: the same operation through the package and through WebCrypto / node:crypto.
const subtle = webcrypto.subtle;
const msg = new TextEncoder().encode('benchmark message');
const digest = new Uint8Array(createHash('sha256').update(msg).digest());
const rsaGen = (name) => ({ name, hash: 'SHA-256', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) });
for (const [spec, alg, wc, rounds] of [
  ['RSA_2048', 'RSA_PSS_SHA_256', { gen: rsaGen('RSA-PSS'), op: { name: 'RSA-PSS', saltLength: 32 } }, 41],
  ['RSA_2048', 'RSA_PKCS1_SHA_256', { gen: rsaGen('RSASSA-PKCS1-v1_5'), op: { name: 'RSASSA-PKCS1-v1_5' } }, 41],
  ['EC_P256', 'ECDSA_SHA_256', { gen: { name: 'ECDSA', namedCurve: 'P-256' }, op: { name: 'ECDSA', hash: 'SHA-256' } }, 201],
  ['EC_P256K', 'ECDSA_SHA_256', null, 201],
]) {
  const k = await kms.createKey({ keySpec: spec, keyUsage: 'SIGN/VERIFY' });
  const pub = (await kms.getPublicKey({ keyId: k.keyId })).publicKeyDer;
  const sig = (await kms.asymmetricSign({ keyId: k.keyId, algorithm: alg, digest })).value;
  let peerSign, peerVerify, peerName;
  if (wc) {
    const pair = await subtle.generateKey(wc.gen, false, ['sign', 'verify']);
    const psig = await subtle.sign(wc.op, pair.privateKey, msg);
    peerSign = () => subtle.sign(wc.op, pair.privateKey, msg);
    peerVerify = () => subtle.verify(wc.op, pair.publicKey, psig, msg);
    peerName = 'WebCrypto (node)';
  } else {
    const pair = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
    const psig = nodeSign('sha256', msg, pair.privateKey);
    peerSign = () => nodeSign('sha256', msg, pair.privateKey);
    peerVerify = () => nodeVerify('sha256', msg, pair.publicKey, psig);
    peerName = 'node:crypto (no secp256k1 in WebCrypto)';
  }
  // From a message: on WebCrypto where it has the algorithm (platformCrypto), else wasm.
  const [m1, m2] = await pairedMedians(() => kms.asymmetricSign({ keyId: k.keyId, algorithm: alg, message: msg }), peerSign, rounds);
  report(`AsymmetricSign-message-${spec}-${alg}`, m1, peerName, m2);
  // From a digest (Alibaba's input): always the wasm core's RustCrypto.
  const [s1, s2] = await pairedMedians(() => kms.asymmetricSign({ keyId: k.keyId, algorithm: alg, digest }), peerSign, rounds);
  report(`AsymmetricSign-digest-${spec}-${alg}`, s1, peerName, s2);
  const [u1, u2] = await pairedMedians(() => verifySignature({ publicKey: pub, keySpec: spec, algorithm: alg, signature: sig, message: msg }), peerVerify, rounds);
  report(`VerifySignature-message-${spec}-${alg}`, u1, peerName, u2);
  const [v1, v2] = await pairedMedians(() => verifySignature({ publicKey: pub, keySpec: spec, algorithm: alg, signature: sig, digest }), peerVerify, rounds);
  report(`VerifySignature-digest-${spec}-${alg}`, v1, peerName, v2);
  const [a1, a2] = await pairedMedians(() => kms.asymmetricVerify({ keyId: k.keyId, algorithm: alg, signature: sig, digest }), peerVerify, rounds);
  report(`AsymmetricVerify-${spec}-${alg}`, a1, peerName, a2);
}
{
  const k = await kms.createKey({ keySpec: 'RSA_2048' });
  const pub = (await kms.getPublicKey({ keyId: k.keyId })).publicKeyDer;
  const ours = (await kms.asymmetricEncrypt({ keyId: k.keyId, algorithm: 'RSAES_OAEP_SHA_256', plaintext: digest })).ciphertextBlob;
  const pair = await subtle.generateKey(rsaGen('RSA-OAEP'), false, ['encrypt', 'decrypt']);
  const theirs = await subtle.encrypt({ name: 'RSA-OAEP' }, pair.publicKey, digest);
  const [o1, o2] = await pairedMedians(() => kms.asymmetricDecrypt({ keyId: k.keyId, algorithm: 'RSAES_OAEP_SHA_256', ciphertextBlob: ours }), () => subtle.decrypt({ name: 'RSA-OAEP' }, pair.privateKey, theirs), 41);
  report('AsymmetricDecrypt-RSA_2048-OAEP_SHA_256', o1, 'WebCrypto (node)', o2);
  const wasmOnly = await Kms.open({ image: await kms.exportImage({ passphrase: 'b' }), passphrase: 'b', platformCrypto: false });
  const [w1, w2] = await pairedMedians(() => wasmOnly.asymmetricDecrypt({ keyId: k.keyId, algorithm: 'RSAES_OAEP_SHA_256', ciphertextBlob: ours }), () => subtle.decrypt({ name: 'RSA-OAEP' }, pair.privateKey, theirs), 11);
  report('AsymmetricDecrypt-RSA_2048-OAEP_SHA_256 (platformCrypto: false)', w1, 'WebCrypto (node)', w2);
  void pub;
}
{
  // Secrets: GetSecretValue through the dispatch, and a cached get through SecretCache
  // against a bare Map.get (the goal: at least half its speed).
  await kms.createSecret({ secretName: 'bench/s', secretData: 'x'.repeat(4096) });
  const gk = randomBytes(32);
  const gn = randomBytes(12);
  const gc = createCipheriv('aes-256-gcm', gk, gn);
  const gct = Buffer.concat([gc.update(Buffer.alloc(4096, 120)), gc.final()]);
  const gtag = gc.getAuthTag();
  const peerOpen = () => {
    const d = createDecipheriv('aes-256-gcm', gk, gn);
    d.setAuthTag(gtag);
    return Buffer.concat([d.update(gct), d.final()]);
  };
  const [g1, g2] = await pairedMedians(() => kms.getSecretValue({ secretName: 'bench/s' }), peerOpen, 21);
  report('GetSecretValue (4 KiB)', g1, 'node:crypto aes-256-gcm decrypt (4 KiB)', g2);
  const cache = new SecretCache(kms, { refreshIntervalMs: 3_600_000 });
  const names = [];
  for (let i = 0; i < 100; i++) {
    names.push(`bench/c${i}`);
    await kms.createSecret({ secretName: `bench/c${i}`, secretData: `v${i}` });
    await cache.get(`bench/c${i}`);
  }
  const map = new Map(names.map((n) => [n, { v: 1 }]));
  let i = 0;
  let j = 0;
  const syncMedian = (fn, rounds = 31, batch = 200_000) => {
    for (let k = 0; k < batch; k++) fn();
    const xs = [];
    for (let r = 0; r < rounds; r++) {
      const t = process.hrtime.bigint();
      for (let k = 0; k < batch; k++) fn();
      xs.push(Number(process.hrtime.bigint() - t) / batch);
    }
    xs.sort((a, b) => a - b);
    return xs[xs.length >> 1];
  };
  let sink = 0;
  const ours = syncMedian(() => { i = (i + 1) % 100; sink += cache.get(names[i]).versionId.length; });
  const peer = syncMedian(() => { j = (j + 1) % 100; sink += map.get(names[j]).v; });
  report('SecretCache cached get', ours, 'Map.get', peer);
  void sink;
}

// Audit: Encrypt 64 B on a file store with the audit level at all (its trail beside it)
// against the same on a file store with audit off, in alternating blocks.
{
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const d = mkdtempSync(join(tmpdir(), 'sr-bench-audit-'));
  const on = await Kms.open({ path: join(d, 'on'), passphrase: 'bench', audit: 'all' });
  const off = await Kms.open({ path: join(d, 'off'), passphrase: 'bench', audit: 'off' });
  const kOn = (await on.createKey()).keyId;
  const kOff = (await off.createKey()).keyId;
  const [a, b] = await blockMedians(
    () => on.encrypt({ keyId: kOn, plaintext: pt, encryptionContext: ctx }),
    () => off.encrypt({ keyId: kOff, plaintext: pt, encryptionContext: ctx }),
    31,
    500,
  );
  console.log(JSON.stringify({ runtime: 'node', op: 'Encrypt-64B-audit-all', strongroom_median_ns: Math.round(a), peer: 'Encrypt-64B audit off', peer_median_ns: Math.round(b), cost_ratio: Math.round((a / b) * 1000) / 1000, goal_cost_ratio: 1.3 }));
  await on.close();
  await off.close();
  rmSync(d, { recursive: true, force: true });
}
