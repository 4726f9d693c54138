// TypeScript, strict, ESM under node16 resolution and under bundler resolution.
import { Kms, type KeyMetadata, StrongroomError } from 'strongroom';

export async function roundTrip(): Promise<string> {
  const kms: Kms = await Kms.memory();
  const key: KeyMetadata = await kms.createKey({ description: 'typed' });
  const msg: Uint8Array = await kms.encryptEnvelope({ keyIds: [key.keyId], plaintext: new Uint8Array([1, 2, 3]) });
  try {
    const out = await kms.decryptEnvelope({ ciphertext: msg });
    return `${out.keyId}:${out.plaintext.length}`;
  } catch (e) {
    if (e instanceof StrongroomError) return e.code;
    throw e;
  }
}
