// A Node ESM consumer of the packed tarball: an envelope round trip.
import { Kms, InvalidCiphertextError } from 'strongroom';

const kms = await Kms.memory();
const { keyId } = await kms.createKey({ description: 'consumer' });
const msg = await kms.encryptEnvelope({ keyIds: [keyId], plaintext: new TextEncoder().encode('esm consumer') });
const out = await kms.decryptEnvelope({ ciphertext: msg });
if (new TextDecoder().decode(out.plaintext) !== 'esm consumer') throw new Error('round trip');
msg[msg.length - 1] ^= 1;
await kms.decryptEnvelope({ ciphertext: msg }).then(
  () => { throw new Error('tampering not caught'); },
  (e) => { if (!(e instanceof InvalidCiphertextError)) throw e; },
);
console.log('esm ok');
