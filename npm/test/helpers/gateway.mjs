// A real `strongroom serve` (the CLI the Rust step built: SR, default
// ../target/debug/strongroom) for the tests of Kms.connect: a fresh store whose RAM
// user `app` has AliyunKMSFullAccess; with `full`, also `reader`
// (AliyunKMSReadOnlyAccess) and `ops`, who may assume the role `browser` (Decrypt
// only). Plain HTTP on loopback unless `tls` (then `ca` is the dev CA's path).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SR = process.env.SR ?? resolve(fileURLToPath(import.meta.url), '../../../../target/debug/strongroom');

function sr(store, ...args) {
  const p = spawnSync(SR, args, { env: { ...process.env, STRONGROOM_PASSPHRASE: 'connect-test', STRONGROOM_STORE: store }, encoding: 'utf8' });
  if (p.status !== 0) throw new Error(`strongroom ${args.join(' ')}: ${p.stderr || p.error}`);
  return p.stdout;
}

export async function startGateway({ full = false, tls = false, cors = [], extraArgs = [] } = {}) {
  if (!existsSync(SR)) throw new Error(`${SR} is missing: build the CLI first (cargo build -p strongroom-cli)`);
  const dir = mkdtempSync(join(tmpdir(), 'sr-node-connect-'));
  const store = join(dir, 'store');
  sr(store, 'store', 'init');
  const users = full ? ['app', 'reader', 'ops'] : ['app'];
  for (const u of users) sr(store, 'ram', 'create-user', u);
  sr(store, 'ram', 'attach', 'AliyunKMSFullAccess', '--system', '--user', 'app');
  const keys = {};
  for (const u of users) {
    const out = join(dir, `${u}.json`);
    sr(store, 'ram', 'create-access-key', u, '--out', out);
    keys[u] = JSON.parse(readFileSync(out, 'utf8'));
  }
  let roleArn;
  if (full) {
    sr(store, 'ram', 'attach', 'AliyunKMSReadOnlyAccess', '--system', '--user', 'reader');
    const account = JSON.parse(sr(store, '--json', 'ram', 'get-user', 'ops')).User.AccountId;
    roleArn = `acs:ram::${account}:role/browser`;
    const trust = { Version: '1', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { RAM: [`acs:ram::${account}:user/ops`] } }] };
    sr(store, 'ram', 'create-role', 'browser', '--trust-policy', JSON.stringify(trust));
    sr(store, 'ram', 'create-policy', 'decrypt-only', '--document', JSON.stringify({ Version: '1', Statement: [{ Effect: 'Allow', Action: ['kms:Decrypt'], Resource: '*' }] }));
    sr(store, 'ram', 'attach', 'decrypt-only', '--role', 'browser');
    sr(store, 'ram', 'create-policy', 'assume', '--document', JSON.stringify({ Version: '1', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: roleArn }] }));
    sr(store, 'ram', 'attach', 'assume', '--user', 'ops');
  }
  const args = ['--store', store, 'serve', '--listen', '127.0.0.1:0'];
  if (tls) args.push('--dev-tls');
  for (const o of cors) args.push('--cors-origin', o);
  args.push(...extraArgs);
  const proc = spawn(SR, args, { env: { ...process.env, STRONGROOM_PASSPHRASE: 'connect-test' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  const lines = await new Promise((ok, fail) => {
    let out = '';
    const want = tls ? 2 : 1;
    const onData = (d) => {
      out += d;
      const ls = out.split('\n');
      if (ls.length > want) {
        proc.stdout.off('data', onData);
        ok(ls);
      }
    };
    proc.stdout.on('data', onData);
    proc.on('exit', (c) => fail(new Error(`serve exited ${c}: ${stderr}`)));
  });
  if (!lines[0].includes('listening on')) throw new Error(`serve did not start: ${lines[0]} ${stderr}`);
  const url = lines[0].trim().split(' ').pop();
  const ca = tls ? lines[1].trim().split(' ').pop() : undefined;
  const stop = () =>
    new Promise((ok) => {
      if (proc.exitCode !== null) return ok(proc.exitCode);
      proc.on('exit', (c) => ok(c));
      proc.kill('SIGTERM');
    });
  const creds = (u = 'app') => ({ endpoint: url, accessKeyId: keys[u].AccessKeyId, accessKeySecret: keys[u].AccessKeySecret });
  return { url, ca, store, keys, roleArn, creds, stop, stderr: () => stderr };
}
