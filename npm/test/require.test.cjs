// CommonJS users: require('strongroom') gets the same Node build.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Kms, StrongroomError } = require('strongroom');

test('require() works and round-trips', async () => {
  const kms = await Kms.memory();
  const k = await kms.createKey();
  const e = await kms.encrypt({ keyId: k.keyId, plaintext: new Uint8Array([1, 2, 3]) });
  const d = await kms.decrypt({ ciphertextBlob: e.ciphertextBlob });
  assert.deepEqual([...d.plaintext], [1, 2, 3]);
  await assert.rejects(kms.describeKey({ keyId: 'nope' }), StrongroomError);
});
