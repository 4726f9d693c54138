// A Node CommonJS consumer of the packed tarball.
const { Kms } = require('strongroom');

(async () => {
  const kms = await Kms.memory();
  const { keyId } = await kms.createKey();
  const { ciphertextBlob } = await kms.encrypt({ keyId, plaintext: Buffer.from('cjs consumer') });
  const { plaintext } = await kms.decrypt({ ciphertextBlob });
  if (Buffer.from(plaintext).toString() !== 'cjs consumer') throw new Error('round trip');
  console.log('cjs ok');
})().catch((e) => { console.error(e); process.exit(1); });
