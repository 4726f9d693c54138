// Secrets Manager from Node: every secret action as a method (through the core's one
// dispatch), redacted logging, a JS rotator, and the SecretCache caching client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Kms, SecretCache, StrongroomError, InvalidParameterError } from 'strongroom';

const VALUE = 'SRLEAK-node-s3cret';

async function code(p) {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof StrongroomError, `not a StrongroomError: ${e}`);
    return e.code;
  }
  assert.fail('expected a rejection');
}

test('every secret action, with Alibaba rules and codes', async () => {
  const kms = await Kms.memory();
  const c = await kms.createSecret({ secretName: 'db/pass', secretData: VALUE, tags: { team: 'pay' }, description: 'db' });
  assert.equal(c.secretName, 'db/pass');
  assert.equal(c.versionId, 'v1');
  assert.equal(c.arn, 'acs:kms:strongroom:local:secret/db/pass');
  const v = await kms.getSecretValue({ secretName: 'db/pass' });
  assert.equal(v.secretData, VALUE);
  assert.equal(v.secretDataType, 'text');
  assert.deepEqual(v.versionStages, ['ACSCurrent']);
  // Logged, it shows no value; the value itself is readable.
  assert.ok(!inspect(v).includes(VALUE), inspect(v));
  assert.ok(!JSON.stringify(v).includes(VALUE));
  assert.ok(inspect(v).includes('[redacted]'));

  const p = await kms.putSecretValue({ secretName: 'db/pass', versionId: 'v2', secretData: 'second' });
  assert.deepEqual(p.versionStages, ['ACSCurrent']);
  assert.equal((await kms.getSecretValue({ secretName: 'db/pass', versionStage: 'ACSPrevious' })).secretData, VALUE);
  assert.equal(await code(kms.putSecretValue({ secretName: 'db/pass', versionId: 'v2', secretData: 'other' })), 'Rejected.ResourceExist');
  await kms.updateSecretVersionStage({ secretName: 'db/pass', versionStage: 'ACSCurrent', removeFromVersion: 'v2', moveToVersion: 'v1' });
  assert.equal((await kms.getSecretValue({ secretName: 'db/pass' })).secretData, VALUE);
  const ids = await kms.listSecretVersionIds({ secretName: 'db/pass' });
  assert.deepEqual(ids.versionIds.map((x) => [x.versionId, x.versionStages]), [['v2', ['ACSPrevious']], ['v1', ['ACSCurrent']]]);

  // Binary secrets are Uint8Arrays.
  await kms.createSecret({ secretName: 'bin', secretData: new Uint8Array([0xff, 0, 1]) });
  const b = await kms.getSecretValue({ secretName: 'bin' });
  assert.equal(b.secretDataType, 'binary');
  assert.deepEqual([...b.secretData], [0xff, 0, 1]);

  const d = await kms.describeSecret({ secretName: 'db/pass', fetchTags: true });
  assert.deepEqual(d.tags, { team: 'pay' });
  assert.equal(d.description, 'db');
  assert.equal(d.secretData, undefined);
  await kms.tagResource({ secretName: 'db/pass', tags: { env: 'prod' } });
  await kms.untagResource({ secretName: 'db/pass', tagKeys: ['team'] });
  assert.deepEqual(await kms.listResourceTags({ secretName: 'db/pass' }), [{ tagKey: 'env', tagValue: 'prod' }]);
  const l = await kms.listSecrets({ fetchTags: true, filters: [{ key: 'TagKey', values: ['env'] }] });
  assert.equal(l.totalCount, 1);
  assert.deepEqual(l.secrets[0].tags, { env: 'prod' });
  await kms.updateSecret({ secretName: 'db/pass', description: 'new', customData: { owner: 'ops' } });
  assert.equal(JSON.parse((await kms.describeSecret({ secretName: 'db/pass' })).extendedConfig).CustomData.owner, 'ops');

  // Names and sizes by Alibaba's rules.
  assert.equal(await code(kms.createSecret({ secretName: 'bad name', secretData: 'x' })), 'InvalidParameter.SecretName');
  assert.equal(await code(kms.createSecret({ secretName: 'big', secretData: 'x'.repeat(30721) })), 'InvalidParameter.SecretData');
  await assert.rejects(kms.createSecret({ secretName: 'n', secretData: 42 }), InvalidParameterError);

  // Deletion with a window, restore, force.
  const del = await kms.deleteSecret({ secretName: 'db/pass', recoveryWindowInDays: 7 });
  assert.ok(del.plannedDeleteTime);
  assert.equal(await code(kms.getSecretValue({ secretName: 'db/pass' })), 'Rejected.ResourceInDeleteWindow');
  await kms.restoreSecret({ secretName: 'db/pass' });
  await kms.deleteSecret({ secretName: 'db/pass', forceDeleteWithoutRecovery: true });
  assert.equal(await code(kms.getSecretValue({ secretName: 'db/pass' })), 'Forbidden.ResourceNotFound');

  // The same actions through kms.call, Alibaba's JSON.
  const r = await kms.call('GetSecretValue', { SecretName: 'bin' });
  assert.equal(r.SecretData, '/wAB');
});

