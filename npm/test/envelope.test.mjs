// Envelope messages in Node: the shared vectors on every frame cipher this runtime has
// (node:crypto, WebCrypto, wasm), the Kms faces (bytes, web streams, Node streams),
// errors with codes, and the data-key cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import {
  Kms, StrongroomError, InvalidCiphertextError, KeyNotFoundError, InvalidParameterError,
  _vectorOpenEnvelope, _vectorResealEnvelope, _frameCiphers,
} from 'strongroom';

const V = JSON.parse(readFileSync(new URL('../../tests/vectors/envelope_v1.json', import.meta.url)));
const hex = (s) => Uint8Array.from(Buffer.from(s, 'hex'));
const tohex = (b) => Buffer.from(b).toString('hex');
const ciphers = await _frameCiphers();

test('this runtime offers node:crypto, WebCrypto and wasm frame ciphers', () => {
  assert.deepEqual(Object.keys(ciphers).sort(), ['platform', 'wasm', 'webcrypto']);
});

for (const [name, cipher] of Object.entries(ciphers)) {
  test(`vectors on the ${name} frame cipher: open, reseal byte for byte, negatives`, async () => {
    for (const v of V.data_key) {
      const pt = await _vectorOpenEnvelope(hex(v.data_key), hex(v.message), cipher);
      assert.equal(tohex(pt), v.plaintext, v.name);
      const again = await _vectorResealEnvelope(hex(v.data_key), hex(v.message), hex(v.plaintext), cipher);
      assert.equal(tohex(again), v.message, v.name);
    }
    for (const v of V.negative) {
      const dk = hex(v.data_key ?? V.data_key[0].data_key);
      await assert.rejects(_vectorOpenEnvelope(dk, hex(v.message), cipher), (e) => {
        assert.ok(e instanceof StrongroomError, `${v.name}: ${e}`);
        assert.equal(e.code, v.error, v.name);
        return true;
      });
    }
  });
}

test('store vectors: messages made in Rust decrypt, failures carry their codes', async () => {
  const s = V.store;
  const kms = await Kms.open({ image: hex(s.image), passphrase: s.passphrase });
  for (const m of s.messages) {
    const r = await kms.decryptEnvelope({ ciphertext: hex(m.message), encryptionContext: m.encryption_context });
    assert.equal(tohex(r.plaintext), m.plaintext);
    assert.equal(r.keyId, s.key_ids[0]);
  }
  for (const m of s.negative) {
    await assert.rejects(kms.decryptEnvelope({ ciphertext: hex(m.message), encryptionContext: m.encryption_context }), (e) => e.code === m.error);
  }
});

test('encryptEnvelope / decryptEnvelope: multi-recipient, context, info', async () => {
  const kms = await Kms.memory();
  const a = (await kms.createKey()).keyId;
  const b = (await kms.createKey()).keyId;
  await kms.createAlias({ aliasName: 'alias/node-b', keyId: b });
  const data = new Uint8Array(300_001).map((_, i) => (i * 13) & 255);
  const ct = await kms.encryptEnvelope({ keyIds: [a, 'alias/node-b'], plaintext: data, encryptionContext: { app: 'node' }, frameLength: 4096 });
  assert.equal(Buffer.from(ct.subarray(0, 4)).toString(), 'SREN');
  const r = await kms.decryptEnvelope({ ciphertext: ct, encryptionContext: { app: 'node' } });
  assert.deepEqual(r.plaintext, data);
  assert.equal(r.keyId, a);
  assert.deepEqual(r.encryptionContext, { app: 'node' });
  await kms.disableKey({ keyId: a });
  assert.equal((await kms.decryptEnvelope({ ciphertext: ct })).keyId, b);
  // Every frame cipher reads what node:crypto wrote.
  for (const c of Object.values(ciphers)) {
    assert.deepEqual((await kms.decryptEnvelope({ ciphertext: ct }, c)).plaintext, data);
  }
});

