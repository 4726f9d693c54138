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

// strongroom/decrypt, typed: an unwrap callback and the gateway one.
import { decryptEnvelope, gatewayUnwrap, type Unwrap, type EnvelopeHeaderInfo, parseEnvelopeHeader } from 'strongroom/decrypt';

export async function light(kms: Kms, ciphertext: Uint8Array): Promise<number> {
  const unwrap: Unwrap = async (r) => (await kms.decrypt({ ciphertextBlob: r.ciphertextBlob, encryptionContext: r.encryptionContext })).plaintext;
  const h: EnvelopeHeaderInfo | undefined = parseEnvelopeHeader(ciphertext);
  const viaGateway: Unwrap = gatewayUnwrap({ endpoint: 'https://kms.example:8443', accessKeyId: 'id', accessKeySecret: 'secret' });
  void viaGateway;
  return (await decryptEnvelope({ ciphertext, unwrap })).plaintext.length + (h?.recipients.length ?? 0);
}
