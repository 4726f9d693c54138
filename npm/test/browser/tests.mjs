// Runs in headless Chromium against the npm package's browser build (wasm-bindgen
// `web` target): the shared vectors, the Kms actions, WebCrypto opening our blobs,
// and (when the runner provides one) a store image + blob made by Python.
import { Kms, BackendServer, SecretCache, ResourceNotFoundError, StrongroomError, InvalidCiphertextError, verifySignature, verifyAudit, _vectorSeal, _vectorOpenEnvelope, _vectorResealEnvelope, _frameCiphers } from '/npm/dist/browser.mjs';

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
      const server = await BackendServer.software({ kms: await Kms.memory() });
      kms = await Kms.memory({ transport: (r) => server.handle(r), clientKey: server.createClient() });
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
  let busy = null;
  try { await Kms.open({ indexedDb: name, passphrase: 'pw' }); } catch (e) { busy = e; }
  assert(busy && busy.code === 'Rejected.StoreLocked', `second open: ${busy && busy.code}`);
  await kms.close();
  const again = await Kms.open({ indexedDb: name, passphrase: 'pw' });
  assert(again.storeInfo().journalRecords === 7, 'replayed');
  assert((await again.listKeys({ pageSize: 100 })).totalCount === 6, 'keys after reopen');
  for (const k of more) assert((await again.describeKey({ keyId: k.keyId })).keyId === k.keyId);
  assert(new TextDecoder().decode((await again.decrypt({ ciphertextBlob: blob })).plaintext) === 'in indexeddb');
  let wrong = null;
  await again.close();
  try { await Kms.open({ indexedDb: name, passphrase: 'nope' }); } catch (e) { wrong = e; }
  assert(wrong && wrong.code === 'Forbidden.WrongPassphrase', `wrong passphrase: ${wrong && wrong.code}`);
  const fourth = await Kms.open({ indexedDb: name, passphrase: 'pw' });
  await fourth.compactStore();
  await fourth.createKey();
  await fourth.close();
  const third = await Kms.open({ indexedDb: name, passphrase: 'pw' });
  assert(third.storeInfo().journalRecords === 1 && third.storeInfo().generation === 2, JSON.stringify(third.storeInfo()));
  const backup = await third.createBackup({ backupPassphrase: 'bk' });
  const restored = await Kms.restoreBackup({ backup, backupPassphrase: 'bk', passphrase: 'pw2' });
  assert((await restored.listKeys({ pageSize: 100 })).totalCount === 7, 'restored');
  await third.close();
  await new Promise((ok) => { const r = indexedDB.deleteDatabase(name); r.onsuccess = r.onerror = r.onblocked = ok; });
});

// Another page of the origin (an iframe: the same Web Locks and IndexedDB as a tab),
// driven by messages: `open` the store, `create` a key, `count` keys, `close`.
async function otherPage({ noLocks = false } = {}) {
  const frame = document.createElement('iframe');
  frame.src = `./other.html${noLocks ? '?nolocks' : ''}`;
  const ready = new Promise((ok) => window.addEventListener('message', function h(e) { if (e.source === frame.contentWindow && e.data === 'ready') { window.removeEventListener('message', h); ok(); } }));
  document.body.append(frame);
  await ready;
  let n = 0;
  const ask = (msg) => new Promise((ok) => {
    const id = ++n;
    window.addEventListener('message', function h(e) { if (e.source === frame.contentWindow && e.data.id === id) { window.removeEventListener('message', h); ok(e.data); } });
    frame.contentWindow.postMessage({ ...msg, id }, '*');
  });
  return { ask, remove: () => frame.remove() };
}

