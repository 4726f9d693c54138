// The page: fetch the encrypted report and short-lived credentials from the backend
// (server.mjs), have the gateway unwrap the data key (Decrypt is all the role may do),
// and decrypt the frames here on WebCrypto. No wasm is loaded.
import { decryptEnvelope, gatewayUnwrap } from 'strongroom/decrypt';

const status = document.getElementById('status');
const out = document.getElementById('plaintext');
try {
  const [creds, report] = await Promise.all([
    fetch('/api/credentials').then((r) => r.json()),
    fetch('/api/report').then((r) => r.arrayBuffer()),
  ]);
  const unwrap = gatewayUnwrap(creds);
  const { plaintext, keyId } = await decryptEnvelope({ ciphertext: new Uint8Array(report), unwrap, requiredEncryptionContext: { report: 'q3' } });
  out.textContent = new TextDecoder().decode(plaintext);
  status.textContent = `decrypted in this page (key ${keyId})`;
  document.body.dataset.state = 'done';
} catch (e) {
  status.textContent = `${e.code ?? 'Error'}: ${e.message}`;
  document.body.dataset.state = 'failed';
}
