// The packed package in browser bundles: Vite, webpack 5 and esbuild each bundle
// pages from a scratch project that installed the tarball — `full.mjs` (the wasm
// core and strongroom/decrypt: an envelope round trip; as `strongroom` and as
// `strongroom/inline`) and `decrypt-only.mjs` (strongroom/decrypt alone: a format
// vector) — with no configuration and no copying of .wasm files by hand. Each page is loaded in headless Chromium; the decrypt-only
// bundles must hold no wasm and stay within the size budget (npm/size-budget.json).
// Usage: node run.mjs SCRATCH_PROJECT NPM_DIR
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { extname, join, normalize } from 'node:path';
import { gzipSync } from 'node:zlib';

const [scratch, npmDir] = process.argv.slice(2);
const here = new URL('.', import.meta.url).pathname;
const bin = (t) => join(npmDir, 'node_modules/.bin', t);
const budget = JSON.parse(readFileSync(join(npmDir, 'size-budget.json'), 'utf8'));
const vectors = JSON.parse(readFileSync(join(here, '../../vectors/envelope_v1.json'), 'utf8'));
const vector = vectors.data_key.find((v) => v.name === 'three-frames-partial-final');
const run = (cmd, args) => execFileSync(cmd, args, { cwd: scratch, stdio: ['ignore', 'pipe', 'inherit'] });

const builders = {
  vite: (src, out) => {
    writeFileSync(join(src, 'index.html'), '<!doctype html><meta charset="utf-8"><script type="module" src="./main.mjs"></script>\n');
    run(bin('vite'), ['build', src, '--outDir', out, '--emptyOutDir', '--base', './', '--logLevel', 'error']);
  },
  webpack: (src, out) => {
    run(bin('webpack'), ['--entry', join(src, 'main.mjs'), '--mode', 'production', '--target', 'web', '--output-path', out, '--output-filename', 'main.js', '--no-stats']);
    writeFileSync(join(out, 'index.html'), '<!doctype html><meta charset="utf-8"><script src="./main.js"></script>\n');
  },
  esbuild: (src, out) => {
    run(bin('esbuild'), [join(src, 'main.mjs'), '--bundle', '--minify', '--format=esm', '--platform=browser', `--outdir=${out}`, '--log-level=warning']);
    writeFileSync(join(out, 'index.html'), '<!doctype html><meta charset="utf-8"><script type="module" src="./main.js"></script>\n');
  },
};

const files = (dir) => readdirSync(dir, { recursive: true }).map((f) => join(dir, f)).filter((f) => statSync(f).isFile());
const pages = [];
let failed = 0;
for (const [name, build] of Object.entries(builders)) {
  // esbuild leaves `new URL('x.wasm', import.meta.url)` alone (no asset is emitted):
  // its users import strongroom/inline, the same API with the wasm inside.
  for (const app of name === 'esbuild' ? ['inline', 'decrypt-only'] : ['full', 'inline', 'decrypt-only']) {
    const src = join(scratch, `src-${name}-${app}`);
    const out = join(scratch, 'out', `${name}-${app}`);
    mkdirSync(src, { recursive: true });
    const code = readFileSync(join(here, `${app === 'inline' ? 'full' : app}.mjs`), 'utf8');
    writeFileSync(join(src, 'main.mjs'), app === 'inline' ? code.replace("from 'strongroom';", "from 'strongroom/inline';") : code);
    const t = Date.now();
    build(src, out);
    writeFileSync(join(out, 'vector.json'), JSON.stringify(vector));
    const js = files(out).filter((f) => /\.(m?js)$/.test(f));
    const gz = js.reduce((n, f) => n + gzipSync(readFileSync(f), { level: 9 }).length, 0);
    const wasm = files(out).filter((f) => f.endsWith('.wasm'));
    let note = `${name} ${app}: built in ${Date.now() - t} ms, JS ${gz} B gzipped, ${wasm.length} .wasm`;
    if (app === 'decrypt-only' && (wasm.length || gz > budget.decrypt_entry_gzip_bytes)) {
      failed++;
      note += ` — not ok: the decrypt-only bundle must hold no wasm and be ≤ ${budget.decrypt_entry_gzip_bytes} B gzipped`;
    }
    // strongroom/inline carries its wasm in the JS: no .wasm file beside it (the web
    // glue's default URL would make Vite and webpack emit one, never fetched).
    if (app === 'inline' && wasm.length) {
      failed++;
      note += ' — not ok: the inline bundle must emit no .wasm file';
    }
    console.log(note);
    pages.push(`${name}-${app}`);
  }
}

const root = join(scratch, 'out');
const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.json': 'application/json', '.wasm': 'application/wasm' };
const server = http.createServer((req, res) => {
  let p = normalize(join(root, decodeURIComponent(new URL(req.url, 'http://x').pathname)));
  if (!p.startsWith(root)) return res.writeHead(403).end();
  if (p.endsWith('/')) p += 'index.html';
  let body;
  try {
    body = readFileSync(p);
  } catch {
    return res.writeHead(404).end();
  }
  res.writeHead(200, { 'content-type': types[extname(p)] ?? 'application/octet-stream' }).end(body);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const { chromium } = createRequire(join(npmDir, 'package.json'))('playwright-core');
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
try {
  for (const p of pages) {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
    page.on('response', (r) => r.status() >= 400 && errors.push(`HTTP ${r.status()} for ${r.url()}`));
    await page.goto(`http://127.0.0.1:${server.address().port}/${p}/`);
    await page.waitForFunction(() => window.__result !== undefined, null, { timeout: 60000 }).catch(() => {});
    const r = await page.evaluate(() => window.__result);
    if (r?.ok && !errors.length) console.log(`ok - chromium: ${p}: ${r.text}`);
    else {
      failed++;
      console.log(`not ok - chromium: ${p}: ${r?.error ?? 'no result'} ${errors.join('; ')}`);
    }
    await page.close();
  }
} finally {
  await browser.close();
  server.close();
}
if (failed) process.exit(1);
console.log(`bundlers ok: ${pages.length} pages in Chromium (Vite and webpack 5: strongroom, strongroom/inline, strongroom/decrypt; esbuild: strongroom/inline, strongroom/decrypt)`);
