// Builds the npm package: wasm (release) → wasm-bindgen (nodejs + web) → esbuild
// (node ESM, node CJS, browser ESM) → .d.ts with tsc. cargo rebuilds only what changed.
import { execFileSync } from 'node:child_process';
import { writeFileSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const dist = join(here, 'dist');
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });

// Two builds of the same wasm crate: Node's for speed (profile wasm-release, opt-level 3:
// it is read from disk, and its small calls are the benchmarked hot paths), the
// browsers' for size (profile wasm-web, opt-level "z": it is downloaded, and a page's
// bulk work — envelope frames — runs on WebCrypto, not in the wasm). docs/ARCHITECTURE.md.
const builds = { nodejs: 'wasm-release', web: 'wasm-web' };
for (const profile of Object.values(builds)) {
  run('cargo', ['build', '-q', '-p', 'strongroom-wasm', '--target', 'wasm32-unknown-unknown', '--profile', profile]);
}

rmSync(dist, { recursive: true, force: true });
for (const [target, dir] of [['nodejs', 'wasm-node'], ['web', 'wasm-web']]) {
  const out = join(dist, dir);
  const wasmFile = join(root, `target/wasm32-unknown-unknown/${builds[target]}/strongroom_wasm.wasm`);
  run('wasm-bindgen', ['--target', target, '--out-dir', out, '--remove-name-section', '--remove-producers-section', wasmFile]);
  writeFileSync(join(out, 'package.json'), JSON.stringify({ type: target === 'nodejs' ? 'commonjs' : 'module' }) + '\n');
}

// The error classes live in one file per module format that every entry imports, so
// `instanceof` holds across entry points (an error from `strongroom` is a
// KeyStateError of `strongroom/decrypt` too).
const sharedErrors = (format) => ({
  name: 'shared-errors',
  setup(b) {
    b.onResolve({ filter: /^\.\/errors\.js$/ }, () => ({ path: format === 'cjs' ? './errors.cjs' : './errors.mjs', external: true }));
  },
});
const common = { bundle: true, external: ['./wasm-node/*', './wasm-web/*', 'node:*'], logLevel: 'warning', target: 'es2022' };
for (const [format, ext] of [['esm', 'mjs'], ['cjs', 'cjs']]) {
  await esbuild.build({ ...common, entryPoints: [join(here, 'src/errors.ts')], platform: 'neutral', format, outfile: join(dist, `errors.${ext}`) });
}
await esbuild.build({ ...common, plugins: [sharedErrors('esm')], entryPoints: [join(here, 'src/node.ts')], platform: 'node', format: 'esm', outfile: join(dist, 'node.mjs') });
await esbuild.build({ ...common, plugins: [sharedErrors('cjs')], entryPoints: [join(here, 'src/node.ts')], platform: 'node', format: 'cjs', outfile: join(dist, 'node.cjs') });
await esbuild.build({ ...common, plugins: [sharedErrors('esm')], entryPoints: [join(here, 'src/browser.ts')], platform: 'browser', format: 'esm', outfile: join(dist, 'browser.mjs') });
// strongroom/inline: the same, with the wasm inside (gzip -9, base64). Its glue is a copy
// of the web glue without the default `new URL('strongroom_wasm_bg.wasm',
// import.meta.url)`: bundlers (Vite, webpack) emit every such URL as an asset, and an
// inline page would ship the whole .wasm a second time, never fetched.
const webGlue = readFileSync(join(dist, 'wasm-web/strongroom_wasm.js'), 'utf8');
const wasmUrl = "new URL('strongroom_wasm_bg.wasm', import.meta.url)";
if (webGlue.split(wasmUrl).length !== 2) throw new Error(`build.mjs: the web glue no longer holds ${wasmUrl} once`);
writeFileSync(join(dist, 'wasm-web/strongroom_wasm_inline.js'),
  webGlue.replace(wasmUrl, "(() => { throw new Error('strongroom/inline carries its wasm: nothing to fetch'); })()"));
const inlineGlue = {
  name: 'inline-glue',
  setup(b) {
    b.onResolve({ filter: /^\.\/wasm-web\/strongroom_wasm\.js$/ }, () => ({ path: './wasm-web/strongroom_wasm_inline.js', external: true }));
  },
};
const packed = gzipSync(readFileSync(join(dist, 'wasm-web/strongroom_wasm_bg.wasm')), { level: 9 }).toString('base64');
const inlineWasm = {
  name: 'inline-wasm',
  setup(b) {
    b.onResolve({ filter: /^strongroom:wasm-gzip-base64$/ }, (a) => ({ path: a.path, namespace: 'inline-wasm' }));
    b.onLoad({ filter: /.*/, namespace: 'inline-wasm' }, () => ({ contents: `export default ${JSON.stringify(packed)};`, loader: 'js' }));
  },
};
await esbuild.build({ ...common, plugins: [sharedErrors('esm'), inlineGlue, inlineWasm], entryPoints: [join(here, 'src/inline.ts')], platform: 'browser', format: 'esm', outfile: join(dist, 'inline.mjs') });
// strongroom/decrypt: no wasm, WebCrypto only (browsers, Node >= 20, workers).
await esbuild.build({ ...common, plugins: [sharedErrors('esm')], entryPoints: [join(here, 'src/decrypt.ts')], platform: 'neutral', format: 'esm', outfile: join(dist, 'decrypt.mjs') });
await esbuild.build({ ...common, plugins: [sharedErrors('cjs')], entryPoints: [join(here, 'src/decrypt.ts')], platform: 'neutral', format: 'cjs', outfile: join(dist, 'decrypt.cjs') });

run(join(here, 'node_modules/.bin/tsc'), ['--declaration', '--emitDeclarationOnly', '--strict', '--target', 'es2022', '--module', 'es2022',
  '--moduleResolution', 'bundler', '--skipLibCheck', '--outDir', join(dist, 'types'), join(here, 'src/api.ts'), join(here, 'src/decrypt.ts')]);
// The same declarations as CommonJS ones (.d.cts), for `require` under node16 /
// nodenext resolution: a .d.ts in a "type": "module" package is read as ESM.
for (const f of readdirSync(join(dist, 'types')).filter((f) => f.endsWith('.d.ts'))) {
  const text = readFileSync(join(dist, 'types', f), 'utf8').replace(/from '(\.\/[^']+)\.js'/g, "from '$1.cjs'");
  writeFileSync(join(dist, 'types', f.replace(/\.d\.ts$/, '.d.cts')), text);
}
const kib = (dir) => Math.round(statSync(join(dist, dir, 'strongroom_wasm_bg.wasm')).size / 1024);
console.log(`built npm/dist (wasm: Node ${kib('wasm-node')} KiB, browsers ${kib('wasm-web')} KiB)`);