await test('two pages on one IndexedDB store: the second open is refused, and no acknowledged key is lost', async () => {
  const name = `strongroom-two-${Date.now()}`;
  const kms = await Kms.open({ indexedDb: name, passphrase: 'pw' });
  const mine = [];
  for (let i = 0; i < 3; i++) mine.push((await kms.createKey()).keyId);
  const other = await otherPage();
  const r = await other.ask({ op: 'open', name });
  assert(r.code === 'Rejected.StoreLocked', `other page's open: ${JSON.stringify(r)}`);
  mine.push((await kms.createKey()).keyId);
  await kms.close();
  // Released: the other page opens it and sees every key this one acknowledged.
  const r2 = await other.ask({ op: 'open', name });
  assert(r2.ok, JSON.stringify(r2));
  assert((await other.ask({ op: 'count' })).count === 4, 'keys seen by the other page');
  await other.ask({ op: 'create' });
  await other.ask({ op: 'close' });
  other.remove();
  const back = await Kms.open({ indexedDb: name, passphrase: 'pw' });
  assert((await back.listKeys({ pageSize: 100 })).totalCount === 5, 'all five keys');
  for (const id of mine) assert((await back.describeKey({ keyId: id })).keyId === id);
  await back.close();
  await new Promise((ok) => { const d = indexedDB.deleteDatabase(name); d.onsuccess = d.onerror = d.onblocked = ok; });
});

await test('without Web Locks, a superseded IndexedDB writer fails instead of overwriting', async () => {
  const name = `strongroom-stale-${Date.now()}`;
  const kms = await Kms.open({ indexedDb: name, passphrase: 'pw' });
  const a = (await kms.createKey()).keyId;
  // A page with no navigator.locks (an older browser, some webviews) opens anyway…
  const other = await otherPage({ noLocks: true });
  const r = await other.ask({ op: 'open', name, skipLock: true });
  assert(r.ok, JSON.stringify(r));
  assert((await other.ask({ op: 'count' })).count === 1, 'the newer writer loaded what the older acknowledged');
  const b = await other.ask({ op: 'create' });
  // …and the superseded writer's next write fails, compaction included, wiping nothing.
  let stale = null;
  try { await kms.createKey(); } catch (e) { stale = e; }
  assert(stale && stale.code === 'Rejected.StoreLocked', `stale append: ${stale && stale.code}`);
  stale = null;
  try { await kms.compactStore(); } catch (e) { stale = e; }
  assert(stale && (stale.code === 'Rejected.StoreLocked' || stale.code === 'Rejected.StoreIo'), `stale compaction: ${stale && stale.code}`);
  await other.ask({ op: 'close' });
  other.remove();
  await kms.close();
  const back = await Kms.open({ indexedDb: name, passphrase: 'pw' });
  assert((await back.listKeys({ pageSize: 100 })).totalCount === 2, 'both acknowledged keys');
  await back.describeKey({ keyId: a });
  await back.describeKey({ keyId: b.keyId });
  await back.close();
  await new Promise((ok) => { const d = indexedDB.deleteDatabase(name); d.onsuccess = d.onerror = d.onblocked = ok; });
});

// The runner's gateway (Kms.connect): the shared tests below run on an embedded and on
// a connected Kms.
const connectInfo = await fetch('/__connect.json').then((r) => (r.ok ? r.json() : null));
const kinds = {
  embedded: () => Kms.memory(),
  connected: () => {
    assert(connectInfo, 'the runner set up a gateway');
    return Kms.connect({ endpoint: connectInfo.endpoint, ...connectInfo.app });
  },
};

for (const [kind, makeKms] of Object.entries(kinds)) await test(`envelope round trip, web streams, and tamper in the browser (${kind})`, async () => {
  const kms = await makeKms();
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

// --- Asymmetric keys against WebCrypto (Chromium's BoringSSL, which no one here wrote).
function pemDer(pem) {
  const b64 = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}
/** DER ECDSA-Sig-Value → WebCrypto's raw r‖s (32 bytes each). */
function derToRaw(der) {
  let i = 2;
  if (der[1] & 0x80) i += der[1] & 0x7f;
  const int = () => {
    assert(der[i] === 2, 'INTEGER');
    const len = der[i + 1];
    let v = der.subarray(i + 2, i + 2 + len);
    i += 2 + len;
    while (v.length > 32 && v[0] === 0) v = v.subarray(1);
    const out = new Uint8Array(32);
    out.set(v, 32 - v.length);
    return out;
  };
  const r = int(), s = int();
  return new Uint8Array([...r, ...s]);
}
/** WebCrypto's raw r‖s → DER. */
function rawToDer(raw) {
  const int = (b) => {
    let v = b;
    while (v.length > 1 && v[0] === 0 && !(v[1] & 0x80)) v = v.subarray(1);
    if (v[0] & 0x80) v = new Uint8Array([0, ...v]);
    return [2, v.length, ...v];
  };
  const body = [...int(raw.subarray(0, 32)), ...int(raw.subarray(32))];
  return new Uint8Array([0x30, body.length, ...body]);
}
function webCryptoParams(spec, alg) {
  if (spec === 'EC_P256K') return null;
  if (alg === 'ECDSA_SHA_256') return { import: { name: 'ECDSA', namedCurve: 'P-256' }, verify: { name: 'ECDSA', hash: 'SHA-256' }, gen: { name: 'ECDSA', namedCurve: 'P-256' }, raw: true };
  if (alg === 'RSA_PSS_SHA_256') return { import: { name: 'RSA-PSS', hash: 'SHA-256' }, verify: { name: 'RSA-PSS', saltLength: 32 }, gen: { name: 'RSA-PSS', hash: 'SHA-256', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) } };
  return { import: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, verify: { name: 'RSASSA-PKCS1-v1_5' }, gen: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) } };
}

