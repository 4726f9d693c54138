// The npm package as Node users import it (ESM), against the software backend, against
// the same backend behind the wire protocol (an async JS transport), and connected to
// a real `strongroom serve` (Kms.connect over fetch, a fresh gateway per test).
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync, appendFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Kms, BackendServer, StrongroomError, InvalidCiphertextError, InvalidParameterError,
  KeyNotFoundError, WrongPassphraseError, StoreError, BackendError, RejectedError,
} from 'strongroom';
import { startGateway } from './helpers/gateway.mjs';

const enc = new TextEncoder();
const dec = new TextDecoder();

const gateways = [];
after(() => Promise.all(gateways.map((g) => g.stop())));

async function makeKms(kind) {
  if (kind === 'software') return { kms: await Kms.memory(), calls: null };
  if (kind === 'connected') {
    const g = await startGateway();
    gateways.push(g);
    return { kms: await Kms.connect(g.creds()), calls: null };
  }
  const server = await BackendServer.software({ kms: await Kms.memory() });
  const calls = [];
  const transport = async (req) => {
    calls.push(req.length);
    await new Promise((r) => setTimeout(r, 0)); // really asynchronous
    return server.handle(req);
  };
  return { kms: await Kms.memory({ transport, clientKey: server.createClient() }), calls };
}

async function code(p) {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof StrongroomError, `not a StrongroomError: ${e}`);
    return e.code;
  }
  assert.fail('expected a rejection');
}

