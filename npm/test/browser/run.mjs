// Serves the repository on 127.0.0.1, opens page.html in headless Chromium
// (Debian's /usr/bin/chromium via playwright-core), prints each result and the plain
// closing line "browser: N passed, N failed". Usage: node run.mjs [--xrt path/from/repo/root.json]
// [--page path/from/repo/root.html] (another page, e.g. bench/browser.html; a result's
// `line`, when present, is printed as is).
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, normalize, extname, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { Kms } from 'strongroom';
import { startGateway } from '../helpers/gateway.mjs';
import { startBao } from '../helpers/bao.mjs';

const root = normalize(join(dirname(fileURLToPath(import.meta.url)), '../../..'));
const types = { '.html': 'text/html', '.mjs': 'text/javascript', '.js': 'text/javascript', '.json': 'application/json', '.wasm': 'application/wasm' };
// For the Kms.connect tests: what the page gets from /__connect.json (set below).
let connectInfo;
const server = http.createServer(async (req, res) => {
  if (req.url === '/__connect.json') {
    res.writeHead(connectInfo ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(connectInfo ?? {}));
    return;
  }
  const p = normalize(join(root, decodeURIComponent(new URL(req.url, 'http://x').pathname)));
  if (!p.startsWith(root)) { res.writeHead(403).end(); return; }
  try {
    const body = await readFile(p);
    res.writeHead(200, { 'content-type': types[extname(p)] || 'application/octet-stream' }).end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;

// Two real gateways: one that lets this page's origin call it (CORS), one that does
// not. A backend service (Node, here) encrypts a message and asks AssumeRole for the
// page's temporary credentials (Decrypt only); the page decrypts with them.
const gateways = [];
const pi0 = process.argv.indexOf('--page');
if (pi0 < 0) {
  const origin = `http://127.0.0.1:${port}`;
  const g = await startGateway({ full: true, cors: [origin] });
  const closed = await startGateway();
  gateways.push(g, closed);
  const app = await Kms.connect(g.creds('app'));
  const a = (await app.createKey()).keyId;
  const b = (await app.createKey()).keyId;
  const plaintext = 'decrypted in the browser: ' + 'x'.repeat(100_000);
  const msg = await app.encryptEnvelope({ keyIds: [a, b], plaintext: new TextEncoder().encode(plaintext), encryptionContext: { page: 'orders' }, frameLength: 4096 });
  await app.disableKey({ keyId: a }); // the page must fall through to the second recipient
  const ops = await Kms.connect(g.creds('ops'));
  const c = (await ops.call('AssumeRole', { RoleArn: g.roleArn, RoleSessionName: 'chromium', DurationSeconds: 900 })).Credentials;
  // An OpenBao transit engine that lets this page call it: master keys held there.
  const bao = await startBao({ cors: [origin] });
  gateways.push({ stop: async () => { await bao.stop(); return 0; }, stderr: () => '' });
  connectInfo = {
    transit: { address: bao.address, token: bao.token },
    endpoint: g.url, closedEndpoint: closed.url, keyId: b,
    credentials: { accessKeyId: c.AccessKeyId, accessKeySecret: c.AccessKeySecret, securityToken: c.SecurityToken },
    // A long-lived key for the shared tests only: a real page holds the STS ones.
    app: { accessKeyId: g.keys.app.AccessKeyId, accessKeySecret: g.keys.app.AccessKeySecret },
    message: Buffer.from(msg).toString('base64'), plaintext,
  };
}

const xi = process.argv.indexOf('--xrt');
const xrt = xi > 0 ? process.argv[xi + 1] : undefined;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
let failed = 0;
let passed = 0;
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const pi = process.argv.indexOf('--page');
  const pagePath = pi > 0 ? process.argv[pi + 1] : 'npm/test/browser/page.html';
  const url = `http://127.0.0.1:${port}/${pagePath}${xrt ? `?xrt=/${xrt}` : ''}`;
  await page.goto(url);
  await page.waitForFunction(() => window.__results !== undefined || window.__failed, null, { timeout: 600000 }).catch(() => {});
  const results = (await page.evaluate(() => window.__results)) || [];
  for (const r of results) {
    if (r.ok && r.line) { passed++; console.log(r.line); }
    else if (r.ok) { passed++; console.log(`ok - chromium: ${r.name}`); }
    else { failed++; console.log(`not ok - chromium: ${r.name}\n  ${r.error}`); }
  }
  if (errors.length || results.length === 0) { failed++; console.log(`not ok - page errors: ${errors.join('; ') || 'no results'}`); }
  console.log(`browser: ${passed} passed, ${failed} failed`);
} finally {
  await browser.close();
  server.close();
  for (const g of gateways) {
    const rc = await g.stop();
    if (rc !== 0) { failed++; console.log(`not ok - gateway exited ${rc}: ${g.stderr()}`); }
  }
}
process.exit(failed ? 1 : 0);
