// What a new user tripped over (issue #15): results that print secrets, Node streams
// that lose the header info or fail late, the tarball's contents.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Kms, InvalidParameterError } from 'strongroom';

const enc = new TextEncoder();
const hex = (b) => Buffer.from(b).toString('hex');

test('results holding plaintext or key material print redacted; the bytes stay readable', async () => {
  const kms = await Kms.memory();
  const { keyId } = await kms.createKey();
  const dk = await kms.generateDataKey({ keyId });
  const key = hex(dk.plaintext);
  for (const shown of [inspect(dk), JSON.stringify(dk), inspect({ nested: dk })]) {
    assert.ok(!shown.includes(key) && shown.includes('[redacted]'), shown);
  }
  assert.equal(dk.plaintext.length, 32);
  const secret = enc.encode('plaintext-marker-123');
  const blob = (await kms.encrypt({ keyId, plaintext: secret })).ciphertextBlob;
  const d = await kms.decrypt({ ciphertextBlob: blob });
  assert.ok(!inspect(d).includes('112, 108') && inspect(d).includes('[redacted]'), inspect(d));
  assert.deepEqual([...d.plaintext], [...secret]);
  const env = await kms.decryptEnvelope({ ciphertext: await kms.encryptEnvelope({ keyIds: [keyId], plaintext: secret }) });
  assert.ok(inspect(env).includes('[redacted]') && env.keyId === keyId, inspect(env));
  const rsa = await kms.createKey({ keySpec: 'RSA_2048' });
  const c = await kms.asymmetricEncrypt({ keyId: rsa.keyId, algorithm: 'RSAES_OAEP_SHA_256', plaintext: secret });
  const a = await kms.asymmetricDecrypt({ keyId: rsa.keyId, algorithm: 'RSAES_OAEP_SHA_256', ciphertextBlob: c.ciphertextBlob });
  assert.ok(inspect(a).includes('[redacted]'));
  assert.deepEqual([...a.plaintext], [...secret]);
});

test('createDecryptStream exposes the header info; createEncryptStream checks its options at the call', async () => {
  const kms = await Kms.memory();
  const { keyId } = await kms.createKey();
  const msg = await kms.encryptEnvelope({ keyIds: [keyId], plaintext: enc.encode('x'.repeat(5000)), encryptionContext: { app: 'a' } });
  const d = kms.createDecryptStream();
  const chunks = [];
  await pipeline(Readable.from([Buffer.from(msg)]), d, new Writable({ write(c, _e, cb) { chunks.push(c); cb(); } }));
  const info = await d.info;
  assert.equal(info.keyId, keyId);
  assert.deepEqual(info.encryptionContext, { app: 'a' });
  assert.equal(Buffer.concat(chunks).length, 5000);
  // Synchronous refusals: no 'error' event that would crash an unpiped process.
  for (const bad of [{ keyIds: [] }, { keyIds: 'k' }, {}, { keyIds: [keyId], frameLength: -1 }, { keyIds: Array(17).fill(keyId) }]) {
    assert.throws(() => kms.createEncryptStream(bad), InvalidParameterError, JSON.stringify(bad));
  }
  const s = kms.createEncryptStream({ keyIds: [keyId] });
  s.destroy();
});

test('the packed tarball carries README and CHANGELOG', () => {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const out = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' }));
  const files = out[0].files.map((f) => f.path);
  for (const f of ['README.md', 'CHANGELOG.md', 'package.json', 'dist/node.mjs', 'dist/browser.mjs', 'dist/types/api.d.ts']) {
    assert.ok(files.includes(f), `${f} not in ${files.join(', ')}`);
  }
});

test('a closed Kms refuses every later call with Rejected.StoreClosed', async () => {
  const kms = await Kms.memory();
  const { keyId } = await kms.createKey();
  await kms.close();
  await kms.close();
  await assert.rejects(kms.describeKey({ keyId }), (e) => e.code === 'Rejected.StoreClosed' && e.name === 'StoreError');
  await assert.rejects(kms.createSecret({ secretName: 'x', secretData: 'y' }), (e) => e.code === 'Rejected.StoreClosed');
});

test('a failed restore into a new path leaves no directories behind (#15 item 13)', async () => {
  const { mkdtempSync, existsSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const base = mkdtempSync(join(tmpdir(), 'sr-debris-'));
  try {
    const src = await Kms.memory();
    await src.createKey();
    const backup = await src.createBackup({ backupPassphrase: 'right' });
    await assert.rejects(
      Kms.restoreBackup({ path: join(base, 'new/deeper/store'), backup, backupPassphrase: 'wrong', passphrase: 'pw' }),
      (e) => e.code === 'Forbidden.WrongPassphrase' && /backup passphrase/.test(e.message),
    );
    assert.ok(!existsSync(join(base, 'new')), 'debris');
    // A store that was written keeps its directory after close.
    const kms = await Kms.open({ path: join(base, 'good/store'), passphrase: 'pw' });
    await kms.close();
    assert.ok(existsSync(join(base, 'good/store')));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('a required EncryptionContext on every decrypt face (#15 item 8)', async () => {
  const kms = await Kms.memory();
  const { keyId } = await kms.createKey();
  const encryptionContext = { tenant: 't1', purpose: 'backup' };
  const msg = await kms.encryptEnvelope({ keyIds: [keyId], plaintext: enc.encode('needs t1'), encryptionContext, frameLength: 4 });
  const r = await kms.decryptEnvelope({ ciphertext: msg, requiredEncryptionContext: { tenant: 't1' } });
  assert.equal(new TextDecoder().decode(r.plaintext), 'needs t1');
  await assert.rejects(kms.decryptEnvelope({ ciphertext: msg, requiredEncryptionContext: { tenant: 't2' } }), (e) => e.code === 'InvalidCiphertext.ContextMismatch');
  await assert.rejects(kms.decryptEnvelope({ ciphertext: msg, requiredEncryptionContext: { owner: 'x' } }), (e) => e.code === 'InvalidCiphertext.ContextMismatch');
  // Streams: WHATWG and Node; nothing is emitted when the requirement fails.
  for (const required of [{ purpose: 'backup' }, { purpose: 'other' }]) {
    const out = [];
    const d = kms.createDecryptStream({ requiredEncryptionContext: required });
    const run = pipeline(Readable.from([Buffer.from(msg)]), d, new Writable({ write(c, _e, cb) { out.push(c); cb(); } }));
    if (required.purpose === 'backup') {
      await run;
      assert.equal(Buffer.concat(out).toString(), 'needs t1');
    } else {
      await assert.rejects(run, (e) => e.code === 'InvalidCiphertext.ContextMismatch');
      assert.equal(out.length, 0);
    }
  }
  const ws = kms.decryptStream({ requiredEncryptionContext: { tenant: 't1' } });
  const chunks = [];
  await new ReadableStream({ start(c) { c.enqueue(msg); c.close(); } }).pipeThrough(ws).pipeTo(new WritableStream({ write(c) { chunks.push(c); } }));
  assert.equal(Buffer.concat(chunks).toString(), 'needs t1');
  assert.deepEqual((await ws.info).encryptionContext, encryptionContext);
});
