// The size budget (#20): the gzipped wasm may not grow past npm/size-budget.json — the
// browsers' build (dist/wasm-web, opt-level "z": what a page downloads, and what
// strongroom/inline carries) against wasm_gzip_bytes, Node's (dist/wasm-node, opt-level 3)
// against wasm_node_gzip_bytes. Prints the figures either way; exits 1 over budget.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const here = new URL('..', import.meta.url);
const budget = JSON.parse(readFileSync(new URL('size-budget.json', here), 'utf8'));
const gzipped = (path) => {
  const bytes = readFileSync(new URL(path, here));
  return [bytes.length, gzipSync(bytes, { level: 9 }).length];
};
const [webRaw, web] = gzipped('dist/wasm-web/strongroom_wasm_bg.wasm');
const [nodeRaw, node] = gzipped('dist/wasm-node/strongroom_wasm_bg.wasm');
const [, js] = gzipped('dist/browser.mjs');
console.log(`size: browsers' wasm ${webRaw} B, ${web} B gzipped (budget ${budget.wasm_gzip_bytes}); Node's wasm ${nodeRaw} B, ${node} B gzipped (budget ${budget.wasm_node_gzip_bytes}); browser.mjs ${js} B gzipped`);
let over = false;
for (const [name, gz, limit] of [["the browsers' wasm", web, budget.wasm_gzip_bytes], ["Node's wasm", node, budget.wasm_node_gzip_bytes]]) {
  if (!Number.isInteger(limit)) {
    console.error(`not ok - npm/size-budget.json has no budget for ${name}`);
    over = true;
  } else if (gz > limit) {
    console.error(`not ok - ${name} is ${gz - limit} B over budget gzipped (npm/size-budget.json)`);
    over = true;
  }
}
if (over) process.exit(1);
