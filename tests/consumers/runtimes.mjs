// One consumer for every server-side runtime that installs the packed tarball (Node,
// Bun, Deno): a file store created, written, closed and opened again; an envelope
// round trip; the same message opened by strongroom/decrypt (WebCrypto, no wasm) with
// the Kms as its unwrap; tampering caught with the same error class from both entries.
import { Kms, InvalidCiphertextError } from 'strongroom';
import { decryptEnvelope, InvalidCiphertextError as DecryptEntryError } from 'strongroom/decrypt';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const runtime = globalThis.Bun ? `Bun ${Bun.version}` : globalThis.Deno ? `Deno ${Deno.version.deno}` : `Node ${process.versions.node}`;
const dir = mkdtempSync(join(tmpdir(), 'sr-runtime-'));
try {
  const path = join(dir, 'store');
  let kms = await Kms.open({ path, passphrase: 'runtime consumer', create: true });
  const { keyId } = await kms.createKey({ description: runtime });
  await kms.close();
  kms = await Kms.open({ path, passphrase: 'runtime consumer' });
  const plaintext = new TextEncoder().encode(`hello from ${runtime}`);
  const msg = await kms.encryptEnvelope({ keyIds: [keyId], plaintext, encryptionContext: { runtime } });
  const full = await kms.decryptEnvelope({ ciphertext: msg });
  const unwrap = async (r) => (await kms.decrypt({ ciphertextBlob: r.ciphertextBlob, encryptionContext: r.encryptionContext })).plaintext;
  const light = await decryptEnvelope({ ciphertext: msg, unwrap, requiredEncryptionContext: { runtime } });
  const text = new TextDecoder();
  if (text.decode(full.plaintext) !== text.decode(plaintext) || text.decode(light.plaintext) !== text.decode(plaintext)) throw new Error('round trip');
  msg[msg.length - 1] ^= 1;
  for (const open of [() => kms.decryptEnvelope({ ciphertext: msg }), () => decryptEnvelope({ ciphertext: msg, unwrap })]) {
    await open().then(
      () => { throw new Error('tampering not caught'); },
      (e) => { if (!(e instanceof InvalidCiphertextError) || !(e instanceof DecryptEntryError)) throw e; },
    );
  }
  await kms.close();
  console.log(`${runtime}: ok (file store, envelope, strongroom/decrypt)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