for (const [kind, makeKms] of Object.entries(kinds)) for (const [spec, alg] of [['RSA_2048', 'RSA_PSS_SHA_256'], ['RSA_2048', 'RSA_PKCS1_SHA_256'], ['EC_P256', 'ECDSA_SHA_256']]) {
  await test(`${spec} ${alg}: GetPublicKey loads in WebCrypto, signatures verify both ways (${kind})`, async () => {
    const kms = await makeKms();
    const msg = enc.encode(`signed in the browser with ${spec}`);
    const k = await kms.createKey({ keySpec: spec, keyUsage: 'SIGN/VERIFY' });
    const pub = await kms.getPublicKey({ keyId: k.keyId });
    const p = webCryptoParams(spec, alg);
    const wk = await crypto.subtle.importKey('spki', pub.publicKeyDer, p.import, true, ['verify']);
    assert(tohex(new Uint8Array(await crypto.subtle.exportKey('spki', wk))) === tohex(pub.publicKeyDer), 'SPKI round trip');
    assert(tohex(pemDer(pub.publicKey)) === tohex(pub.publicKeyDer), 'PEM = DER');
    const s = (await kms.asymmetricSign({ keyId: k.keyId, algorithm: alg, message: msg })).value;
    assert(await crypto.subtle.verify(p.verify, wk, p.raw ? derToRaw(s) : s, msg), 'WebCrypto verifies ours');
    const theirs = await crypto.subtle.generateKey(p.gen, true, ['sign', 'verify']);
    const ts = new Uint8Array(await crypto.subtle.sign(p.verify, theirs.privateKey, msg));
    const tpub = new Uint8Array(await crypto.subtle.exportKey('spki', theirs.publicKey));
    const sig = p.raw ? rawToDer(ts) : ts;
    assert(await verifySignature({ publicKey: tpub, keySpec: spec, algorithm: alg, signature: sig, message: msg }), 'we verify WebCrypto');
    sig[sig.length - 1] ^= 1;
    assert(!(await verifySignature({ publicKey: tpub, keySpec: spec, algorithm: alg, signature: sig, message: msg })), 'a flipped bit fails');
  });
}