test('a JS rotator: create / set / test, a failure leaves ACSCurrent', async () => {
  const kms = await Kms.memory();
  await kms.createSecret({ secretName: 's', secretData: 'original' });
  const steps = [];
  let failTest = true;
  kms.setSecretRotator(async ({ step, secretName, versionId, value }) => {
    steps.push(`${step} ${secretName} ${versionId}${value ? ' ' + new TextDecoder().decode(value) : ''}`);
    if (step === 'create') return `new-${versionId}`;
    if (step === 'test' && failTest) throw new Error('db refused the new password');
  });
  assert.equal(await code(kms.rotateSecret({ secretName: 's', versionId: 'r1' })), 'Rejected.RotationFailed');
  assert.equal((await kms.getSecretValue({ secretName: 's' })).secretData, 'original');
  failTest = false;
  const r = await kms.rotateSecret({ secretName: 's' });
  assert.equal(r.versionId, 'r1');
  assert.equal((await kms.getSecretValue({ secretName: 's' })).secretData, 'new-r1');
  assert.deepEqual(steps, ['create s r1', 'set s r1 new-r1', 'test s r1 new-r1', 'set s r1 new-r1', 'test s r1 new-r1']);
  // Without a rotator: the built-in random password.
  kms.setSecretRotator(undefined);
  await kms.rotateSecret({ secretName: 's', versionId: 'r2' });
  assert.equal((await kms.getSecretValue({ secretName: 's' })).secretData.length, 32);
  await kms.updateSecretRotationPolicy({ secretName: 's', enableAutomaticRotation: true, rotationInterval: '7d' });
  assert.equal((await kms.describeSecret({ secretName: 's' })).automaticRotation, 'Enabled');
});

test('secrets persist in a store file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-secrets-'));
  try {
    const path = join(dir, 'store');
    let kms = await Kms.open({ path, passphrase: 'pw' });
    await kms.createSecret({ secretName: 'kept', secretData: VALUE });
    await kms.close();
    kms = await Kms.open({ path, passphrase: 'pw' });
    assert.equal((await kms.getSecretValue({ secretName: 'kept' })).secretData, VALUE);
    await kms.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SecretCache: one fetch for 100 getters, refresh on change, stale on error', async () => {
  let now = 1_000_000;
  let fetches = 0;
  let fail = false;
  const kms = await Kms.memory();
  await kms.createSecret({ secretName: 'c', secretData: 'one' });
  const counting = {
    async getSecretValue(o) {
      fetches++;
      if (fail) throw new StrongroomError('Rejected.BackendUnavailable', 'down');
      return kms.getSecretValue(o);
    },
  };
  const events = [];
  const cache = new SecretCache(counting, { refreshIntervalMs: 1000, maxStaleMs: 5000, now: () => now, onEvent: (e) => events.push(e.type) });
  const all = await Promise.all(Array.from({ length: 100 }, () => cache.get('c')));
  assert.equal(fetches, 1, 'single flight');
  assert.ok(all.every((v) => v.secretData === 'one'));
  // Served from memory until the interval passes (synchronously).
  const hit = cache.get('c');
  assert.equal(hit.secretData, 'one');
  assert.equal(fetches, 1);
  // ACSCurrent changes: picked up at the next refresh.
  await kms.putSecretValue({ secretName: 'c', versionId: 'v2', secretData: 'two' });
  now += 1000;
  assert.equal((await cache.get('c')).secretData, 'two');
  assert.deepEqual(events, ['fetch', 'refresh', 'changed']);
  // The backend fails: the last good value is served for maxStaleMs, with the error
  // reported; after that the error is thrown.
  fail = true;
  now += 1000;
  assert.equal((await cache.get('c')).secretData, 'two');
  assert.equal(cache.lastError('c').code, 'Rejected.BackendUnavailable');
  assert.ok(events.includes('stale') && events.includes('error'));
  now += 5000;
  assert.equal(await code(Promise.resolve().then(() => cache.get('c'))), 'Rejected.BackendUnavailable');
  fail = false;
  assert.equal((await cache.get('c')).secretData, 'two');
  // refresh() forces a fetch; invalidate() forgets.
  const before = fetches;
  await cache.refresh('c');
  cache.invalidate('c');
  await cache.get('c');
  assert.equal(fetches, before + 2);
  assert.throws(() => new SecretCache({}), InvalidParameterError);
});

