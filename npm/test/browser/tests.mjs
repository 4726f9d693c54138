// Runs in headless Chromium against the npm package's browser build (wasm-bindgen
// `web` target): the shared vectors, the Kms actions, WebCrypto opening our blobs,
// and (when the runner provides one) a store image + blob made by Python.
import { Kms, BackendServer, StrongroomError, InvalidCiphertextError, _vectorSeal, _vectorOpenEnvelope, _vectorResealEnvelope, _frameCiphers } from '/npm/dist/browser.mjs';

const results = [];
async function test(name, fn) {
  try {
    await fn();
    results.push({ name, ok: true });
  } catch (e) {
    results.push({ name, ok: false, error: `${e && e.stack ? e.stack : e}` });
  }
}
function assert(c, msg) { if (!c) throw new Error(msg || 'assertion failed'); }
const hex = (s) => Uint8Array.from(s.match(/../g) || [], (h) => parseInt(h, 16));
const tohex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const enc = new TextEncoder();

function contextAad(ctx) {
  const keys = Object.keys(ctx).sort((a, b) => {
    const x = enc.encode(a), y = enc.encode(b);
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
    return x.length - y.length;
  });
  const out = [keys.length >> 8, keys.length & 255];
  for (const k of keys) for (const s of [k, ctx[k]]) { const b = enc.encode(s); out.push(b.length >> 8, b.length & 255, ...b); }
  return new Uint8Array(out);
}

const V = await (await fetch('/tests/vectors/blob_v1.json')).json();
for (const v of V.blobs) {
  await test(`vector ${v.name} (wasm seal${v.material.length === 48 ? '' : ' + WebCrypto open'})`, async () => {
    const blob = await _vectorSeal({ material: hex(v.material), nonce: hex(v.nonce), keyId: v.key_id, keyVersionId: v.key_version_id, plaintext: hex(v.plaintext), encryptionContext: v.encryption_context });
    assert(tohex(blob) === v.blob, 'blob bytes differ');
    if (v.material.length === 48) return; // Chromium's WebCrypto has no AES-192; the wasm check above stands
    const b = hex(v.blob);
    const hdrLen = 3 + b[1] + b[2 + b[1]];
    const aad = new Uint8Array([...b.subarray(0, hdrLen), ...contextAad(v.encryption_context)]);
    const key = await crypto.subtle.importKey('raw', hex(v.material), 'AES-GCM', false, ['decrypt']);
    const pt = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: b.subarray(hdrLen, hdrLen + 12), additionalData: aad }, key, b.subarray(hdrLen + 12)));
    assert(tohex(pt) === v.plaintext, 'WebCrypto plaintext differs');
  });
}

await test('store image vector decrypts', async () => {
  const s = V.store;
  const kms = await Kms.open({ image: hex(s.image), passphrase: s.passphrase });
  const d = await kms.decrypt({ ciphertextBlob: hex(s.blob), encryptionContext: s.encryption_context });
  assert(tohex(d.plaintext) === s.plaintext);
});

for (const kind of ['software', 'loopback']) {
  await test(`Kms actions in the browser (${kind})`, async () => {
    let kms;
    if (kind === 'software') kms = await Kms.memory();
    else {
      const server = await BackendServer.software();
      kms = await Kms.memory({ transport: (r) => server.handle(r) });
    }
    const k = await kms.createKey({ description: 'browser' });
    assert(k.keyState === 'Enabled' && k.keySpec === 'Aliyun_AES_256');
    const e = await kms.encrypt({ keyId: k.keyId, plaintext: enc.encode('hi from chromium'), encryptionContext: { a: 'b' } });
    const d = await kms.decrypt({ ciphertextBlob: e.ciphertextBlob, encryptionContext: { a: 'b' } });
    assert(new TextDecoder().decode(d.plaintext) === 'hi from chromium');
    const g = await kms.generateDataKey({ keyId: k.keyId });
    assert(g.plaintext.length === 32);
    let err;
    try { await kms.decrypt({ ciphertextBlob: e.ciphertextBlob, encryptionContext: { a: 'c' } }); } catch (x) { err = x; }
    assert(err instanceof InvalidCiphertextError && err.code === 'InvalidCiphertext', `got ${err}`);
    try { await kms.encrypt({ keyId: k.keyId, plaintext: new Uint8Array(7000) }); } catch (x) { err = x; }
    assert(err instanceof StrongroomError && err.code === 'InvalidParameter.PlaintextTooLarge');
    const img = await kms.exportImage({ passphrase: 'browser-pw' });
    const again = await Kms.open({ image: img, passphrase: 'browser-pw' });
    assert((await again.describeKey({ keyId: k.keyId })).keyId === k.keyId);
  });
}