test('frames longer than node:crypto\'s 128 KiB update pieces: one-shot, streamed and every cipher agree', async () => {
  const kms = await Kms.memory();
  const k = (await kms.createKey()).keyId;
  // 300,000-byte frames: two whole 128 KiB pieces and a partial one each; a final frame
  // of 100,001 bytes.
  const data = new Uint8Array(700_001).map((_, i) => (i * 31 + 7) & 255);
  const ct = await kms.encryptEnvelope({ keyIds: [k], plaintext: data, frameLength: 300_000 });
  const streamed = await collect(Readable.toWeb(Readable.from([data.subarray(0, 123_457), data.subarray(123_457)])).pipeThrough(kms.encryptStream({ keyIds: [k], frameLength: 300_000 })));
  assert.deepEqual((await kms.decryptEnvelope({ ciphertext: streamed })).plaintext, data);
  assert.deepEqual((await kms.decryptEnvelope({ ciphertext: ct })).plaintext, data);
  for (const c of Object.values(ciphers)) {
    assert.deepEqual((await kms.decryptEnvelope({ ciphertext: ct }, c)).plaintext, data);
  }
  // A flipped byte in the second piece of frame 2 is reported as frame 2, on the
  // one-shot path as on the streaming one.
  const frame2 = ct.length - (5 + 100_001 + 16) - (300_000 + 16);
  const t = ct.slice();
  t[frame2 + 140_000] ^= 1;
  const frame2Fails = (e) => e.code === 'InvalidCiphertext.FrameAuthentication' && /frame 2 /.test(e.message);
  await assert.rejects(kms.decryptEnvelope({ ciphertext: t }), frame2Fails);
  await assert.rejects(collect(Readable.toWeb(Readable.from([t])).pipeThrough(kms.decryptStream())), frame2Fails);
});

test('node:crypto openInto leaves nothing of a frame that fails authentication', async () => {
  const key = new Uint8Array(32).fill(9);
  const c = await ciphers.platform(key.slice());
  const nonce = new Uint8Array(12).fill(1);
  const pt = new Uint8Array(300_000).fill(0x41);
  const sealed = c.seal(nonce, pt);
  const out = new Uint8Array(pt.length);
  c.openInto(nonce, sealed, out);
  assert.deepEqual(out, pt);
  sealed[sealed.length - 1] ^= 1;
  const out2 = new Uint8Array(pt.length).fill(0xee);
  assert.throws(() => c.openInto(nonce, sealed, out2));
  assert.ok(out2.every((b) => b === 0), 'the partly decrypted frame is wiped');
});

test('errors: distinct codes and classes', async () => {
  const kms = await Kms.memory();
  const k = (await kms.createKey()).keyId;
  const ct = await kms.encryptEnvelope({ keyIds: [k], plaintext: new Uint8Array(100), encryptionContext: { a: '1' }, frameLength: 16 });
  const cases = [
    [{ ciphertext: ct, encryptionContext: { a: '2' } }, 'InvalidCiphertext.ContextMismatch'],
    [{ ciphertext: ct.subarray(0, ct.length - 1) }, 'InvalidCiphertext.Truncated'],
    [{ ciphertext: new Uint8Array([...ct, 0]) }, 'InvalidCiphertext.TrailingData'],
    [{ ciphertext: new TextEncoder().encode('not an envelope') }, 'InvalidCiphertext.NotAnEnvelope'],
    [{ ciphertext: new Uint8Array(0) }, 'InvalidCiphertext.NotAnEnvelope'],
  ];
  for (const [opts, code] of cases) {
    await assert.rejects(kms.decryptEnvelope(opts), (e) => e instanceof InvalidCiphertextError && e.code === code);
  }
  const t = ct.slice();
  t[t.length - 30] ^= 1;
  await assert.rejects(kms.decryptEnvelope({ ciphertext: t }), (e) => e.code === 'InvalidCiphertext.FrameAuthentication' && /frame 6/.test(e.message));
  await assert.rejects((await Kms.memory()).decryptEnvelope({ ciphertext: ct }), (e) => e instanceof InvalidCiphertextError && e.code === 'Forbidden.NoRecipientKey');
  await assert.rejects(kms.encryptEnvelope({ keyIds: [], plaintext: new Uint8Array(1) }), (e) => e instanceof InvalidParameterError && e.code === 'InvalidParameter.KeyIds');
  await assert.rejects(kms.encryptEnvelope({ keyIds: k, plaintext: new Uint8Array(1) }), (e) => e.code === 'InvalidParameter.KeyIds');
  await assert.rejects(kms.encryptEnvelope({ keyIds: [k], plaintext: 'text' }), (e) => e.code === 'InvalidParameter.Plaintext');
});

