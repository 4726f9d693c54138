// strongroom/decrypt — the wasm-free envelope reader on WebCrypto — against the
// format vectors (every data_key and negative vector, one-shot and streamed in small
// chunks), against messages the full Kms makes, and with gatewayUnwrap against a real
// `strongroom serve` (temporary credentials, a disabled first recipient, refusals).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Kms } from 'strongroom';
import { decryptEnvelope, createDecryptStream, parseEnvelopeHeader, gatewayUnwrap, StrongroomError, InvalidCiphertextError, BackendError, AccessDeniedError, KeyStateError } from 'strongroom/decrypt';
import { startGateway } from './helpers/gateway.mjs';

const V = JSON.parse(readFileSync(new URL('../../tests/vectors/envelope_v1.json', import.meta.url), 'utf8'));
const hex = (s) => Uint8Array.from(s.match(/../g) ?? [], (b) => parseInt(b, 16));
const enc = new TextEncoder();
const fixedKey = hex(V.data_key[0].data_key);
const fixed = (k) => async () => k.slice();

async function streamed(message, opts, size) {
  const ds = createDecryptStream(opts);
  const chunks = [];
  for (let i = 0; i < message.length; i += size) chunks.push(message.subarray(i, i + size));
  if (chunks.length === 0) chunks.push(new Uint8Array(0));
  const parts = [];
  const reading = (async () => {
    for await (const p of ds.readable) parts.push(p);
  })();
  const w = ds.writable.getWriter();
  try {
    for (const c of chunks) await w.write(c);
    await w.close();
  } catch {}
  await reading;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), (o += p.length));
  return { plaintext: out, info: await ds.info };
}

test('every data_key vector opens, one-shot and streamed (1, 7 and 4096-byte chunks)', async () => {
  for (const v of V.data_key) {
    const message = hex(v.message);
    const r = await decryptEnvelope({ ciphertext: message, unwrap: fixed(hex(v.data_key)) });
    assert.deepEqual(r.plaintext, hex(v.plaintext), v.name);
    assert.deepEqual(r.encryptionContext, v.encryption_context, v.name);
    assert.deepEqual(r.messageId, hex(v.message_id), v.name);
    for (const size of [1, 7, 4096]) {
      const s = await streamed(message, { unwrap: fixed(hex(v.data_key)) }, size);
      assert.deepEqual(s.plaintext, hex(v.plaintext), `${v.name} in ${size}-byte chunks`);
      assert.equal(s.info.keyId, r.keyId);
    }
    const h = parseEnvelopeHeader(message);
    assert.equal(h.frameLength, v.frame_length, v.name);
    assert.equal(h.recipients.length, v.stanzas.filter((s) => s.type === 1).length, v.name);
    assert.equal(parseEnvelopeHeader(message.subarray(0, h.headerLength - 1)), undefined);
  }
});

test('every negative vector fails with its code, one-shot and streamed', async () => {
  for (const n of V.negative) {
    const unwrap = fixed(n.data_key ? hex(n.data_key) : fixedKey);
    await assert.rejects(decryptEnvelope({ ciphertext: hex(n.message), unwrap }), (e) => {
      assert.ok(e instanceof StrongroomError, n.name);
      assert.equal(e.code, n.error, `${n.name}: ${n.why}`);
      return true;
    });
    for (const size of [1, 64]) {
      await assert.rejects(streamed(hex(n.message), { unwrap }, size), (e) => {
        assert.equal(e.code, n.error, `${n.name} streamed in ${size}-byte chunks`);
        return true;
      });
    }
  }
});

