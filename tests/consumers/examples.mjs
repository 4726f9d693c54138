// Runs examples/node (the records service) and examples/browser (the report page) from
// a scratch project that installed the packed tarball, against a real `strongroom
// serve`. The page is loaded in headless Chromium; the decrypted text is checked in the
// DOM and in a screenshot (pixel-identical to the same element holding the expected
// text, and different from one holding anything else), which is saved to
// build/examples/report-page.png.
// Usage (cwd: the scratch project, with examples/ copied in): node examples.mjs NPM_DIR
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Kms } from 'strongroom';

const npmDir = resolve(process.argv[2]);
const repo = resolve(npmDir, '..');
const { startGateway } = await import(join(npmDir, 'test/helpers/gateway.mjs'));
const db = await import(resolve('examples/node/db.mjs'));

const freePort = () => new Promise((ok) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => ok(p));
  });
});
function start(script, env, want) {
  const proc = spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stderr.on('data', (d) => (out += d));
  const url = new Promise((ok, fail) => {
    proc.stdout.on('data', (d) => {
      out += d;
      const m = new RegExp(`${want} (http://\\S+)`).exec(out);
      if (m) ok(m[1].replace(/\/$/, ''));
    });
    proc.on('exit', (c) => fail(new Error(`${script} exited ${c}: ${out}`)));
  });
  const stop = () => new Promise((ok) => (proc.exitCode !== null ? ok(proc.exitCode) : (proc.on('exit', ok), proc.kill('SIGTERM'))));
  return { url, stop, output: () => out };
}