test('every single-bit flip of a small message is rejected', async () => {
  const kms = await Kms.memory();
  const k = (await kms.createKey()).keyId;
  const ct = await kms.encryptEnvelope({ keyIds: [k], plaintext: new TextEncoder().encode('flip me'), frameLength: 4 });
  for (let i = 0; i < ct.length * 8; i++) {
    const t = ct.slice();
    t[i >> 3] ^= 1 << (i & 7);
    await assert.rejects(kms.decryptEnvelope({ ciphertext: t }), StrongroomError, `bit ${i}`);
  }
});

async function collect(readable) {
  const parts = [];
  for await (const c of readable) parts.push(c);
  return Buffer.concat(parts);
}

test('web streams: odd chunk sizes both ways; info; truncation is an error', async () => {
  const kms = await Kms.memory();
  const k = (await kms.createKey()).keyId;
  const data = new Uint8Array(200_000).map((_, i) => (i * 7) & 255);
  for (const chunk of [1, 999, 4096, 65536]) {
    const chunks = [];
    for (let i = 0; i < data.length; i += chunk * 50) chunks.push(data.subarray(i, Math.min(data.length, i + chunk * 50)));
    const src = new ReadableStream({ start(c) { for (const x of chunks) c.enqueue(x); c.close(); } });
    const ct = await collect(src.pipeThrough(kms.encryptStream({ keyIds: [k], encryptionContext: { s: '1' }, frameLength: 4096 })));
    assert.deepEqual((await kms.decryptEnvelope({ ciphertext: new Uint8Array(ct) })).plaintext, data);
    const pieces = [];
    for (let i = 0; i < ct.length; i += chunk) pieces.push(new Uint8Array(ct.subarray(i, i + chunk)));
    const dec = kms.decryptStream({ encryptionContext: { s: '1' } });
    const out = collect(new ReadableStream({ start(c) { for (const x of pieces) c.enqueue(x); c.close(); } }).pipeThrough(dec));
    assert.deepEqual(new Uint8Array(await out), data, `chunk ${chunk}`);
    assert.equal((await dec.info).keyId, k);
  }
  const ct = await kms.encryptEnvelope({ keyIds: [k], plaintext: data, frameLength: 4096 });
  const cut = new ReadableStream({ start(c) { c.enqueue(ct.subarray(0, ct.length - 100)); c.close(); } });
  const dec = kms.decryptStream();
  await assert.rejects(collect(cut.pipeThrough(dec)), (e) => e.code === 'InvalidCiphertext.Truncated');
  // A stream that ends inside the header, or carries nothing at all.
  const headOnly = new ReadableStream({ start(c) { c.enqueue(ct.subarray(0, 100)); c.close(); } });
  await assert.rejects(collect(headOnly.pipeThrough(kms.decryptStream())), (e) => e.code === 'InvalidCiphertext.Truncated');
  const empty = new ReadableStream({ start(c) { c.close(); } });
  await assert.rejects(collect(empty.pipeThrough(kms.decryptStream())), (e) => e.code === 'InvalidCiphertext.NotAnEnvelope');
});

