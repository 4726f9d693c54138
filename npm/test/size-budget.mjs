// The size budget (#20): the gzipped wasm may not grow past npm/size-budget.json.
// Prints the figures either way; exits 1 over budget.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const here = new URL('..', import.meta.url);
const budget = JSON.parse(readFileSync(new URL('size-budget.json', here), 'utf8'));
const wasm = readFileSync(new URL('dist/wasm-web/strongroom_wasm_bg.wasm', here));
const gz = gzipSync(wasm, { level: 9 }).length;
const js = gzipSync(readFileSync(new URL('dist/browser.mjs', here)), { level: 9 }).length;
console.log(`size: wasm ${wasm.length} B, ${gz} B gzipped (budget ${budget.wasm_gzip_bytes}); browser.mjs ${js} B gzipped`);
if (gz > budget.wasm_gzip_bytes) {
  console.error(`not ok - the gzipped wasm is ${gz - budget.wasm_gzip_bytes} B over budget (npm/size-budget.json)`);
  process.exit(1);
}