for (const kind of ['software', 'loopback', 'connected']) {
  describe(`Kms (${kind})`, () => {
    test('create, describe, list', async () => {
      const { kms } = await makeKms(kind);
      const m = await kms.createKey({ description: 'node key' });
      assert.equal(m.keySpec, 'Aliyun_AES_256');
      assert.equal(m.keyUsage, 'ENCRYPT/DECRYPT');
      assert.equal(m.keyState, 'Enabled');
      assert.equal(m.protectionLevel, 'SOFTWARE');
      assert.deepEqual(await kms.describeKey({ keyId: m.keyId }), m);
      await kms.createKey({ keySpec: 'Aliyun_AES_128' });
      const page = await kms.listKeys({ pageSize: 1 });
      assert.equal(page.totalCount, 2);
      assert.equal(page.keys[0].keyId, m.keyId);
    });

    test('encrypt / decrypt with EncryptionContext, tamper detection', async () => {
      const { kms, calls } = await makeKms(kind);
      const k = await kms.createKey();
      const e = await kms.encrypt({ keyId: k.keyId, plaintext: enc.encode('hello node'), encryptionContext: { b: '2', a: '1' } });
      assert.ok(e.ciphertextBlob instanceof Uint8Array);
      const d = await kms.decrypt({ ciphertextBlob: e.ciphertextBlob, encryptionContext: { a: '1', b: '2' } });
      assert.equal(dec.decode(d.plaintext), 'hello node');
      assert.equal(d.keyVersionId, k.primaryKeyVersion);
      await assert.rejects(kms.decrypt({ ciphertextBlob: e.ciphertextBlob, encryptionContext: { a: '1' } }), InvalidCiphertextError);
      for (let i = 0; i < e.ciphertextBlob.length * 8; i++) {
        const t = e.ciphertextBlob.slice();
        t[i >> 3] ^= 1 << (i & 7);
        const c = await code(kms.decrypt({ ciphertextBlob: t, encryptionContext: { a: '1', b: '2' } }));
        assert.ok(['InvalidCiphertext', 'Forbidden.KeyNotFound', 'Forbidden.KeyVersionNotFound'].includes(c), c);
      }
      if (calls) assert.ok(calls.length > 0, 'the transport was used');
    });

    test('data keys', async () => {
      const { kms } = await makeKms(kind);
      const k = await kms.createKey();
      const g = await kms.generateDataKey({ keyId: k.keyId, encryptionContext: { f: 'x' } });
      assert.equal(g.plaintext.length, 32);
      const d = await kms.decrypt({ ciphertextBlob: g.ciphertextBlob, encryptionContext: { f: 'x' } });
      assert.deepEqual(d.plaintext, g.plaintext);
      assert.equal((await kms.generateDataKey({ keyId: k.keyId, keySpec: 'AES_128' })).plaintext.length, 16);
      assert.equal((await kms.generateDataKey({ keyId: k.keyId, numberOfBytes: 3 })).plaintext.length, 3);
      const w = await kms.generateDataKeyWithoutPlaintext({ keyId: k.keyId });
      assert.equal(w.plaintext, undefined);
      assert.equal((await kms.decrypt({ ciphertextBlob: w.ciphertextBlob })).plaintext.length, 32);
    });

    test('lifecycle: disable, enable, schedule and cancel deletion', async () => {
      const { kms } = await makeKms(kind);
      const k = await kms.createKey();
      assert.equal((await kms.disableKey({ keyId: k.keyId })).keyState, 'Disabled');
      assert.equal(await code(kms.encrypt({ keyId: k.keyId, plaintext: enc.encode('x') })), 'Forbidden.KeyDisabled');
      assert.equal((await kms.enableKey({ keyId: k.keyId })).keyState, 'Enabled');
      assert.equal((await kms.updateKeyDescription({ keyId: k.keyId, description: 'd2' })).description, 'd2');
      assert.equal(await code(kms.scheduleKeyDeletion({ keyId: k.keyId, pendingWindowInDays: 6 })), 'InvalidParameter.PendingWindowInDays');
      assert.equal(await code(kms.scheduleKeyDeletion({ keyId: k.keyId })), 'InvalidParameter.PendingWindowInDays');
      const m = await kms.scheduleKeyDeletion({ keyId: k.keyId, pendingWindowInDays: 30 });
      assert.equal(m.keyState, 'PendingDeletion');
      assert.match(m.deleteDate, /Z$/);
      assert.equal(await code(kms.generateDataKey({ keyId: k.keyId })), 'Forbidden.KeyPendingDeletion');
      assert.equal((await kms.cancelKeyDeletion({ keyId: k.keyId })).keyState, 'Enabled');
      assert.equal(await code(kms.cancelKeyDeletion({ keyId: k.keyId })), 'Forbidden.KeyNotPendingDeletion');
    });

    test('versions, rotation policy, reEncrypt', async () => {
      const { kms } = await makeKms(kind);
      const k = await kms.createKey();
      assert.equal(k.automaticRotation, 'Disabled');
      const old = await kms.encrypt({ keyId: k.keyId, plaintext: enc.encode('v1') });
      const v2 = await kms.createKeyVersion({ keyId: k.keyId });
      assert.equal((await kms.describeKey({ keyId: k.keyId })).primaryKeyVersion, v2.keyVersionId);
      assert.deepEqual(await kms.describeKeyVersion({ keyId: k.keyId, keyVersionId: v2.keyVersionId }), v2);
      const l = await kms.listKeyVersions({ keyId: k.keyId });
      assert.equal(l.totalCount, 2);
      assert.equal(l.keyVersions[0].keyVersionId, k.primaryKeyVersion);
      const r = await kms.reEncrypt({ ciphertextBlob: old.ciphertextBlob, destinationKeyId: k.keyId, destinationEncryptionContext: { to: 'v2' } });
      assert.equal(r.sourceKeyVersionId, k.primaryKeyVersion);
      assert.equal(r.keyVersionId, v2.keyVersionId);
      assert.equal(dec.decode((await kms.decrypt({ ciphertextBlob: r.ciphertextBlob, encryptionContext: { to: 'v2' } })).plaintext), 'v1');
      const m = await kms.updateRotationPolicy({ keyId: k.keyId, enableAutomaticRotation: true, rotationInterval: '604800s' });
      assert.equal(m.automaticRotation, 'Enabled');
      assert.equal(m.rotationInterval, '604800s');
      assert.equal(await code(kms.updateRotationPolicy({ keyId: k.keyId, enableAutomaticRotation: true, rotationInterval: '60s' })), 'InvalidParameter.RotationInterval');
      assert.equal(await code(kms.describeKeyVersion({ keyId: k.keyId, keyVersionId: 'nope' })), 'Forbidden.KeyVersionNotFound');
    });

    test('aliases and tags', async () => {
      const { kms } = await makeKms(kind);
      const a = await kms.createKey();
      const b = await kms.createKey();
      await kms.createAlias({ aliasName: 'alias/orders', keyId: a.keyId });
      assert.equal(await code(kms.createAlias({ aliasName: 'alias/orders', keyId: b.keyId })), 'Rejected.AliasExists');
      assert.equal(await code(kms.createAlias({ aliasName: 'orders', keyId: b.keyId })), 'InvalidParameter.AliasName');
      assert.equal((await kms.encrypt({ keyId: 'alias/orders', plaintext: enc.encode('x') })).keyId, a.keyId);
      await kms.updateAlias({ aliasName: 'alias/orders', keyId: b.keyId });
      assert.equal((await kms.describeKey({ keyId: 'alias/orders' })).keyId, b.keyId);
      const l = await kms.listAliases();
      assert.deepEqual(l.aliases.map((x) => x.aliasName), ['alias/orders']);
      assert.equal((await kms.listAliasesByKeyId({ keyId: b.keyId })).totalCount, 1);
      await kms.deleteAlias({ aliasName: 'alias/orders' });
      assert.equal(await code(kms.describeKey({ keyId: 'alias/orders' })), 'Forbidden.AliasNotFound');
      await kms.tagResource({ keyId: b.keyId, tags: { env: 'prod', team: 'sec' } });
      await kms.untagResource({ keyId: b.keyId, tagKeys: ['team'] });
      assert.deepEqual(await kms.listResourceTags({ keyId: b.keyId }), [{ tagKey: 'env', tagValue: 'prod' }]);
      assert.equal(await code(kms.tagResource({ keyId: b.keyId, tags: { 'acs:x': 'y' } })), 'InvalidParameter.Tags');
      assert.equal(await code(kms.tagResource({ keyId: b.keyId, tags: { n: 1 } })), 'InvalidParameter.Tags');
    });

    test('deletion protection', async () => {
      const { kms } = await makeKms(kind);
      const k = await kms.createKey();
      assert.equal(k.deletionProtection, 'Disabled');
      const m = await kms.setDeletionProtection({ keyId: k.keyId, enableDeletionProtection: true, deletionProtectionDescription: 'prod' });
      assert.equal(m.deletionProtection, 'Enabled');
      assert.equal(m.deletionProtectionDescription, 'prod');
      assert.equal(await code(kms.scheduleKeyDeletion({ keyId: k.keyId, pendingWindowInDays: 7 })), 'Forbidden.DeletionProtection');
      await kms.setDeletionProtection({ keyId: k.keyId, enableDeletionProtection: false });
      assert.equal((await kms.scheduleKeyDeletion({ keyId: k.keyId, pendingWindowInDays: 7 })).keyState, 'PendingDeletion');
    });

    test('bad input gets stable codes', async () => {
      const { kms } = await makeKms(kind);
      const k = await kms.createKey();
      assert.equal(await code(kms.encrypt({ keyId: k.keyId, plaintext: new Uint8Array(6145) })), 'InvalidParameter.PlaintextTooLarge');
      assert.equal(await code(kms.encrypt({ keyId: k.keyId, plaintext: 'text' })), 'InvalidParameter.Plaintext');
      assert.equal(await code(kms.encrypt({ keyId: '00000000-0000-4000-8000-000000000000', plaintext: enc.encode('x') })), 'Forbidden.KeyNotFound');
      assert.equal(await code(kms.createKey({ keySpec: 'AES_512' })), 'InvalidParameter.KeySpec');
      // Asymmetric keys on both, the loopback's living on its server.
      const ec = await kms.createKey({ keySpec: 'EC_P256', keyUsage: 'SIGN/VERIFY' });
      const s = await kms.asymmetricSign({ keyId: ec.keyId, algorithm: 'ECDSA_SHA_256', digest: new Uint8Array(32) });
      assert.equal((await kms.asymmetricVerify({ keyId: ec.keyId, algorithm: 'ECDSA_SHA_256', digest: new Uint8Array(32), signature: s.value })).value, true);
      assert.equal(await code(kms.asymmetricSign({ keyId: ec.keyId, algorithm: 'ECDSA_SHA_256', digest: new Uint8Array(31) })), 'InvalidParameter.Digest');
      assert.equal(await code(kms.generateDataKey({ keyId: k.keyId, numberOfBytes: 2000 })), 'InvalidParameter.NumberOfBytes');
      assert.equal(await code(kms.generateDataKey({ keyId: k.keyId, numberOfBytes: -1 })), 'InvalidParameter.NumberOfBytes');
      assert.equal(await code(kms.decrypt({ ciphertextBlob: enc.encode('junk') })), 'InvalidCiphertext');
      assert.equal(await code(kms.encrypt({ keyId: k.keyId, plaintext: enc.encode('x'), encryptionContext: { a: 1 } })), 'InvalidParameter.EncryptionContext');
      await assert.rejects(kms.describeKey({ keyId: '00000000-0000-4000-8000-000000000000' }), KeyNotFoundError);
      // A connected Kms has no store of its own to export.
      await assert.rejects(kms.exportImage(), kind === 'connected' ? RejectedError : InvalidParameterError);
    });
  });
}