test('Node streams: pipeline file → encrypt → file → decrypt → file', async (t) => {
  const kms = await Kms.memory();
  const k = (await kms.createKey()).keyId;
  const dir = mkdtempSync(join(tmpdir(), 'strongroom-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const data = Buffer.alloc(1_000_000, 'node stream ');
  writeFileSync(join(dir, 'p'), data);
  await pipeline(createReadStream(join(dir, 'p')), kms.createEncryptStream({ keyIds: [k], encryptionContext: { f: 'p' } }), createWriteStream(join(dir, 'c')));
  await pipeline(createReadStream(join(dir, 'c')), kms.createDecryptStream({ encryptionContext: { f: 'p' } }), createWriteStream(join(dir, 'q')));
  assert.deepEqual(readFileSync(join(dir, 'q')), data);
  const bad = readFileSync(join(dir, 'c'));
  bad[bad.length - 1000] ^= 1;
  await assert.rejects(
    pipeline(Readable.from([bad]), kms.createDecryptStream(), createWriteStream(join(dir, 'r'))),
    (e) => e.code === 'InvalidCiphertext.FrameAuthentication',
  );
});

test('data-key cache: one wrapped data key for several messages, off again', async () => {
  const kms = await Kms.memory();
  const k = (await kms.createKey()).keyId;
  const stanza = (m) => tohex(m.subarray(47, 150));
  kms.setDataKeyCache({ maxAgeMs: 60_000, maxMessages: 2 });
  const one = new Uint8Array([1]);
  const m1 = await kms.encryptEnvelope({ keyIds: [k], plaintext: one });
  const m2 = await kms.encryptEnvelope({ keyIds: [k], plaintext: one });
  const m3 = await kms.encryptEnvelope({ keyIds: [k], plaintext: one });
  assert.equal(stanza(m1), stanza(m2));
  assert.notEqual(stanza(m2), stanza(m3));
  kms.setDataKeyCache(null);
  const m4 = await kms.encryptEnvelope({ keyIds: [k], plaintext: one });
  assert.notEqual(stanza(m3), stanza(m4));
  for (const m of [m1, m2, m3, m4]) assert.deepEqual((await kms.decryptEnvelope({ ciphertext: m })).plaintext, one);
});

test('one-shot results are plain Uint8Arrays that own their whole buffer (nothing else reachable via .buffer)', async () => {
  const kms = await Kms.memory();
  const k = await kms.createKey({});
  // 10 B and 3 KiB would sit in Node's shared Buffer pool if allocated from it; 3 MiB spans frames.
  for (const n of [0, 10, 3000, 3 * 1024 * 1024 + 7]) {
    const pt = new Uint8Array(n).map((_, i) => i * 7);
    const ct = await kms.encryptEnvelope({ keyIds: [k.keyId], plaintext: pt });
    assert.equal(ct.constructor, Uint8Array, `ciphertext of ${n} B`);
    assert.equal(ct.buffer.byteLength, ct.length, `ciphertext of ${n} B owns its buffer`);
    const { plaintext } = await kms.decryptEnvelope({ ciphertext: ct });
    assert.equal(plaintext.constructor, Uint8Array, `plaintext of ${n} B`);
    assert.equal(plaintext.buffer.byteLength, plaintext.length, `plaintext of ${n} B owns its buffer`);
    assert.deepEqual(plaintext, pt);
  }
});

test('fresh randomness for every message and data key across refills of the wasm entropy pool', async () => {
  const kms = await Kms.memory();
  const k = await kms.createKey({});
  const ids = new Set();
  const keys = new Set();
  // 300 messages draw 300 × (32 + 32 + 12) B, the pool holds 512 B: ~45 refills.
  for (let i = 0; i < 300; i++) {
    const ct = await kms.encryptEnvelope({ keyIds: [k.keyId], plaintext: new Uint8Array(1) });
    ids.add(tohex(ct.subarray(7, 39)));
    const dk = await kms.generateDataKey({ keyId: k.keyId });
    keys.add(tohex(dk.plaintext));
  }
  assert.equal(ids.size, 300);
  assert.equal(keys.size, 300);
  for (const id of ids) assert.notEqual(id, '00'.repeat(32));
});
