// A page that bundles only strongroom/decrypt (no wasm): it opens a format vector
// (tests/vectors/envelope_v1.json) whose data key the unwrap callback returns.
import { decryptEnvelope, parseEnvelopeHeader } from 'strongroom/decrypt';

const hex = (s) => Uint8Array.from(s.match(/../g) ?? [], (b) => parseInt(b, 16));
(async () => {
  try {
    const v = await (await fetch('./vector.json')).json();
    const ciphertext = hex(v.message);
    const h = parseEnvelopeHeader(ciphertext);
    const r = await decryptEnvelope({ ciphertext, unwrap: async () => hex(v.data_key) });
    const same = r.plaintext.length === v.plaintext.length / 2 && r.plaintext.every((b, i) => b === hex(v.plaintext)[i]);
    window.__result = { ok: same, text: `${h.recipients.length} recipient(s), ${r.plaintext.length} bytes`, error: same ? undefined : 'plaintext differs' };
  } catch (e) {
    window.__result = { ok: false, error: String(e?.stack ?? e) };
  }
})();
