// Before/after in one Node process: the npm build of another revision (BASE_DIST,
// e.g. a worktree's npm/dist) against this tree's, alternating blocks, same inputs.
// Prints JSON lines with after_vs_before (HEAD median / base median; < 1 = faster now).
// Usage: BASE_DIST=/path/to/base/npm/dist node bench/compare.mjs
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const A = await import(pathToFileURL(join(process.env.BASE_DIST, 'node.mjs')).href);
const B = await import(pathToFileURL(join(here, '../npm/dist/node.mjs')).href);
const ctx = { app: 'bench' };
async function setup(M) { const kms = await M.Kms.memory(); const key = await kms.createKey(); return { kms, key }; }
const a = await setup(A);
const b = await setup(B);
const pt = new Uint8Array(64);
const big = new Uint8Array(1 << 20);
async function block(fn, n) {
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  return Number(process.hrtime.bigint() - t) / n;
}
async function cmp(op, fa, fb, blocks, n) {
  for (let i = 0; i < n; i++) { await fa(); await fb(); }
  const xa = [];
  const xb = [];
  for (let r = 0; r < blocks; r++) { xa.push(await block(fa, n)); xb.push(await block(fb, n)); }
  xa.sort((x, y) => x - y);
  xb.sort((x, y) => x - y);
  const ma = xa[xa.length >> 1];
  const mb = xb[xb.length >> 1];
  console.log(JSON.stringify({ runtime: 'node', op, before_median_ns: Math.round(ma), after_median_ns: Math.round(mb), after_vs_before: Math.round((mb / ma) * 1000) / 1000 }));
}
const enc = (s) => () => s.kms.encrypt({ keyId: s.key.keyId, plaintext: pt, encryptionContext: ctx });
const gdk = (s) => () => s.kms.generateDataKey({ keyId: s.key.keyId, encryptionContext: ctx });
const env = (s) => () => s.kms.encryptEnvelope({ keyIds: [s.key.keyId], plaintext: big, encryptionContext: ctx });
await cmp('Encrypt-64B', enc(a), enc(b), 31, 500);
await cmp('GenerateDataKey', gdk(a), gdk(b), 31, 500);
await cmp('EnvelopeEncrypt-1MiB', env(a), env(b), 41, 16);
const ma = await env(a)();
const mb = await env(b)();
await cmp('EnvelopeDecrypt-1MiB', () => a.kms.decryptEnvelope({ ciphertext: ma, encryptionContext: ctx }), () => b.kms.decryptEnvelope({ ciphertext: mb, encryptionContext: ctx }), 41, 16);