await test('RSA-OAEP: WebCrypto encrypts to our key (SHA-256 and SHA-1), wrapped BYOK material imports, exported data keys open in WebCrypto', async () => {
  const kms = await Kms.memory();
  const k = await kms.createKey({ keySpec: 'RSA_2048' });
  const der = (await kms.getPublicKey({ keyId: k.keyId })).publicKeyDer;
  for (const [alg, hash, max] of [['RSAES_OAEP_SHA_256', 'SHA-256', 190], ['RSAES_OAEP_SHA_1', 'SHA-1', 214]]) {
    const pub = await crypto.subtle.importKey('spki', der, { name: 'RSA-OAEP', hash }, false, ['encrypt']);
    const pt = crypto.getRandomValues(new Uint8Array(max));
    const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'RSA-OAEP' }, pub, pt));
    assert(tohex((await kms.asymmetricDecrypt({ keyId: k.keyId, algorithm: alg, ciphertextBlob: ct })).plaintext) === tohex(pt), alg);
  }
  // BYOK: WebCrypto wraps the material (wrapKey, RSA-OAEP) with our import parameters.
  const ext = await kms.createKey({ origin: 'EXTERNAL' });
  const params = await kms.getParametersForImport({ keyId: ext.keyId });
  const wrapping = await crypto.subtle.importKey('spki', params.publicKey, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['wrapKey']);
  const material = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']);
  const wrapped = new Uint8Array(await crypto.subtle.wrapKey('raw', material, wrapping, { name: 'RSA-OAEP' }));
  const m = await kms.importKeyMaterial({ keyId: ext.keyId, encryptedKeyMaterial: wrapped, importToken: params.importToken });
  assert(m.keyState === 'Enabled', m.keyState);
  const blob = (await kms.encrypt({ keyId: ext.keyId, plaintext: enc.encode('imported in the browser') })).ciphertextBlob;
  const h = 3 + blob[1] + blob[2 + blob[1]];
  const pt = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: blob.subarray(h, h + 12), additionalData: new Uint8Array([...blob.subarray(0, h), 0, 0]) }, material, blob.subarray(h + 12));
  assert(new TextDecoder().decode(pt) === 'imported in the browser', 'the blob opens under the imported material');
  // ExportDataKey to a WebCrypto key pair.
  const pair = await crypto.subtle.generateKey({ name: 'RSA-OAEP', hash: 'SHA-256', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) }, true, ['encrypt', 'decrypt']);
  const spki = new Uint8Array(await crypto.subtle.exportKey('spki', pair.publicKey));
  const cmk = await kms.createKey();
  const g = await kms.generateAndExportDataKey({ keyId: cmk.keyId, publicKeyBlob: spki });
  const dk = new Uint8Array(await crypto.subtle.decrypt({ name: 'RSA-OAEP' }, pair.privateKey, g.exportedDataKey));
  assert(tohex(dk) === tohex((await kms.decrypt({ ciphertextBlob: g.ciphertextBlob })).plaintext), 'exported data key');
});

await test('a failed restore into IndexedDB leaves no empty database behind', async () => {
  const src = await Kms.memory();
  await src.createKey();
  const backup = await src.createBackup({ backupPassphrase: 'right' });
  const name = `debris-${Math.random()}`;
  let code;
  try {
    await Kms.restoreBackup({ indexedDb: name, backup, backupPassphrase: 'wrong', passphrase: 'pw' });
  } catch (e) {
    code = e.code;
  }
  assert(code === 'Forbidden.WrongPassphrase', String(code));
  const names = (await indexedDB.databases()).map((d) => d.name);
  assert(!names.includes(name), `left ${name}`);
  const kept = `kept-${Math.random()}`;
  const kms = await Kms.open({ indexedDb: kept, passphrase: 'pw' });
  await kms.close();
  assert((await indexedDB.databases()).some((d) => d.name === kept), 'a written store stays');
});

await test('an IndexedDB store keeps its audit trail: management events durable before their answer, one chain across opens, verified', async () => {
  const name = `audit-${crypto.randomUUID()}`;
  try {
    let kms = await Kms.open({ indexedDb: name, passphrase: 'pw', audit: 'all' });
    const { keyId } = await kms.createKey();
    let text = await Kms.readAuditTrail({ indexedDb: name });
    assert(text.includes('"eventName":"CreateKey"'), 'CreateKey is not in the trail when its call resolved');
    await kms.encrypt({ keyId, plaintext: enc.encode('SRLEAK-browser-audit') });
    const pem = await kms.auditPublicKey();
    await kms.close();
    kms = await Kms.open({ indexedDb: name, passphrase: 'pw', audit: 'all' });
    await kms.listKeys();
    await kms.close();
    text = await Kms.readAuditTrail({ indexedDb: name });
    const r = await verifyAudit(text, pem);
    assert(r.intact && r.closed && r.events === 3, JSON.stringify(r));
    assert(!text.includes('SRLEAK-browser-audit'), 'plaintext in the trail');
    const bad = await verifyAudit(text.replace('"eventName":"Encrypt"', '"eventName":"Decrypt"'), pem);
    assert(!bad.intact, 'an edited event was not detected');
  } finally {
    indexedDB.deleteDatabase(name);
    indexedDB.deleteDatabase(`${name}.audit`);
  }
});