test('secret errors have their own classes', async () => {
  const { ResourceNotFoundError, ResourceStateError } = await import('strongroom');
  const kms = await Kms.memory();
  await assert.rejects(kms.getSecretValue({ secretName: 'nope' }), ResourceNotFoundError);
  await kms.createSecret({ secretName: 'd', secretData: 'x' });
  await kms.deleteSecret({ secretName: 'd' });
  await assert.rejects(kms.getSecretValue({ secretName: 'd' }), ResourceStateError);
});

test('SecretCache on the real clock: a timer marks a value due, hits read no clock', async () => {
  const kms = await Kms.memory();
  await kms.createSecret({ secretName: 't', secretData: 'one' });
  let fetches = 0;
  const counting = { getSecretValue: (o) => { fetches++; return kms.getSecretValue(o); } };
  const cache = new SecretCache(counting, { refreshIntervalMs: 50 });
  assert.equal((await cache.get('t')).secretData, 'one');
  const hit = cache.get('t');
  assert.ok(!(hit instanceof Promise), 'a hit is the value itself');
  await kms.putSecretValue({ secretName: 't', versionId: 'v2', secretData: 'two' });
  assert.equal(cache.get('t').secretData, 'one', 'still within the interval');
  await new Promise((r) => setTimeout(r, 80));
  assert.equal((await cache.get('t')).secretData, 'two');
  assert.equal(fetches, 2);
});

test('SecretCache persist: a sealed copy per secret that a restarted process serves while the KMS refuses', async () => {
  const { readdirSync, readFileSync, writeFileSync, statSync, existsSync } = await import('node:fs');
  const kms = await Kms.memory();
  const { keyId } = await kms.createKey();
  await kms.createSecret({ secretName: 'app/db', secretData: VALUE, encryptionKeyId: keyId });
  await kms.createSecret({ secretName: 'app/bin', secretData: new Uint8Array([0, 1, 2]), encryptionKeyId: keyId });
  const dir = join(mkdtempSync(join(tmpdir(), 'sr-cache-')), 'copies');
  const key = new Uint8Array(32).fill(5);
  await new SecretCache(kms).get('app/db');
  assert.ok(!existsSync(dir), 'nothing on disk without persist');
  assert.throws(() => new SecretCache(kms, { persist: { path: dir, key: new Uint8Array(16) } }), (e) => e.code === 'InvalidParameter.CacheKey');

  const a = new SecretCache(kms, { persist: { path: dir, key } });
  await a.get('app/db');
  await a.get('app/bin');
  const files = readdirSync(dir);
  assert.equal(files.length, 2);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  for (const f of files) {
    const b = readFileSync(join(dir, f));
    assert.equal(b.subarray(0, 5).toString('latin1'), 'SRSC\x01');
    assert.ok(!b.includes('SRLEAK'), 'the copy is sealed');
    assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600);
  }

  await kms.disableKey({ keyId });
  const events = [];
  const b = new SecretCache(kms, { persist: { path: dir, key }, onEvent: (e) => events.push([e.type, e.error?.code]) });
  assert.equal((await b.get('app/db')).secretData, VALUE);
  assert.deepEqual((await b.get('app/bin')).secretData, new Uint8Array([0, 1, 2]));
  assert.equal(b.lastError('app/db').code, 'Forbidden.KeyDisabled');
  assert.deepEqual(events.slice(0, 2), [['error', 'Forbidden.KeyDisabled'], ['stale', 'Forbidden.KeyDisabled']]);
  assert.ok(!inspect(await b.get('app/db')).includes('SRLEAK'), 'a served copy logs redacted');
  assert.equal(await code(new SecretCache(kms, { persist: { path: dir, key: new Uint8Array(32) } }).get('app/db')), 'Forbidden.KeyDisabled');
  assert.equal(await code(new SecretCache(kms, { persist: { path: dir, key, maxAgeMs: 0 } }).get('app/db')), 'Forbidden.KeyDisabled');
  const f = files.map((x) => join(dir, x)).find((x) => readFileSync(x).length > 60) ?? join(dir, files[0]);
  const good = readFileSync(f);
  const bad = Buffer.from(good);
  bad[bad.length - 1] ^= 1;
  writeFileSync(f, bad);
  const c = new SecretCache(kms, { persist: { path: dir, key } });
  const served = await Promise.allSettled([c.get('app/db'), c.get('app/bin')]);
  assert.equal(served.filter((x) => x.status === 'rejected').length, 1, 'the changed copy is not served');
  writeFileSync(f, good);
  c.invalidate('app/db');
  assert.equal(readdirSync(dir).length, 1);
  c.invalidate();
  assert.deepEqual(readdirSync(dir), []);
  rmSync(dirname(dir), { recursive: true });
});