const pagePort = await freePort();
const g = await startGateway({ full: true, cors: [`http://127.0.0.1:${pagePort}`] });
const procs = [];
try {
  const admin = await Kms.connect(g.creds('app'));
  const { keyId } = await admin.createKey({ description: 'records' });
  await admin.createAlias({ aliasName: 'alias/records', keyId });
  // The test's secret values contain SRLEAK: the suite fails if one reaches any output.
  const pw1 = 'db-password-one-SRLEAK';
  const pw2 = 'db-password-two-SRLEAK';
  await admin.createSecret({ secretName: 'records/db-password', secretData: pw1, versionId: 'v1' });
  const dataDir = mkdtempSync(join(tmpdir(), 'sr-example-db-'));
  db.setPassword(dataDir, pw1);

  // --- examples/node/service.mjs
  const svc = start('examples/node/service.mjs', {
    KMS_ENDPOINT: g.url, KMS_ACCESS_KEY_ID: g.keys.app.AccessKeyId, KMS_ACCESS_KEY_SECRET: g.keys.app.AccessKeySecret,
    RECORDS_KEY: 'alias/records', DB_PASSWORD_SECRET: 'records/db-password', DATA_DIR: dataDir,
  }, 'records service listening on');
  procs.push(svc);
  const base = await svc.url;
  const req = async (method, path, body) => {
    const r = await fetch(base + path, { method, body: body && JSON.stringify(body) });
    return [r.status, await r.json()];
  };
  const records = Array.from({ length: 20 }, (_, i) => ({ customer: `customer-${i}`, card: `4111-1111-1111-${String(1000 + i)}` }));
  for (const [i, r] of records.entries()) assert.deepEqual(await req('POST', `/records/r${i}`, r), [201, { id: `r${i}` }]);
  for (const [i, r] of records.entries()) assert.deepEqual(await req('GET', `/records/r${i}`), [200, r]);
  // At rest: envelope messages, no plaintext.
  for (const f of readdirSync(dataDir).filter((f) => f.endsWith('.row'))) {
    const bytes = readFileSync(join(dataDir, f));
    assert.equal(bytes.subarray(0, 4).toString(), 'SREN', f);
    assert.ok(!bytes.includes('4111-1111'), `${f} holds plaintext`);
  }
  assert.deepEqual(await req('GET', '/records/none'), [404, { error: 'no record none' }]);
  // A tampered row, and a row copied under another id: refused with the KMS's codes.
  const row = readFileSync(join(dataDir, 'r3.row'));
  writeFileSync(join(dataDir, 'r19.row'), row);
  assert.deepEqual(await req('GET', '/records/r19'), [422, { error: 'InvalidCiphertext.ContextMismatch' }]);
  row[row.length - 1] ^= 1;
  writeFileSync(join(dataDir, 'r3.row'), row);
  assert.deepEqual(await req('GET', '/records/r3'), [422, { error: 'InvalidCiphertext.FrameAuthentication' }]);
  // The DBA rotates the password: a new secret version, the database changed; the
  // service's next login fails once, refreshes the cached secret and goes on.
  await admin.putSecretValue({ secretName: 'records/db-password', versionId: 'v2', secretData: pw2 });
  db.setPassword(dataDir, pw2);
  assert.deepEqual(await req('GET', '/records/r0'), [200, records[0]]);
  assert.deepEqual(await req('POST', '/records/r20', { late: true }), [201, { id: 'r20' }]);
  // A disabled CMK refuses every record whose data key is not cached (r20 was never
  // read; r1's key, read a moment ago, is served from the cache until it ages out).
  await admin.disableKey({ keyId });
  assert.deepEqual(await req('GET', '/records/r20'), [503, { error: 'Forbidden.KeyDisabled' }]);
  assert.deepEqual(await req('POST', '/records/r21', { x: 1 }), [503, { error: 'Forbidden.KeyDisabled' }]);
  await admin.enableKey({ keyId });
  assert.deepEqual(await req('GET', '/records/r20'), [200, { late: true }]);
  assert.equal(await svc.stop(), 0, svc.output());
  console.log('ok - examples/node/service.mjs: 21 records stored as envelopes and read back; tampered and moved rows refused; password rotation followed; disabled key refused');

  // --- examples/browser
  const reportText = 'Q3 revenue: 4,210,000\nChurn: 1.8%\nDecrypted in the page by strongroom/decrypt';
  const page = start('examples/browser/server.mjs', {
    PORT: String(pagePort), KMS_ENDPOINT: g.url,
    KMS_ACCESS_KEY_ID: g.keys.app.AccessKeyId, KMS_ACCESS_KEY_SECRET: g.keys.app.AccessKeySecret,
    STS_ACCESS_KEY_ID: g.keys.ops.AccessKeyId, STS_ACCESS_KEY_SECRET: g.keys.ops.AccessKeySecret,
    BROWSER_ROLE_ARN: g.roleArn, REPORT_KEY: keyId, REPORT_TEXT: reportText,
  }, 'report page on');
  procs.push(page);
  const pageUrl = await page.url;
  const { chromium } = createRequire(join(npmDir, 'package.json'))('playwright-core');
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--font-render-hinting=none'] });
  try {
    const tab = await browser.newPage({ viewport: { width: 900, height: 600 } });
    const requests = [];
    const errors = [];
    tab.on('request', (r) => requests.push(r.url()));
    tab.on('pageerror', (e) => errors.push(String(e)));
    await tab.goto(`${pageUrl}/`);
    await tab.waitForSelector('body[data-state]', { timeout: 60000 });
    const state = await tab.evaluate(() => [document.body.dataset.state, document.getElementById('status').textContent]);
    assert.equal(state[0], 'done', `the page says: ${state[1]} ${errors.join('; ')}`);
    assert.equal(await tab.locator('#plaintext').innerText(), reportText);
    assert.ok(!requests.some((u) => u.endsWith('.wasm')), 'the page loaded no wasm');
    mkdirSync(join(repo, 'build/examples'), { recursive: true });
    await tab.screenshot({ path: join(repo, 'build/examples/report-page.png') });
    // The screenshot of the decrypted text equals that of the same element given the
    // expected text, and differs from one given another text.
    const shot = await tab.locator('#plaintext').screenshot();
    const render = async (text) => {
      await tab.evaluate((t) => {
        const el = document.getElementById('plaintext');
        el.dataset.was ??= el.textContent;
        el.textContent = t;
      }, text);
      return tab.locator('#plaintext').screenshot();
    };
    assert.ok(shot.equals(await render(reportText)), 'the screenshot shows the expected text');
    assert.ok(!shot.equals(await render(reportText.replace('4,210,000', '4,210,001'))), 'a screenshot of other text differs');
  } finally {
    await browser.close();
  }
  assert.equal(await page.stop(), 0, page.output());
  console.log('ok - examples/browser: the report decrypted in Chromium with AssumeRole credentials (no wasm loaded); screenshot checked, saved to build/examples/report-page.png');
} finally {
  for (const p of procs) await p.stop();
  assert.equal(await g.stop(), 0, g.stderr());
}