await test('secrets in the browser: IndexedDB store, versions, a JS rotator, SecretCache', async () => {
  const name = `secrets-${Math.random()}`;
  let kms = await Kms.open({ indexedDb: name, passphrase: 'pw' });
  await kms.createSecret({ secretName: 'api/token', secretData: 'tok-1' });
  await kms.putSecretValue({ secretName: 'api/token', versionId: 'v2', secretData: 'tok-2' });
  kms.setSecretRotator(async ({ step, versionId }) => (step === 'create' ? `rotated-${versionId}` : undefined));
  await kms.rotateSecret({ secretName: 'api/token', versionId: 'r1' });
  await kms.close();
  kms = await Kms.open({ indexedDb: name, passphrase: 'pw' });
  const v = await kms.getSecretValue({ secretName: 'api/token' });
  assert(v.secretData === 'rotated-r1', v.versionId);
  assert(!JSON.stringify(v).includes('rotated-r1'), 'logged value');
  assert((await kms.getSecretValue({ secretName: 'api/token', versionStage: 'ACSPrevious' })).secretData === 'tok-2', 'previous');
  const cache = new SecretCache(kms, { refreshIntervalMs: 60_000 });
  const all = await Promise.all(Array.from({ length: 20 }, () => cache.get('api/token')));
  assert(all.every((x) => x.secretData === 'rotated-r1'), 'cache');
  let err;
  try {
    await kms.getSecretValue({ secretName: 'nope' });
  } catch (e) {
    err = e;
  }
  assert(err instanceof ResourceNotFoundError && err.code === 'Forbidden.ResourceNotFound', String(err));
  await kms.close();
});

const xrt = new URL(location.href).searchParams.get('xrt');
if (xrt) {
  await test('cross-runtime: store image + blob from Python decrypt in Chromium', async () => {
    const x = await (await fetch(xrt)).json();
    const kms = await Kms.open({ image: hex(x.image), passphrase: x.passphrase });
    const d = await kms.decrypt({ ciphertextBlob: hex(x.blob), encryptionContext: x.encryption_context });
    assert(tohex(d.plaintext) === x.plaintext, 'plaintext differs');
  });
  await test('cross-runtime: WebCrypto verifies signatures Python made on AWS-LC, and encrypts to its RSA key for wasm to decrypt', async () => {
    const x = await (await fetch(xrt)).json();
    const msg = hex(x.message);
    let n = 0;
    for (const s of x.asym) {
      const p = webCryptoParams(s.spec, s.algorithm);
      if (!p) continue; // WebCrypto has no secp256k1
      const key = await crypto.subtle.importKey('spki', pemDer(s.public_key), p.import, false, ['verify']);
      const sig = p.raw ? derToRaw(hex(s.signature)) : hex(s.signature);
      assert(await crypto.subtle.verify(p.verify, key, sig, msg), `${s.spec} ${s.algorithm}`);
      n++;
    }
    assert(n === 3, `verified ${n}`);
    const kms = await Kms.open({ image: hex(x.image), passphrase: x.passphrase });
    const pub = await crypto.subtle.importKey('spki', pemDer(x.rsa_public_key), { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['encrypt']);
    const pt = crypto.getRandomValues(new Uint8Array(190));
    const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'RSA-OAEP' }, pub, pt));
    const d = await kms.asymmetricDecrypt({ keyId: x.rsa_key_id, algorithm: 'RSAES_OAEP_SHA_256', ciphertextBlob: ct });
    assert(tohex(d.plaintext) === tohex(pt), 'RSA-OAEP plaintext differs');
  });
  await test('cross-runtime: secrets Python made read in Chromium', async () => {
    const x = await (await fetch(xrt)).json();
    const kms = await Kms.open({ image: hex(x.image), passphrase: x.passphrase });
    assert((await kms.getSecretValue({ secretName: 'xrt/db-password' })).secretData === x.secrets.current, 'current');
    assert((await kms.getSecretValue({ secretName: 'xrt/db-password', versionStage: 'ACSPrevious' })).secretData === x.secrets.previous, 'previous');
    assert((await kms.getSecretValue({ secretName: 'xrt/db-password', versionStage: 'blue' })).secretData === x.secrets.blue, 'blue');
    assert(tohex((await kms.getSecretValue({ secretName: 'xrt/binary' })).secretData) === x.secrets.binary, 'binary');
  });
  await test('cross-runtime: envelope from Python decrypts in Chromium', async () => {
    const x = await (await fetch(xrt)).json();
    const kms = await Kms.open({ image: hex(x.image), passphrase: x.passphrase });
    const r = await kms.decryptEnvelope({ ciphertext: hex(x.envelope), encryptionContext: x.encryption_context });
    assert(tohex(r.plaintext) === x.envelope_plaintext, 'envelope plaintext differs');
  });
}

