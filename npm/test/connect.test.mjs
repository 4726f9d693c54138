// Kms.connect from Node (fetch) against a real `strongroom serve`: the embedded API,
// envelopes framed here with data keys wrapped by the gateway, the caller's policies,
// AssumeRole's temporary credentials, the gateway's own refusals, and a gateway that
// is not there. (The shared suite in kms.test.mjs runs on a connected Kms as well.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { Kms, AccessDeniedError, BackendError, RejectedError, InvalidParameterError } from 'strongroom';
import { startGateway } from './helpers/gateway.mjs';

const enc = new TextEncoder();
let g;
before(async () => {
  g = await startGateway({ full: true });
});
after(async () => {
  assert.equal(await g.stop(), 0, g.stderr());
});

async function collect(stream) {
  const parts = [];
  for await (const p of stream) parts.push(p);
  return Buffer.concat(parts);
}

test('the embedded API, served: envelopes in streams and one-shot, aliases, secrets', async () => {
  const kms = await Kms.connect(g.creds());
  assert.equal(kms.connected, true);
  const a = (await kms.createKey({ description: 'node' })).keyId;
  const b = (await kms.createKey()).keyId;
  await kms.createAlias({ aliasName: 'alias/node-orders', keyId: a });
  const data = new Uint8Array(300_000).map((_, i) => (i * 13) & 255);
  const msg = await kms.encryptEnvelope({ keyIds: ['alias/node-orders', b], plaintext: data, encryptionContext: { t: 'orders' } });
  const out = await kms.decryptEnvelope({ ciphertext: msg, encryptionContext: { t: 'orders' } });
  assert.deepEqual(out.plaintext, data);
  assert.equal(out.keyId, a);
  const src = new ReadableStream({ start(c) { c.enqueue(data.subarray(0, 7)); c.enqueue(data.subarray(7)); c.close(); } });
  const ct = await collect(src.pipeThrough(kms.encryptStream({ keyIds: [b], frameLength: 4096 })));
  const dec = kms.decryptStream();
  const back = await collect(new ReadableStream({ start(c) { c.enqueue(new Uint8Array(ct)); c.close(); } }).pipeThrough(dec));
  assert.deepEqual(new Uint8Array(back), data);
  assert.equal((await dec.info).keyId, b);
  // What the server holds is what an embedded Kms over its store would say.
  assert.equal((await kms.describeKey({ keyId: 'alias/node-orders' })).description, 'node');
  await kms.createSecret({ secretName: 'node/db', versionId: 'v1', secretData: 'hunter2' });
  assert.equal((await kms.getSecretValue({ secretName: 'node/db' })).secretData, 'hunter2');
  assert.ok(!inspect(await kms.getSecretValue({ secretName: 'node/db' })).includes('hunter2'));
  // Store operations belong to the gateway.
  await assert.rejects(kms.createBackup({ backupPassphrase: 'a long passphrase' }), (e) => e instanceof RejectedError && e.code === 'Rejected.Unsupported');
  assert.throws(() => kms.storeInfo(), (e) => e instanceof RejectedError && e.code === 'Rejected.Unsupported');
  assert.throws(() => kms.actAs('owner'), (e) => e instanceof RejectedError && e.code === 'Rejected.Unsupported');
});

test('the caller\'s policies apply; a wrong secret and an unknown AccessKey are refused', async () => {
  const app = await Kms.connect(g.creds('app'));
  const key = (await app.createKey()).keyId;
  const reader = await Kms.connect(g.creds('reader'));
  assert.equal((await reader.describeKey({ keyId: key })).keyId, key);
  await assert.rejects(reader.encrypt({ keyId: key, plaintext: enc.encode('x') }), (e) => e instanceof AccessDeniedError && e.code === 'Forbidden.NoPermission');
  const wrong = await Kms.connect({ ...g.creds('app'), accessKeySecret: 'wrong' });
  await assert.rejects(wrong.listKeys(), (e) => e instanceof AccessDeniedError && e.code === 'SignatureDoesNotMatch');
  const nobody = await Kms.connect({ ...g.creds('app'), accessKeyId: 'LTAInobody' });
  await assert.rejects(nobody.listKeys(), (e) => e instanceof AccessDeniedError && e.code.startsWith('InvalidAccessKeyId'));
});

test('AssumeRole\'s temporary credentials: decrypt only, a forged token refused', async () => {
  const app = await Kms.connect(g.creds('app'));
  const key = (await app.createKey()).keyId;
  const msg = await app.encryptEnvelope({ keyIds: [key], plaintext: enc.encode('for the page') });
  const ops = await Kms.connect(g.creds('ops'));
  const c = (await ops.call('AssumeRole', { RoleArn: g.roleArn, RoleSessionName: 'tab-1', DurationSeconds: 900 })).Credentials;
  const page = await Kms.connect({ endpoint: g.url, accessKeyId: c.AccessKeyId, accessKeySecret: c.AccessKeySecret, securityToken: c.SecurityToken });
  assert.equal(new TextDecoder().decode((await page.decryptEnvelope({ ciphertext: msg })).plaintext), 'for the page');
  await assert.rejects(page.encrypt({ keyId: key, plaintext: enc.encode('no') }), AccessDeniedError);
  await assert.rejects(page.createKey(), AccessDeniedError);
  const forged = await Kms.connect({ endpoint: g.url, accessKeyId: c.AccessKeyId, accessKeySecret: c.AccessKeySecret, securityToken: c.SecurityToken.slice(0, -4) + 'AAAA' });
  await assert.rejects(forged.decryptEnvelope({ ciphertext: msg }), AccessDeniedError);
});