test('the store vectors open with the full Kms as the unwrap, and their negatives fail', async () => {
  const s = V.store;
  const kms = await Kms.open({ image: hex(s.image), passphrase: s.passphrase });
  const unwrap = async (r) => (await kms.decrypt({ ciphertextBlob: r.ciphertextBlob, encryptionContext: r.encryptionContext })).plaintext;
  for (const m of s.messages) {
    const r = await decryptEnvelope({ ciphertext: hex(m.message), unwrap, encryptionContext: m.encryption_context });
    assert.deepEqual(r.plaintext, hex(m.plaintext), m.name);
    assert.equal(r.keyId, m.key_ids[0], m.name);
  }
  // The full Kms says Forbidden.KeyNotFound for a stanza of another store: skipped.
  for (const n of s.negative) {
    await assert.rejects(decryptEnvelope({ ciphertext: hex(n.message), unwrap, encryptionContext: n.encryption_context }), { code: n.error }, n.name);
  }
});

test('messages of the full Kms: recipients, fall-through, context checks, errors', async () => {
  const kms = await Kms.memory();
  const a = (await kms.createKey()).keyId;
  const b = (await kms.createKey()).keyId;
  const plaintext = enc.encode('x'.repeat(300_000));
  const message = await kms.encryptEnvelope({ keyIds: [a, b], plaintext, encryptionContext: { tenant: '7', app: 'orders' }, frameLength: 65536 });
  const asked = [];
  const unwrap = async (r) => {
    asked.push(r.keyId);
    return (await kms.decrypt({ ciphertextBlob: r.ciphertextBlob, encryptionContext: r.encryptionContext })).plaintext;
  };
  assert.deepEqual(parseEnvelopeHeader(message).recipients.map((r) => r.keyId), [a, b]);
  const r = await decryptEnvelope({ ciphertext: message, unwrap, requiredEncryptionContext: { tenant: '7' } });
  assert.deepEqual(r.plaintext, plaintext);
  assert.equal(r.keyId, a);
  assert.deepEqual(asked, [a]);
  // Logged results hide the plaintext; the bytes stay reachable.
  assert.doesNotMatch(inspect(r), /120, 120|xxxx/);
  assert.match(JSON.stringify(r), /"plaintext":"\[redacted\]"/);
  // A disabled first recipient: its error is remembered, the second opens.
  await kms.disableKey({ keyId: a });
  asked.length = 0;
  assert.equal((await decryptEnvelope({ ciphertext: message, unwrap })).keyId, b);
  assert.deepEqual(asked, [a, b]);
  await kms.disableKey({ keyId: b });
  await assert.rejects(decryptEnvelope({ ciphertext: message, unwrap }), (e) => e instanceof KeyStateError && e.code === 'Forbidden.KeyDisabled');
  // Context checks come before any unwrap.
  asked.length = 0;
  await assert.rejects(decryptEnvelope({ ciphertext: message, unwrap, requiredEncryptionContext: { tenant: '8' } }), (e) => e instanceof InvalidCiphertextError && e.code === 'InvalidCiphertext.ContextMismatch');
  await assert.rejects(decryptEnvelope({ ciphertext: message, unwrap, encryptionContext: { tenant: '7' } }), { code: 'InvalidCiphertext.ContextMismatch' });
  assert.deepEqual(asked, []);
  // Not this reader's keys at all.
  const none = async () => { throw { code: 'Forbidden.KeyNotFound', kind: 'KeyNotFound', message: 'no' }; };
  await assert.rejects(decryptEnvelope({ ciphertext: message, unwrap: none }), { code: 'Forbidden.NoRecipientKey' });
  // A backend failure stops at once (the second stanza is not tried).
  let calls = 0;
  const down = async () => { calls++; throw new BackendError('Rejected.BackendUnavailable', 'down'); };
  await assert.rejects(decryptEnvelope({ ciphertext: message, unwrap: down }), { code: 'Rejected.BackendUnavailable' });
  assert.equal(calls, 1);
  // An unwrap that answers garbage.
  await assert.rejects(decryptEnvelope({ ciphertext: message, unwrap: async () => new Uint8Array(16) }), { code: 'InvalidCiphertext' });
  await assert.rejects(decryptEnvelope({ ciphertext: message, unwrap: async () => new Uint8Array(32) }), { code: 'InvalidCiphertext.KeyCommitment' });
  // Bad options are refused at the call.
  await assert.rejects(decryptEnvelope({ ciphertext: message }), { code: 'InvalidParameter.Unwrap' });
  await assert.rejects(decryptEnvelope({ ciphertext: 'abc', unwrap }), { code: 'InvalidParameter.Ciphertext' });
  assert.throws(() => createDecryptStream({}), { code: 'InvalidParameter.Unwrap' });
  assert.throws(() => createDecryptStream({ unwrap, requiredEncryptionContext: { a: 1 } }), { code: 'InvalidParameter.RequiredEncryptionContext' });
});

