// The page's backend: serves index.html and app.mjs, the installed `strongroom`
// package's files under /node_modules/strongroom/, the encrypted report, and — for
// each page load — temporary credentials from AssumeRole for a role that may only
// Decrypt (the page never holds a long-lived AccessKey). Environment:
//   KMS_ENDPOINT, KMS_ACCESS_KEY_ID, KMS_ACCESS_KEY_SECRET   the gateway; this key may Encrypt
//   STS_ACCESS_KEY_ID, STS_ACCESS_KEY_SECRET                 may sts:AssumeRole (default: the KMS_ pair)
//   BROWSER_ROLE_ARN     the decrypt-only role;   REPORT_KEY   the CMK of the report
//   REPORT_TEXT          what the report says (a sample if unset);   PORT (default 0)
// The gateway must list this server's origin: `strongroom serve --cors-origin http://127.0.0.1:PORT`.
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kms } from 'strongroom';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = dirname(createRequire(import.meta.url).resolve('strongroom/package.json'));
const env = (n, d) => process.env[n] ?? d ?? (() => { throw new Error(`${n} is not set`); })();
const endpoint = env('KMS_ENDPOINT');

const app = await Kms.connect({ endpoint, accessKeyId: env('KMS_ACCESS_KEY_ID'), accessKeySecret: env('KMS_ACCESS_KEY_SECRET') });
const sts = await Kms.connect({ endpoint, accessKeyId: env('STS_ACCESS_KEY_ID', process.env.KMS_ACCESS_KEY_ID), accessKeySecret: env('STS_ACCESS_KEY_SECRET', process.env.KMS_ACCESS_KEY_SECRET) });
const text = env('REPORT_TEXT', 'Q3 revenue: 4,210,000\nChurn: 1.8%\nNext review: 2027-01-15');
const report = await app.encryptEnvelope({ keyIds: [env('REPORT_KEY')], plaintext: new TextEncoder().encode(text), encryptionContext: { report: 'q3' } });

const types = { '.html': 'text/html; charset=utf-8', '.mjs': 'text/javascript', '.js': 'text/javascript', '.json': 'application/json' };
const server = http.createServer(async (req, res) => {
  try {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/api/report') return res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(report);
    if (path === '/api/credentials') {
      const c = (await sts.call('AssumeRole', { RoleArn: env('BROWSER_ROLE_ARN'), RoleSessionName: 'report-page', DurationSeconds: 900 })).Credentials;
      return res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        .end(JSON.stringify({ endpoint, accessKeyId: c.AccessKeyId, accessKeySecret: c.AccessKeySecret, securityToken: c.SecurityToken }));
    }
    const [root, rel] = path.startsWith('/node_modules/strongroom/') ? [pkg, path.slice('/node_modules/strongroom/'.length)] : [here, path === '/' ? 'index.html' : path.slice(1)];
    const file = normalize(join(root, rel));
    if (!file.startsWith(root) || !['.html', '.mjs', '.js'].includes(extname(file)) || file.endsWith('server.mjs')) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': types[extname(file)] }).end(await readFile(file));
  } catch (e) {
    res.writeHead(e.code === 'ENOENT' ? 404 : 500).end();
  }
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => console.log(`report page on http://127.0.0.1:${server.address().port}/`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
