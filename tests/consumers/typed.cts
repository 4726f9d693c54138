// TypeScript, strict, CommonJS under node16 resolution (require-side types).
import strongroom = require('strongroom');

export async function roundTrip(): Promise<number> {
  const kms: strongroom.Kms = await strongroom.Kms.memory();
  const key = await kms.createKey();
  const blob = await kms.encrypt({ keyId: key.keyId, plaintext: new Uint8Array([7]) });
  const back = await kms.decrypt({ ciphertextBlob: blob.ciphertextBlob });
  return back.plaintext.length;
}

import decrypt = require('strongroom/decrypt');
export const unwrapType: decrypt.Unwrap = async () => new Uint8Array(32);