test('CommonJS require works too', () => {
  const require = createRequire(import.meta.url);
  const d = require('strongroom/decrypt');
  assert.equal(typeof d.decryptEnvelope, 'function');
  assert.equal(typeof d.gatewayUnwrap, 'function');
});

let g;
before(async () => {
  g = await startGateway({ full: true });
});
after(async () => {
  assert.equal(await g.stop(), 0, g.stderr());
});

test('gatewayUnwrap: Decrypt on a real gateway, with AssumeRole credentials', async () => {
  const app = await Kms.connect(g.creds('app'));
  const a = (await app.createKey()).keyId;
  const b = (await app.createKey()).keyId;
  const plaintext = enc.encode('opened by strongroom/decrypt through the gateway');
  const message = await app.encryptEnvelope({ keyIds: [a, b], plaintext, encryptionContext: { page: 'orders' } });
  await app.disableKey({ keyId: a });
  const ops = await Kms.connect(g.creds('ops'));
  const c = (await ops.call('AssumeRole', { RoleArn: g.roleArn, RoleSessionName: 'node', DurationSeconds: 900 })).Credentials;
  const unwrap = gatewayUnwrap({ endpoint: g.url, accessKeyId: c.AccessKeyId, accessKeySecret: c.AccessKeySecret, securityToken: c.SecurityToken });
  const r = await decryptEnvelope({ ciphertext: message, unwrap });
  assert.deepEqual(r.plaintext, plaintext);
  assert.equal(r.keyId, b);
  // Streamed from a fetch-like body.
  const body = new Blob([message]).stream();
  const ds = createDecryptStream({ unwrap });
  const text = await new Response(body.pipeThrough(ds)).text();
  assert.equal(text, 'opened by strongroom/decrypt through the gateway');
  assert.equal((await ds.info).keyId, b);
  // Wrong secret, no token: the gateway's refusal with its code.
  const wrong = gatewayUnwrap({ endpoint: g.url, accessKeyId: c.AccessKeyId, accessKeySecret: 'nope', securityToken: c.SecurityToken });
  await assert.rejects(decryptEnvelope({ ciphertext: message, unwrap: wrong }), (e) => e instanceof AccessDeniedError && e.code === 'SignatureDoesNotMatch');
  // A user who may not Decrypt: Forbidden.NoPermission for both stanzas.
  await assert.rejects(decryptEnvelope({ ciphertext: message, unwrap: gatewayUnwrap({ ...g.creds('reader') }) }), (e) => e instanceof AccessDeniedError);
  // Nothing listening.
  await assert.rejects(decryptEnvelope({ ciphertext: message, unwrap: gatewayUnwrap({ ...g.creds('app'), endpoint: 'http://127.0.0.1:9' }) }), (e) => e instanceof BackendError && e.code === 'Rejected.BackendUnavailable');
  assert.throws(() => gatewayUnwrap({ ...g.creds('app'), endpoint: 'http://127.0.0.1:9/path' }), { code: 'InvalidParameter.Endpoint' });
  assert.throws(() => gatewayUnwrap({ ...g.creds('app'), accessKeyId: '' }), { code: 'InvalidParameter.AccessKeyId' });
});