test('file store: persist, reopen, wrong passphrase, images', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-node-'));
  try {
    const path = join(dir, 'nested', 'store');
    const kms = await Kms.open({ path, passphrase: 'pw' });
    const k = await kms.createKey();
    const blob = (await kms.encrypt({ keyId: k.keyId, plaintext: enc.encode('persisted') })).ciphertextBlob;
    // One writer at a time, in this process or another.
    await assert.rejects(Kms.open({ path, passphrase: 'pw' }), (e) => e instanceof StoreError && e.code === 'Rejected.StoreLocked');
    await kms.close();
    await assert.rejects(kms.createKey(), (e) => e instanceof StoreError && e.code === 'Rejected.StoreClosed');
    await assert.rejects(Kms.open({ path, passphrase: 'nope' }), WrongPassphraseError);
    const again = await Kms.open({ path, passphrase: 'pw' });
    assert.equal(dec.decode((await again.decrypt({ ciphertextBlob: blob })).plaintext), 'persisted');
    const fromImage = await Kms.open({ image: new Uint8Array(readFileSync(path)), passphrase: 'pw' });
    assert.equal((await fromImage.describeKey({ keyId: k.keyId })).keyId, k.keyId);
    const resealed = await fromImage.exportImage({ passphrase: 'other' });
    assert.equal((await (await Kms.open({ image: resealed, passphrase: 'other' })).listKeys()).totalCount, 1);
    const bad = resealed.slice();
    bad[bad.length - 1] ^= 1;
    await assert.rejects(Kms.open({ image: bad, passphrase: 'other' }), StoreError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('file store journal: one record per mutation, group commit, torn tail, backup, rekey', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-node-journal-'));
  try {
    const path = join(dir, 'store');
    const kms = await Kms.open({ path, passphrase: 'pw' });
    assert.deepEqual(kms.storeInfo().journalRecords, 0);
    const first = await kms.createKey();
    const size1 = statSync(path).size;
    // Concurrent mutations append behind each other and share flushes.
    const many = await Promise.all(Array.from({ length: 20 }, () => kms.createKey()));
    await kms.createAlias({ aliasName: 'alias/node', keyId: first.keyId });
    const info = kms.storeInfo();
    assert.equal(info.formatVersion, 2);
    assert.equal(info.journalRecords, 22);
    assert.ok(statSync(path).size > size1);
    const blob = (await kms.encrypt({ keyId: 'alias/node', plaintext: enc.encode('journaled') })).ciphertextBlob;

    // Reopen: the journal replays; a torn tail is dropped and then overwritten.
    await kms.close();
    appendFileSync(path, new Uint8Array([0, 0, 1, 7, 0xff]));
    const again = await Kms.open({ path, passphrase: 'pw' });
    assert.equal(again.storeInfo().tornBytes, 5);
    assert.equal((await again.listKeys({ pageSize: 100 })).totalCount, 21);
    for (const k of many) assert.equal((await again.describeKey({ keyId: k.keyId })).keyId, k.keyId);
    await again.createKey();
    await again.close();
    const third = await Kms.open({ path, passphrase: 'pw' });
    assert.equal(third.storeInfo().tornBytes, 0);
    assert.equal((await third.listKeys({ pageSize: 100 })).totalCount, 22);

    // Compact, rekey, change the passphrase, back up, restore elsewhere.
    await third.compactStore();
    assert.equal(third.storeInfo().journalRecords, 0);
    await third.rekeyStore();
    await third.changePassphrase({ passphrase: 'pw2' });
    const backup = await third.createBackup({ backupPassphrase: 'bk' });
    await third.close();
    await assert.rejects(Kms.open({ path, passphrase: 'pw' }), WrongPassphraseError);
    const restoredPath = join(dir, 'restored');
    await assert.rejects(
      Kms.restoreBackup({ path: restoredPath, backup, backupPassphrase: 'nope', passphrase: 'pw3' }),
      WrongPassphraseError,
    );
    const restored = await Kms.restoreBackup({ path: restoredPath, backup, backupPassphrase: 'bk', passphrase: 'pw3' });
    assert.equal(dec.decode((await restored.decrypt({ ciphertextBlob: blob })).plaintext), 'journaled');
    await restored.createKey();
    await restored.close();
    const reopened = await Kms.open({ path: restoredPath, passphrase: 'pw3' });
    assert.equal((await reopened.listKeys({ pageSize: 100 })).totalCount, 23);
    await reopened.close();
    await assert.rejects(
      Kms.restoreBackup({ path: restoredPath, backup, backupPassphrase: 'bk', passphrase: 'pw3' }),
      (e) => e instanceof StoreError && e.code === 'Rejected.StoreExists',
    );
    const inMemory = await Kms.restoreBackup({ backup, backupPassphrase: 'bk', passphrase: 'pw4' });
    assert.equal((await inMemory.describeKey({ keyId: 'alias/node' })).keyId, first.keyId);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the writer lock holds against a native strongroom process and is released by close', async () => {
  const { spawn } = await import('node:child_process');
  const dir = mkdtempSync(join(tmpdir(), 'sr-node-lock-'));
  try {
    const path = join(dir, 'store');
    const kms = await Kms.open({ path, passphrase: 'pw' });
    await kms.createKey();
    // A native process (the Python binding: flock + PID mark) is refused while Node holds it…
    const py = (code) =>
      new Promise((ok) => {
        const p = spawn(process.env.STRONGROOM_PYTHON ?? '../.venv/bin/python', ['-c', code, path], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        p.stdout.on('data', (d) => (out += d));
        p.stderr.on('data', (d) => (out += d));
        p.on('close', () => ok(out.trim()));
        p.on('error', (e) => ok(`spawn failed: ${e.message}`));
      });
    const probe = `
import sys, strongroom
try:
    k = strongroom.Kms.open(sys.argv[1], passphrase="pw")
    print("opened", k.list_keys().total_count)
except strongroom.StrongroomError as e:
    print(e.code)`;
    assert.equal(await py(probe), 'Rejected.StoreLocked');
    await kms.close();
    assert.equal(await py(probe), 'opened 1');
    // …and a stale mark left by a dead process does not lock anyone out.
    const { writeFileSync } = await import('node:fs');
    writeFileSync(`${path}.node-lock`, '999999999');
    const again = await Kms.open({ path, passphrase: 'pw' });
    assert.equal((await again.listKeys()).totalCount, 1);
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an empty or unreadable writer mark is never taken for stale', async () => {
  const { writeFileSync } = await import('node:fs');
  const dir = mkdtempSync(join(tmpdir(), 'sr-node-lock-'));
  try {
    const path = join(dir, 'store');
    writeFileSync(`${path}.node-lock`, '');
    await assert.rejects(Kms.open({ path, passphrase: 'pw' }), (e) => e instanceof StoreError && e.code === 'Rejected.StoreLocked' && /names no process/.test(e.message));
    writeFileSync(`${path}.node-lock`, 'garbage');
    await assert.rejects(Kms.open({ path, passphrase: 'pw' }), (e) => e.code === 'Rejected.StoreLocked');
    // A live holder is named.
    writeFileSync(`${path}.node-lock`, String(process.pid));
    await assert.rejects(Kms.open({ path, passphrase: 'pw' }), (e) => e.code === 'Rejected.StoreLocked' && e.message.includes(`process ${process.pid}`));
    rmSync(`${path}.node-lock`);
    const kms = await Kms.open({ path, passphrase: 'pw' });
    assert.equal(statSync(`${path}.node-lock`).mode & 0o777, 0o600);
    await kms.createKey();
    await kms.compactStore();
    // The store (written through its temp file) is 0600 whatever the umask.
    assert.equal(statSync(path).mode & 0o777, 0o600);
    await kms.close();
    // A store path that is a symbolic link is refused.
    const { symlinkSync } = await import('node:fs');
    symlinkSync(path, `${path}-link`);
    await assert.rejects(Kms.open({ path: `${path}-link`, passphrase: 'pw' }), (e) => e.code === 'Rejected.StoreIo' && /symbolic link/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('8 Node processes opening one store together: exactly one writer, 50 times over', { timeout: 240_000 }, async () => {
  const { spawn } = await import('node:child_process');
  const { writeFileSync } = await import('node:fs');
  const { createInterface } = await import('node:readline');
  const dir = mkdtempSync(join(tmpdir(), 'sr-node-race-'));
  const kids = Array.from({ length: 8 }, () => {
    const p = spawn(process.execPath, [new URL('./helpers/lock-child.mjs', import.meta.url).pathname], { stdio: ['pipe', 'pipe', 'inherit'] });
    const queue = [];
    const waiting = [];
    createInterface({ input: p.stdout }).on('line', (l) => (waiting.length ? waiting.shift()(l) : queue.push(l)));
    const next = () => new Promise((ok) => (queue.length ? ok(queue.shift()) : waiting.push(ok)));
    return { p, next, send: (s) => p.stdin.write(`${s}\n`) };
  });
  try {
    for (const k of kids) assert.equal(await k.next(), 'ready');
    for (let round = 0; round < 50; round++) {
      const path = join(dir, `store-${round}`);
      // Every other round starts from a stale mark (a dead PID) that all of them race to take over.
      if (round % 2) writeFileSync(`${path}.node-lock`, '999999999');
      for (const k of kids) k.send(`go ${path}`);
      const answers = await Promise.all(kids.map((k) => k.next()));
      assert.equal(answers.filter((a) => a === 'held').length, 1, `round ${round}: ${answers.join(', ')}`);
      assert.ok(answers.every((a) => a === 'held' || a === 'Rejected.StoreLocked'), answers.join(', '));
      for (const k of kids) k.send('close');
      for (const k of kids) assert.equal(await k.next(), 'closed');
    }
  } finally {
    for (const k of kids) k.send('exit');
    await Promise.all(kids.map((k) => new Promise((ok) => (k.p.exitCode !== null ? ok() : k.p.on('exit', ok)))));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('listKeys filters and getRandomPassword', async () => {
  const kms = await Kms.memory();
  const a = await kms.createKey();
  const b = await kms.createKey({ keySpec: 'Aliyun_AES_128' });
  await kms.disableKey({ keyId: b.keyId });
  const ids = (r) => r.keys.map((k) => k.keyId);
  assert.deepEqual(ids(await kms.listKeys({ filters: [{ key: 'KeyState', values: ['Enabled'] }] })), [a.keyId]);
  assert.deepEqual(
    ids(await kms.listKeys({ filters: [{ key: 'KeyState', values: ['Enabled', 'Disabled'] }, { key: 'KeySpec', values: ['Aliyun_AES_128'] }] })),
    [b.keyId],
  );
  await assert.rejects(kms.listKeys({ filters: [{ key: 'Colour', values: ['red'] }] }), (e) => e instanceof InvalidParameterError && e.code === 'InvalidParameter.Filters');
  await assert.rejects(kms.listKeys({ filters: [{ key: 'KeyState' }] }), (e) => e.code === 'InvalidParameter.Filters');
  const p = kms.getRandomPassword();
  assert.equal(typeof p, 'string');
  assert.equal(p.length, 32);
  assert.match(p, /[a-z]/);
  assert.match(p, /[A-Z]/);
  assert.match(p, /[0-9]/);
  const q = kms.getRandomPassword({ length: 40, excludePunctuation: true, excludeCharacters: 'xyz' });
  assert.match(q, /^[A-Za-wZ0-9]{40}$/);
  assert.ok(!/[xyz]/.test(q));
  assert.throws(() => kms.getRandomPassword({ length: 200 }), (e) => e instanceof InvalidParameterError && e.code === 'InvalidParameter.Length');
});

test('a dead transport is a clear BackendError', async () => {
  const server = await BackendServer.software({ kms: await Kms.memory() });
  let alive = true;
  const kms = await Kms.memory({ transport: async (r) => { if (!alive) throw new Error('HSM unreachable'); return server.handle(r); }, clientKey: server.createClient() });
  const k = await kms.createKey();
  alive = false;
  await assert.rejects(kms.encrypt({ keyId: k.keyId, plaintext: enc.encode('x') }), (e) => e instanceof BackendError && e.code === 'Rejected.BackendUnavailable');
});

test('a restarted BackendServer on the same store serves the keys it made', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-node-server-'));
  try {
    let serverKms = await Kms.open({ path: join(dir, 'server'), passphrase: 's' });
    let server = await BackendServer.software({ kms: serverKms });
    const clientKey = server.createClient();
    const client = await Kms.memory({ transport: (r) => server.handle(r), clientKey });
    const k = await client.createKey();
    const blob = (await client.encrypt({ keyId: k.keyId, plaintext: enc.encode('kept') })).ciphertextBlob;
    await serverKms.close();
    // The server restarts: same store, new instance; the client keeps its keys.
    serverKms = await Kms.open({ path: join(dir, 'server'), passphrase: 's' });
    server = await BackendServer.software({ kms: serverKms });
    // Client keys live in the server object: the operator admits them again.
    await assert.rejects(client.decrypt({ ciphertextBlob: blob }), (e) => e instanceof BackendError && /InvalidAccessKeyId/.test(e.message));
    server.addClient(clientKey);
    assert.equal(dec.decode((await client.decrypt({ ciphertextBlob: blob })).plaintext), 'kept');
    await serverKms.close();
    await assert.rejects(BackendServer.software(), (e) => e instanceof InvalidParameterError && e.code === 'InvalidParameter.Kms');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('wire protocol v2: client keys, version 1 refused by default, keys withdrawn', async () => {
  const server = await BackendServer.software({ kms: await Kms.memory() });
  const transport = (r) => server.handle(r);
  // Version 1 (no client key) is refused with a clear error, unless the operator allows it.
  await assert.rejects(Kms.memory({ transport }), (e) => e instanceof BackendError && /version 1/.test(e.message));
  server.acceptV1(true);
  const v1 = await Kms.memory({ transport });
  await v1.createKey();
  server.acceptV1(false);
  const key = server.createClient();
  assert.match(key.id, /^wk-[0-9a-f]{16}$/);
  assert.equal(key.secret.length, 32);
  const kms = await Kms.memory({ transport, clientKey: key });
  const k = await kms.createKey();
  const blob = (await kms.encrypt({ keyId: k.keyId, plaintext: enc.encode('v2') })).ciphertextBlob;
  // Another secret under the same id; an unknown id; a malformed key.
  await assert.rejects(Kms.memory({ transport, clientKey: { id: key.id, secret: new Uint8Array(32) } }), (e) => e instanceof BackendError && /Forbidden\.WireAuthentication/.test(e.message));
  await assert.rejects(Kms.memory({ transport, clientKey: { id: 'wk-nobody', secret: key.secret } }), (e) => /InvalidAccessKeyId/.test(e.message));
  await assert.rejects(Kms.memory({ transport, clientKey: { id: 'bad id', secret: key.secret } }), (e) => e instanceof InvalidParameterError);
  await assert.rejects(Kms.memory({ clientKey: key }), (e) => e instanceof InvalidParameterError && e.code === 'InvalidParameter.ClientKey');
  // An answer altered in transit is not believed.
  let flip = false;
  const flipping = await Kms.memory({ transport: async (r) => { const a = await server.handle(r); if (flip) a[6] ^= 1; return a; }, clientKey: key });
  const fk = await flipping.createKey();
  const fblob = (await flipping.encrypt({ keyId: fk.keyId, plaintext: enc.encode('v2') })).ciphertextBlob;
  flip = true;
  await assert.rejects(flipping.decrypt({ ciphertextBlob: fblob }), (e) => e instanceof BackendError && e.code === 'Rejected.BackendProtocol');
  flip = false;
  assert.equal(dec.decode((await flipping.decrypt({ ciphertextBlob: fblob })).plaintext), 'v2');
  // Withdrawn: refused on the next call.
  assert.equal(server.removeClient(key.id), true);
  await assert.rejects(kms.decrypt({ ciphertextBlob: blob }), (e) => e instanceof BackendError);
});

test('an EncryptionContext string with a lone surrogate is refused, not turned into U+FFFD', async () => {
  const kms = await Kms.memory();
  const k = await kms.createKey();
  for (const ctx of [{ a: '\ud800' }, { ['\udfff']: 'x' }, { a: 'ok\udc00end' }]) {
    await assert.rejects(
      kms.encrypt({ keyId: k.keyId, plaintext: enc.encode('x'), encryptionContext: ctx }),
      (e) => e instanceof InvalidParameterError && e.code === 'InvalidParameter.EncryptionContext',
    );
    await assert.rejects(kms.encryptEnvelope({ keyIds: [k.keyId], plaintext: enc.encode('x'), encryptionContext: ctx }), (e) => e.code === 'InvalidParameter.EncryptionContext');
  }
  // A well-formed pair (an astral character) is fine.
  const blob = (await kms.encrypt({ keyId: k.keyId, plaintext: enc.encode('x'), encryptionContext: { a: '\ud83d\ude00' } })).ciphertextBlob;
  await kms.decrypt({ ciphertextBlob: blob, encryptionContext: { a: '😀' } });
});

test('decryptStream fed one byte at a time', async () => {
  const kms = await Kms.memory();
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push((await kms.createKey()).keyId);
  const data = enc.encode('byte by byte '.repeat(500));
  const ct = await kms.encryptEnvelope({ keyIds: ids, plaintext: data, encryptionContext: { big: 'x'.repeat(4000) }, frameLength: 1024 });
  const src = new ReadableStream({ start(c) { for (let i = 0; i < ct.length; i++) c.enqueue(ct.subarray(i, i + 1)); c.close(); } });
  const d = kms.decryptStream();
  const out = new Uint8Array(await new Response(src.pipeThrough(d)).arrayBuffer());
  assert.deepEqual(out, data);
  assert.equal((await d.info).keyId, ids[0]);
});