await test('signed envelopes in the page: the full package signs and verifies, strongroom/decrypt verifies on WebCrypto', async () => {
  const kms = await Kms.memory();
  const to = (await kms.createKey()).keyId;
  const signer = (await kms.createKey({ keySpec: 'EC_P256', keyUsage: 'SIGN/VERIFY' })).keyId;
  const pt = enc.encode('signed in the page '.repeat(5000));
  const msg = await kms.encryptEnvelope({ keyIds: [to], plaintext: pt, signingKeyId: signer, frameLength: 8192 });
  const r = await kms.decryptEnvelope({ ciphertext: msg, requiredSigner: signer });
  assert(r.plaintext.length === pt.length && r.signer.known && r.signer.keyId === signer, 'full package');
  const d = await import('/npm/dist/decrypt.mjs');
  const unwrap = async (q) => (await kms.decrypt({ ciphertextBlob: q.ciphertextBlob, encryptionContext: q.encryptionContext })).plaintext;
  const publicKey = (await kms.getPublicKey({ keyId: signer })).publicKeyDer;
  const l = await d.decryptEnvelope({ ciphertext: msg, unwrap, requiredSigner: { publicKey } });
  assert(l.plaintext.length === pt.length && l.signer.known, 'decrypt entry');
  const bad = msg.slice();
  bad[bad.length - 3] ^= 1;
  let e1, e2;
  try { await kms.decryptEnvelope({ ciphertext: bad }); } catch (e) { e1 = e; }
  try { await d.decryptEnvelope({ ciphertext: bad, unwrap }); } catch (e) { e2 = e; }
  assert(e1?.code === 'InvalidCiphertext.Signature' && e2?.code === 'InvalidCiphertext.Signature', `tampered: ${e1} / ${e2}`);
});

await test('strongroom/decrypt in the page: no wasm, the data key unwrapped by the gateway (AssumeRole credentials, CORS), frames on WebCrypto', async () => {
  const info = connectInfo;
  assert(info, 'the runner set up the gateways');
  const d = await import('/npm/dist/decrypt.mjs');
  const msg = Uint8Array.from(atob(info.message), (ch) => ch.charCodeAt(0));
  const unwrap = d.gatewayUnwrap({ endpoint: info.endpoint, ...info.credentials });
  assert(d.parseEnvelopeHeader(msg).recipients.length === 2, 'two recipients');
  const out = await d.decryptEnvelope({ ciphertext: msg, unwrap, requiredEncryptionContext: { page: 'orders' } });
  assert(new TextDecoder().decode(out.plaintext) === info.plaintext, 'plaintext');
  assert(out.keyId === info.keyId, 'the disabled first recipient was skipped');
  assert(JSON.stringify(out).includes('"plaintext":"[redacted]"'), 'redacted when serialised');
  const src = new ReadableStream({ start(c) { for (let i = 0; i < msg.length; i += 5000) c.enqueue(msg.subarray(i, i + 5000)); c.close(); } });
  const ds = d.createDecryptStream({ unwrap });
  const text = await new Response(src.pipeThrough(ds)).text();
  assert(text === info.plaintext, 'streamed');
  assert((await ds.info).keyId === info.keyId, 'stream info');
  // One error class hierarchy across entry points.
  let tampered;
  const bad = msg.slice();
  bad[bad.length - 1] ^= 1;
  try { await d.decryptEnvelope({ ciphertext: bad, unwrap }); } catch (e) { tampered = e; }
  assert(tampered instanceof InvalidCiphertextError && tampered.code === 'InvalidCiphertext.FrameAuthentication', `tampered: ${tampered}`);
  let refused;
  try { await d.decryptEnvelope({ ciphertext: msg, unwrap: d.gatewayUnwrap({ endpoint: info.closedEndpoint, ...info.credentials }) }); } catch (e) { refused = e; }
  assert(refused && refused.code === 'Rejected.BackendUnavailable', `CORS: ${refused}`);
});