// Envelope messages: the shared vectors on WebCrypto and on the wasm AES-GCM.
const E = await (await fetch('/tests/vectors/envelope_v1.json')).json();
const ciphers = await _frameCiphers();
await test('browser frame ciphers: WebCrypto is the platform cipher, wasm the fallback', async () => {
  assert(ciphers.platform && ciphers.wasm && ciphers.webcrypto, Object.keys(ciphers).join());
});
for (const [name, cipher] of Object.entries(ciphers)) {
  await test(`envelope vectors on the ${name} frame cipher`, async () => {
    for (const v of E.data_key) {
      assert(tohex(await _vectorOpenEnvelope(hex(v.data_key), hex(v.message), cipher)) === v.plaintext, v.name);
      assert(tohex(await _vectorResealEnvelope(hex(v.data_key), hex(v.message), hex(v.plaintext), cipher)) === v.message, v.name);
    }
    for (const v of E.negative) {
      let err;
      try { await _vectorOpenEnvelope(hex(v.data_key ?? E.data_key[0].data_key), hex(v.message), cipher); } catch (x) { err = x; }
      assert(err instanceof StrongroomError && err.code === v.error, `${v.name}: ${err && err.code}`);
    }
  });
}
await test('envelope store vectors decrypt in the browser', async () => {
  const s = E.store;
  const kms = await Kms.open({ image: hex(s.image), passphrase: s.passphrase });
  for (const m of s.messages) {
    const r = await kms.decryptEnvelope({ ciphertext: hex(m.message), encryptionContext: m.encryption_context });
    assert(tohex(r.plaintext) === m.plaintext && r.keyId === s.key_ids[0], m.name);
  }
  for (const m of s.negative) {
    let err;
    try { await kms.decryptEnvelope({ ciphertext: hex(m.message), encryptionContext: m.encryption_context }); } catch (x) { err = x; }
    assert(err && err.code === m.error, `${m.name}: ${err && err.code}`);
  }
});
await test('IndexedDB store: journal records, reopen, compact, backup restored in memory', async () => {
  const name = `strongroom-test-${Date.now()}`;
  const kms = await Kms.open({ indexedDb: name, passphrase: 'pw' });
  const a = await kms.createKey();
  const more = await Promise.all([1, 2, 3, 4, 5].map(() => kms.createKey()));
  await kms.createAlias({ aliasName: 'alias/idb', keyId: a.keyId });
  assert(kms.storeInfo().journalRecords === 7, `records ${kms.storeInfo().journalRecords}`);
  const blob = (await kms.encrypt({ keyId: 'alias/idb', plaintext: enc.encode('in indexeddb') })).ciphertextBlob;
  const again = await Kms.open({ indexedDb: name, passphrase: 'pw' });
  assert(again.storeInfo().journalRecords === 7, 'replayed');
  assert((await again.listKeys({ pageSize: 100 })).totalCount === 6, 'keys after reopen');
  for (const k of more) assert((await again.describeKey({ keyId: k.keyId })).keyId === k.keyId);
  assert(new TextDecoder().decode((await again.decrypt({ ciphertextBlob: blob })).plaintext) === 'in indexeddb');
  let wrong = null;
  try { await Kms.open({ indexedDb: name, passphrase: 'nope' }); } catch (e) { wrong = e; }
  assert(wrong && wrong.code === 'Forbidden.WrongPassphrase', `wrong passphrase: ${wrong && wrong.code}`);
  await again.compactStore();
  await again.createKey();
  const third = await Kms.open({ indexedDb: name, passphrase: 'pw' });
  assert(third.storeInfo().journalRecords === 1 && third.storeInfo().generation === 2, JSON.stringify(third.storeInfo()));
  const backup = await third.createBackup({ backupPassphrase: 'bk' });
  const restored = await Kms.restoreBackup({ backup, backupPassphrase: 'bk', passphrase: 'pw2' });
  assert((await restored.listKeys({ pageSize: 100 })).totalCount === 7, 'restored');
  await new Promise((ok) => { const r = indexedDB.deleteDatabase(name); r.onsuccess = r.onerror = r.onblocked = ok; });
});

await test('envelope round trip, web streams, and tamper in the browser', async () => {
  const kms = await Kms.memory();
  const a = (await kms.createKey()).keyId, b = (await kms.createKey()).keyId;
  const data = new Uint8Array(150_000).map((_, i) => (i * 11) & 255);
  const ct = await kms.encryptEnvelope({ keyIds: [a, b], plaintext: data, encryptionContext: { page: 'browser' }, frameLength: 8192 });
  const r = await kms.decryptEnvelope({ ciphertext: ct, encryptionContext: { page: 'browser' } });
  assert(tohex(r.plaintext) === tohex(data) && r.keyId === a);
  const src = new ReadableStream({ start(c) { for (let i = 0; i < ct.length; i += 777) c.enqueue(ct.slice(i, i + 777)); c.close(); } });
  const dec = kms.decryptStream({ encryptionContext: { page: 'browser' } });
  const out = new Uint8Array(await new Response(src.pipeThrough(dec)).arrayBuffer());
  assert(tohex(out) === tohex(data) && (await dec.info).keyId === a, 'stream');
  const enc2 = new Uint8Array(await new Response(new Blob([data]).stream().pipeThrough(kms.encryptStream({ keyIds: [b] }))).arrayBuffer());
  assert(tohex((await kms.decryptEnvelope({ ciphertext: enc2 })).plaintext) === tohex(data), 'encryptStream');
  const t = ct.slice(); t[t.length - 100] ^= 1;
  let err;
  try { await kms.decryptEnvelope({ ciphertext: t }); } catch (x) { err = x; }
  assert(err instanceof InvalidCiphertextError && err.code === 'InvalidCiphertext.FrameAuthentication', `${err}`);
});

const xrt = new URL(location.href).searchParams.get('xrt');
if (xrt) {
  await test('cross-runtime: store image + blob from Python decrypt in Chromium', async () => {
    const x = await (await fetch(xrt)).json();
    const kms = await Kms.open({ image: hex(x.image), passphrase: x.passphrase });
    const d = await kms.decrypt({ ciphertextBlob: hex(x.blob), encryptionContext: x.encryption_context });
    assert(tohex(d.plaintext) === x.plaintext, 'plaintext differs');
  });
  await test('cross-runtime: envelope from Python decrypts in Chromium', async () => {
    const x = await (await fetch(xrt)).json();
    const kms = await Kms.open({ image: hex(x.image), passphrase: x.passphrase });
    const r = await kms.decryptEnvelope({ ciphertext: hex(x.envelope), encryptionContext: x.encryption_context });
    assert(tohex(r.plaintext) === x.envelope_plaintext, 'envelope plaintext differs');
  });
}

window.__results = results;