test('a gateway that is not there, or a bad endpoint, is a clear error', async () => {
  const gone = await Kms.connect({ endpoint: 'http://127.0.0.1:9', accessKeyId: 'a', accessKeySecret: 'b', timeoutMs: 5000 });
  await assert.rejects(gone.describeKey({ keyId: 'k' }), (e) => e instanceof BackendError && e.code === 'Rejected.BackendUnavailable');
  for (const endpoint of ['kms.example', 'ftp://h', 'https://h/path']) {
    await assert.rejects(Kms.connect({ endpoint, accessKeyId: 'a', accessKeySecret: 'b' }), (e) => e instanceof InvalidParameterError && e.code === 'InvalidParameter.Endpoint');
  }
  await assert.rejects(Kms.connect({ endpoint: g.url, accessKeySecret: 'b' }), (e) => e.code === 'InvalidParameter.AccessKeyId');
});

test('signed envelopes through the gateway: signed with its AsymmetricSign, the signer checked with its GetPublicKey', async () => {
  const kms = await Kms.connect(g.creds());
  const to = (await kms.createKey()).keyId;
  const signer = (await kms.createKey({ keySpec: 'EC_P256', keyUsage: 'SIGN/VERIFY' })).keyId;
  const pt = new TextEncoder().encode('signed through the gateway');
  const msg = await kms.encryptEnvelope({ keyIds: [to], plaintext: pt, signingKeyId: signer });
  const r = await kms.decryptEnvelope({ ciphertext: msg, requiredSigner: signer });
  assert.deepEqual(r.plaintext, pt);
  assert.equal(r.signer.known, true);
  // The embedded reader of the same message (no gateway): it verifies, but the signer is
  // not a key of its store.
  const local = await Kms.memory();
  const other = (await local.createKey({ keySpec: 'EC_P256', keyUsage: 'SIGN/VERIFY' })).keyId;
  const plain = await kms.encryptEnvelope({ keyIds: [to], plaintext: pt });
  await assert.rejects(kms.decryptEnvelope({ ciphertext: plain, requiredSigner: signer }), { code: 'InvalidCiphertext.SignerMismatch' });
  void other;
  // A user who may not sign (read-only) cannot make a signed message.
  const reader = await Kms.connect(g.creds('reader'));
  await assert.rejects(reader.encryptEnvelope({ keyIds: [to], plaintext: pt, signingKeyId: signer }), (e) => e instanceof AccessDeniedError);
});

test('a request refused for load is resent after the wait the gateway asks for; a throttled AccessKey gets through', async () => {
  // A gateway in front of the real one refuses the first two requests as an overloaded
  // gateway would (429, x-acs-retry-after: 40 ms): the call waits and succeeds.
  let fetches = 0;
  let refuse = 2;
  const busy = async (url, init) => {
    fetches += 1;
    if (refuse > 0) {
      refuse -= 1;
      return new Response(JSON.stringify({ RequestId: 'r', HostId: 'h', Code: 'Throttling.User', Message: 'slow down' }), {
        status: 429,
        headers: { 'content-type': 'application/json', 'x-acs-retry-after': '40' },
      });
    }
    return fetch(url, init);
  };
  const kms = await Kms.connect({ ...g.creds('app'), fetch: busy });
  const t0 = performance.now();
  const key = (await kms.createKey()).keyId;
  assert.ok(performance.now() - t0 >= 80, 'waited twice 40 ms at least');
  assert.equal(fetches, 3);
  // Never resent with maxAttempts 1; bad settings are refused by name.
  refuse = 1;
  const once = await Kms.connect({ ...g.creds('app'), fetch: busy, retry: { maxAttempts: 1 } });
  await assert.rejects(once.describeKey({ keyId: key }), (e) => e.code === 'Throttling.User');
  await assert.rejects(Kms.connect({ ...g.creds('app'), retry: { maxAttempts: 0 } }), (e) => e instanceof InvalidParameterError && e.code === 'InvalidParameter.Retry');
  await assert.rejects(Kms.connect({ ...g.creds('app'), retry: { maxDelayMs: -1 } }), (e) => e instanceof InvalidParameterError && e.code === 'InvalidParameter.Retry');
  // A real gateway throttling the AccessKey at 10 requests a second: 25 calls in a row
  // all succeed, the client waiting as the gateway says; without resending, some are
  // refused with Alibaba's code.
  const t = await startGateway({ extraArgs: ['--rate-per-key', '10'] });
  try {
    const patient = await Kms.connect(t.creds('app'));
    const k = (await patient.createKey()).keyId;
    const t1 = performance.now();
    for (let i = 0; i < 24; i++) await patient.encrypt({ keyId: k, plaintext: enc.encode(`n${i}`) });
    assert.ok(performance.now() - t1 >= 1000, 'paced by the gateway');
    assert.equal((await patient.listKeys()).totalCount, 1, 'the key was made once');
    const impatient = await Kms.connect({ ...t.creds('app'), retry: { maxAttempts: 1 } });
    const codes = [];
    for (let i = 0; i < 30; i++) await impatient.describeKey({ keyId: k }).catch((e) => codes.push(e.code));
    assert.ok(codes.length > 0 && codes.every((c) => c === 'Throttling.User'), codes.join());
  } finally {
    assert.equal(await t.stop(), 0, t.stderr());
  }
});
