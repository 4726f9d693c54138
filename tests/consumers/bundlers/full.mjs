// A page that bundles the whole package (wasm core) and strongroom/decrypt: it makes
// an envelope with the full Kms and opens it with both.
import { Kms } from 'strongroom';
import { decryptEnvelope } from 'strongroom/decrypt';

const text = (b) => new TextDecoder().decode(b);
(async () => {
  try {
    const kms = await Kms.memory();
    const a = (await kms.createKey()).keyId;
    const message = await kms.encryptEnvelope({ keyIds: [a], plaintext: new TextEncoder().encode('round trip in a bundle'), encryptionContext: { page: 'bundle' } });
    const full = await kms.decryptEnvelope({ ciphertext: message });
    const unwrap = async (r) => (await kms.decrypt({ ciphertextBlob: r.ciphertextBlob, encryptionContext: r.encryptionContext })).plaintext;
    const light = await decryptEnvelope({ ciphertext: message, unwrap, requiredEncryptionContext: { page: 'bundle' } });
    window.__result = { ok: true, text: `${text(full.plaintext)}|${text(light.plaintext)}` };
  } catch (e) {
    window.__result = { ok: false, error: String(e?.stack ?? e) };
  }
})();
