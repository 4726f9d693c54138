// A Node HTTP service that keeps records encrypted at rest with envelope messages and
// reads its database password through the secrets caching client.
//
//   POST /records/:id   body: any JSON  → stored as an envelope message bound to its id
//   GET  /records/:id                   → the JSON back (404 if none; 422 if tampered)
//
// The KMS is a strongroom gateway (`strongroom serve`) reached with Kms.connect — the
// service holds an AccessKey, never a master key — or, without KMS_ENDPOINT, an
// embedded store file. Settings (environment):
//   KMS_ENDPOINT, KMS_ACCESS_KEY_ID, KMS_ACCESS_KEY_SECRET   the gateway and who we are
//   STRONGROOM_STORE, STRONGROOM_PASSPHRASE                  or an embedded store
//   RECORDS_KEY          the CMK (KeyId or alias/…) that wraps the records' data keys
//   DB_PASSWORD_SECRET   the secret holding the database password
//   DATA_DIR             the "database" (see db.mjs)          PORT (default 0: any)
import http from 'node:http';
import { Kms, SecretCache, StrongroomError } from 'strongroom';
import * as db from './db.mjs';

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};

const kms = process.env.KMS_ENDPOINT
  ? await Kms.connect({ endpoint: env('KMS_ENDPOINT'), accessKeyId: env('KMS_ACCESS_KEY_ID'), accessKeySecret: env('KMS_ACCESS_KEY_SECRET') })
  : await Kms.open({ path: env('STRONGROOM_STORE'), passphrase: env('STRONGROOM_PASSPHRASE') });
// Reads of a record repeated within a minute reuse its unwrapped data key instead of
// asking the KMS again. (Writes do not share data keys here: each record's context
// names its id.) On a connected Kms a hit does not ask the gateway, so a CMK disabled
// there stops cached keys only as they age out: keep maxAgeMs short.
kms.setDataKeyCache({ maxAgeMs: 60_000, maxMessages: 1_000 });
const recordsKey = env('RECORDS_KEY');
const secretName = env('DB_PASSWORD_SECRET');
const dataDir = env('DATA_DIR');

// The password is fetched once and served from memory; a refresh every minute picks up
// a rotation, and a login that fails forces one (the DBA rotated it just now).
const secrets = new SecretCache(kms, { refreshIntervalMs: 60_000 });
async function database() {
  try {
    return db.connect(dataDir, (await secrets.get(secretName)).secretData);
  } catch (e) {
    if (!(e instanceof db.AuthError)) throw e;
    return db.connect(dataDir, (await secrets.refresh(secretName)).secretData);
  }
}

const context = (id) => ({ table: 'records', id });

async function handle(req, res) {
  const m = /^\/records\/([\w.-]{1,128})$/.exec(new URL(req.url, 'http://x').pathname);
  if (!m) return [404, { error: 'not found' }];
  const id = m[1];
  if (req.method === 'POST') {
    let body = '';
    for await (const chunk of req) body += chunk;
    let record;
    try {
      record = JSON.parse(body);
    } catch {
      return [400, { error: 'the body must be JSON' }];
    }
    const message = await kms.encryptEnvelope({ keyIds: [recordsKey], plaintext: new TextEncoder().encode(JSON.stringify(record)), encryptionContext: context(id) });
    (await database()).put(id, message);
    return [201, { id }];
  }
  if (req.method === 'GET') {
    const message = (await database()).get(id);
    if (!message) return [404, { error: `no record ${id}` }];
    // The exact context: a row copied under another id does not open.
    const { plaintext } = await kms.decryptEnvelope({ ciphertext: message, encryptionContext: context(id) });
    return [200, JSON.parse(new TextDecoder().decode(plaintext))];
  }
  return [405, { error: 'GET or POST' }];
}

const server = http.createServer(async (req, res) => {
  let status, body;
  try {
    [status, body] = await handle(req, res);
  } catch (e) {
    // KMS errors carry a stable code; a tampered row is InvalidCiphertext.*.
    status = e instanceof StrongroomError ? (e.code.startsWith('InvalidCiphertext') ? 422 : 503) : 500;
    body = { error: e instanceof StrongroomError ? e.code : 'internal error' };
    if (!(e instanceof StrongroomError)) console.error(e);
  }
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => console.log(`records service listening on http://127.0.0.1:${server.address().port}`));
process.on('SIGTERM', () => server.close(async () => {
  await kms.close();
  process.exit(0);
}));