await test('Kms.connect in the page: AssumeRole credentials, data keys unwrapped by the gateway, frames decrypted in the page, CORS', async () => {
  const info = connectInfo;
  assert(info, 'the runner set up the gateways');
  const msg = Uint8Array.from(atob(info.message), (ch) => ch.charCodeAt(0));
  const kms = await Kms.connect({ endpoint: info.endpoint, ...info.credentials });
  assert(kms.connected);
  const out = await kms.decryptEnvelope({ ciphertext: msg, requiredEncryptionContext: { page: 'orders' } });
  assert(new TextDecoder().decode(out.plaintext) === info.plaintext, 'plaintext');
  assert(out.keyId === info.keyId, 'the disabled first recipient was skipped');
  // The same through a web stream (frames decrypted as they arrive).
  const dec = kms.decryptStream();
  const chunks = [];
  const src = new ReadableStream({ start(c) { for (let i = 0; i < msg.length; i += 3000) c.enqueue(msg.subarray(i, i + 3000)); c.close(); } });
  const reader = src.pipeThrough(dec).getReader();
  for (;;) { const { done, value } = await reader.read(); if (done) break; chunks.push(value); }
  assert(chunks.reduce((n, c) => n + c.length, 0) === info.plaintext.length, 'streamed length');
  assert((await dec.info).encryptionContext.page === 'orders');
  // The page's role may only Decrypt.
  let denied;
  try { await kms.encrypt({ keyId: info.keyId, plaintext: enc.encode('no') }); } catch (e) { denied = e; }
  assert(denied && denied.code === 'Forbidden.NoPermission', `encrypt: ${denied}`);
  // A gateway that does not allow this origin cannot be called from the page.
  const closed = await Kms.connect({ endpoint: info.closedEndpoint, ...info.credentials });
  let refused;
  try { await closed.listKeys(); } catch (e) { refused = e; }
  assert(refused && refused.code === 'Rejected.BackendUnavailable', `CORS: ${refused}`);
});

await test('master keys in an OpenBao transit engine, called from the page (fetch, CORS)', async () => {
  assert(connectInfo && connectInfo.transit, 'the runner started bao');
  const kms = await Kms.memory({ transit: connectInfo.transit });
  const k = (await kms.createKey()).keyId;
  const data = new Uint8Array(50_000).map((_, i) => i & 255);
  const ct = await kms.encryptEnvelope({ keyIds: [k], plaintext: data, encryptionContext: { tab: '1' } });
  const r = await kms.decryptEnvelope({ ciphertext: ct, encryptionContext: { tab: '1' } });
  assert(tohex(r.plaintext) === tohex(data), 'envelope');
  const ec = (await kms.createKey({ keySpec: 'EC_P256', keyUsage: 'SIGN/VERIFY' })).keyId;
  const msg = enc.encode('signed in bao');
  const s = (await kms.asymmetricSign({ keyId: ec, algorithm: 'ECDSA_SHA_256', message: msg })).value;
  const pub = await kms.getPublicKey({ keyId: ec });
  const wk = await crypto.subtle.importKey('spki', pub.publicKeyDer, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
  assert(await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, wk, derToRaw(s), msg), 'WebCrypto verifies the engine\'s signature');
  let err;
  try { await (await Kms.memory({ transit: { ...connectInfo.transit, token: 'wrong' } })).createKey(); } catch (e) { err = e; }
  assert(err && err.code === 'Rejected.BackendUnavailable', `${err}`);
});

window.__results = results;