test('a file store keeps secret values in its values file; the shared vector opens', async () => {
  const { readFileSync, writeFileSync, existsSync, statSync } = await import('node:fs');
  const dir = mkdtempSync(join(tmpdir(), 'sr-node-values-'));
  try {
    const path = join(dir, 'store.srs');
    let kms = await Kms.open({ path, passphrase: 'pw' });
    await kms.createSecret({ secretName: 'big', secretData: 'x'.repeat(20000) });
    await kms.putSecretValue({ secretName: 'big', versionId: 'v2', secretData: 'y'.repeat(10000) });
    await kms.close();
    const values = readFileSync(`${path}.values`);
    assert.deepEqual([...values.subarray(0, 8)], [0x53, 0x52, 0x53, 0x56, 1, 0, 0, 0]);
    assert.equal(values.length, 8 + 20016 + 10016);
    assert.ok(statSync(path).size < 10000, 'the store holds spans, not values');
    assert.equal(statSync(`${path}.values`).mode & 0o777, 0o600);
    kms = await Kms.open({ path, passphrase: 'pw' });
    assert.equal((await kms.getSecretValue({ secretName: 'big' })).secretData, 'y'.repeat(10000));
    assert.equal((await kms.getSecretValue({ secretName: 'big', versionId: 'v1' })).secretData, 'x'.repeat(20000));
    // Gone without recovery: zeroed in the values file.
    await kms.deleteSecret({ secretName: 'big', forceDeleteWithoutRecovery: true });
    assert.ok(readFileSync(`${path}.values`).subarray(8).every((b) => b === 0));
    // An image carries values inline: it opens in memory (a browser, another host).
    await kms.createSecret({ secretName: 'small', secretData: 'inline in images' });
    const image = await kms.exportImage();
    await kms.close();
    const copy = await Kms.open({ image, passphrase: 'pw' });
    assert.equal((await copy.getSecretValue({ secretName: 'small' })).secretData, 'inline in images');
    // Without its values file the store opens, and a value read says it is damaged.
    writeFileSync(`${path}.values`, 'not a values file');
    kms = await Kms.open({ path, passphrase: 'pw' });
    assert.equal(await code(kms.getSecretValue({ secretName: 'small' })), 'Rejected.StoreCorrupted');
    await kms.close();

    // tests/vectors/secrets_values_v1.json, as files.
    const v = JSON.parse(readFileSync(new URL('../../tests/vectors/secrets_values_v1.json', import.meta.url), 'utf8'));
    const vp = join(dir, 'vector.srs');
    writeFileSync(vp, Buffer.from(v.store, 'hex'));
    writeFileSync(`${vp}.values`, Buffer.from(v.values, 'hex'));
    const vk = await Kms.open({ path: vp, passphrase: v.passphrase });
    for (const s of v.secrets) {
      const r = await vk.getSecretValue({ secretName: s.name, versionId: s.version_id });
      const got = typeof r.secretData === 'string' ? Buffer.from(r.secretData) : Buffer.from(r.secretData);
      assert.equal(got.toString('hex'), s.value_hex, `${s.name} ${s.version_id}`);
      assert.deepEqual(r.versionStages, s.stages);
    }
    await vk.close();
    assert.ok(existsSync(`${vp}.values`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("node:crypto's AES-256-GCM does the core's long inputs: installed at load; values of every size round trip; a flipped bit is caught", async () => {
  const { createRequire } = await import('node:module');
  const { readFileSync, writeFileSync } = await import('node:fs');
  const wasm = createRequire(import.meta.url)('../dist/wasm-node/strongroom_wasm.js');
  const refuse = () => {
    throw new Error('not this one');
  };
  assert.equal(wasm.setPlatformGcm(refuse, refuse), false, 'node.mjs installed its own when it loaded');
  const dir = mkdtempSync(join(tmpdir(), 'sr-node-gcm-'));
  try {
    const path = join(dir, 'store.srs');
    let kms = await Kms.open({ path, passphrase: 'pw' });
    const sizes = [1, 1023, 1024, 1025, 4096, 30000];
    const value = (n) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff);
    for (const n of sizes) await kms.createSecret({ secretName: `s${n}`, secretData: value(n) });
    await kms.compactStore();
    await kms.close();
    kms = await Kms.open({ path, passphrase: 'pw' });
    for (const n of sizes) {
      const got = (await kms.getSecretValue({ secretName: `s${n}` })).secretData;
      assert.deepEqual(Buffer.from(got), Buffer.from(value(n)), `${n} bytes`);
    }
    await kms.close();
    // One bit of the 4096-byte value flipped in the values file: refused, not served.
    const values = readFileSync(`${path}.values`);
    const at = 8 + sizes.slice(0, 4).reduce((a, n) => a + n + 16, 0) + 100;
    values[at] ^= 1;
    writeFileSync(`${path}.values`, values);
    kms = await Kms.open({ path, passphrase: 'pw' });
    assert.equal(await code(kms.getSecretValue({ secretName: 's4096' })), 'Rejected.StoreCorrupted');
    assert.equal((await kms.getSecretValue({ secretName: 's30000' })).secretData.length, 30000);
    // VerifyStore names it (and only it) without being asked for that secret.
    const report = await kms.verifyStore();
    assert.equal(report.secretVersions, sizes.length);
    assert.equal(report.valuesOpened, sizes.length - 1);
    assert.deepEqual(
      report.problems.map((p) => [p.secretName, p.versionId, p.code]),
      [['s4096', 'v1', 'Rejected.StoreCorrupted']],
    );
    // The keys' versions are probed too; the CMK answered.
    assert.ok(report.keyVersions >= 1);
    assert.equal(report.keyVersionsVerified, report.keyVersions);
    assert.deepEqual(report.keyProblems, []);
    await kms.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('store compaction rewrites the values file without dead bytes (the next generation, <store>.values.1); a crash leftover goes at open', async () => {
  const { readFileSync, writeFileSync, existsSync, statSync } = await import('node:fs');
  const dir = mkdtempSync(join(tmpdir(), 'sr-node-values-compact-'));
  try {
    const path = join(dir, 'store.srs');
    let kms = await Kms.open({ path, passphrase: 'pw' });
    await kms.createSecret({ secretName: 'keep', secretData: 'k'.repeat(3000) });
    await kms.createSecret({ secretName: 'gone', secretData: 'g'.repeat(8000) });
    await kms.deleteSecret({ secretName: 'gone', forceDeleteWithoutRecovery: true });
    assert.equal(statSync(`${path}.values`).size, 8 + 3016 + 8016);
    await kms.compactStore();
    assert.ok(!existsSync(`${path}.values`), 'the old generation is removed');
    assert.equal(statSync(`${path}.values.1`).size, 8 + 3016);
    assert.equal(statSync(`${path}.values.1`).mode & 0o777, 0o600);
    assert.equal((await kms.getSecretValue({ secretName: 'keep' })).secretData, 'k'.repeat(3000));
    await kms.putSecretValue({ secretName: 'keep', versionId: 'v2', secretData: 'n'.repeat(1000) });
    assert.equal(statSync(`${path}.values.1`).size, 8 + 3016 + 1016);
    await kms.close();
    // A crash after the snapshot but before the old file went; and a half-written
    // next generation from another interrupted compaction: both go when it opens.
    writeFileSync(`${path}.values`, readFileSync(`${path}.values.1`));
    writeFileSync(`${path}.values.2`, 'SRSV\x01\0\0\0half');
    writeFileSync(`${path}.values.bak`, 'a file of the user');
    kms = await Kms.open({ path, passphrase: 'pw' });
    assert.ok(!existsSync(`${path}.values`) && !existsSync(`${path}.values.2`));
    assert.ok(existsSync(`${path}.values.bak`));
    assert.equal((await kms.getSecretValue({ secretName: 'keep', versionId: 'v1' })).secretData, 'k'.repeat(3000));
    assert.equal((await kms.getSecretValue({ secretName: 'keep' })).secretData, 'n'.repeat(1000));
    await kms.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
