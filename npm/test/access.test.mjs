// Who may do what, from Node: the shared decision table
// (tests/vectors/access_decisions_v1.json) through SimulatePolicy, the seed's three
// roles end to end with real AccessKeys on a file store, AssumeRole credentials, and
// the audit trail beside the store — verified with only the public key, tampering
// found, no secret in it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kms, StrongroomError, AccessDeniedError, verifyAudit } from 'strongroom';

const here = dirname(fileURLToPath(import.meta.url));
const TABLE = JSON.parse(readFileSync(join(here, '../../tests/vectors/access_decisions_v1.json'), 'utf8'));
const enc = new TextEncoder();
const SECRET_VALUE = 'SRLEAK-node-access-s3cret';

function subst(v, vars) {
  if (typeof v === 'string') return v.replace(/\$\{(\w+)\}/g, (m, k) => (k in vars ? vars[k] : m));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, subst(x, vars)]));
  return v;
}

async function fixture(kms) {
  const vars = {};
  for (const step of TABLE.fixture) {
    const out = await kms.call(step.action, subst(step.params, vars));
    for (const [name, path] of Object.entries(step.save ?? {})) {
      vars[name] = path.split('.').reduce((o, k) => o[k], out);
    }
  }
  return vars;
}

async function code(p) {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof StrongroomError, `not a StrongroomError: ${e}`);
    return e.code;
  }
  assert.fail('expected a rejection');
}

test('the decision table holds', async () => {
  const kms = await Kms.memory();
  const vars = await fixture(kms);
  const wrong = [];
  for (const [i, c] of TABLE.cases.entries()) {
    const p = { PrincipalArn: subst(c.principal, vars), ActionName: c.action };
    if (c.resource !== undefined) p.ResourceArn = subst(c.resource, vars);
    if (c.encryptionContext !== undefined) p.EncryptionContext = JSON.stringify(c.encryptionContext);
    for (const [a, b] of [['sourceIp', 'SourceIp'], ['currentTime', 'CurrentTime'], ['credentialExpiration', 'CredentialExpiration'], ['secureTransport', 'SecureTransport']]) {
      if (c[a] !== undefined) p[b] = c[a];
    }
    const out = await kms.call('SimulatePolicy', p);
    if (out.Decision !== c.expect || (c.code !== undefined && out.ErrorCode !== c.code)) wrong.push({ i, c, out });
  }
  assert.ok(TABLE.cases.length >= 200);
  assert.deepEqual(wrong, []);
});

async function makeUser(kms, name, { document, system } = {}) {
  await kms.createUser({ userName: name });
  if (document) {
    await kms.createPolicy({ policyName: name, policyDocument: document });
    await kms.attachPolicyToUser({ policyType: 'Custom', policyName: name, userName: name });
  }
  if (system) await kms.attachPolicyToUser({ policyType: 'System', policyName: system, userName: name });
  const ak = (await kms.createAccessKey({ userName: name })).AccessKey;
  return { accessKeyId: ak.AccessKeyId, accessKeySecret: ak.AccessKeySecret };
}

const allow = (action) => ({ Version: '1', Statement: [{ Effect: 'Allow', Action: action, Resource: '*' }] });

test('the seed roles: ingestion may GenerateDataKey only, analytics Decrypt only, security admins manage only', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-access-'));
  try {
    const path = join(dir, 'store');
    const admin = await Kms.open({ path, passphrase: 'pw' });
    const ingestion = await makeUser(admin, 'ingestion', { document: allow('kms:GenerateDataKey') });
    const analytics = await makeUser(admin, 'analytics', { document: allow('kms:Decrypt') });
    const security = await makeUser(admin, 'security', { system: 'StrongroomKeyAdministrator' });
    await admin.close();

    let sec = await Kms.open({ path, passphrase: 'pw', credentials: security });
    const { keyId } = await sec.createKey({ description: 'ingest' });
    assert.equal(await code(sec.generateDataKey({ keyId })), 'Forbidden.NoPermission');
    await sec.close();

    const ing = await Kms.open({ path, passphrase: 'pw', credentials: ingestion });
    const dk = await ing.generateDataKey({ keyId });
    await assert.rejects(ing.decrypt({ ciphertextBlob: dk.ciphertextBlob }), AccessDeniedError);
    assert.equal(await code(ing.disableKey({ keyId })), 'Forbidden.NoPermission');
    await ing.close();

    const ana = await Kms.open({ path, passphrase: 'pw', credentials: analytics });
    assert.deepEqual((await ana.decrypt({ ciphertextBlob: dk.ciphertextBlob })).plaintext, dk.plaintext);
    assert.equal(await code(ana.generateDataKey({ keyId })), 'Forbidden.NoPermission');
    await ana.close();

    sec = await Kms.open({ path, passphrase: 'pw', credentials: security });
    await sec.disableKey({ keyId });
    await sec.enableKey({ keyId });
    await sec.close();

    assert.equal(await code(Kms.open({ path, passphrase: 'pw', credentials: { ...ingestion, accessKeySecret: 'nope' } })), 'Forbidden.NoPermission');

    const owner = await Kms.open({ path, passphrase: 'pw' });
    const pem = await owner.auditPublicKey();
    await owner.close();
    const text = readFileSync(`${path}.audit`, 'utf8');
    const report = await verifyAudit(text, pem);
    assert.ok(report.intact && report.closed, JSON.stringify(report));
    const denied = text
      .split('\n')
      .filter((l) => l.includes('"errorCode":"Forbidden.NoPermission"'))
      .map((l) => JSON.parse(l))
      .map((e) => `${e.eventName}:${e.userIdentity.userName}`);
    for (const want of ['GenerateDataKey:security', 'Decrypt:ingestion', 'DisableKey:ingestion', 'GenerateDataKey:analytics']) {
      assert.ok(denied.includes(want), `${want} not in ${denied}`);
    }
    for (const s of [ingestion.accessKeySecret, analytics.accessKeySecret, security.accessKeySecret, Buffer.from(dk.plaintext).toString('base64')]) {
      assert.ok(!text.includes(s), 'a secret is in the trail');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('AssumeRole credentials act as the role session', async () => {
  const kms = await Kms.memory();
  const acct = (await kms.createUser({ userName: 'web' })).User.AccountId;
  const trust = { Version: '1', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { RAM: [`acs:ram::${acct}:user/web`] } }] };
  const role = (await kms.createRole({ roleName: 'browser', assumeRolePolicyDocument: trust })).Role;
  await kms.createPolicy({ policyName: 'dec', policyDocument: allow(['kms:Decrypt', 'kms:Encrypt']) });
  await kms.attachPolicyToRole({ policyType: 'Custom', policyName: 'dec', roleName: 'browser' });
  const { keyId } = await kms.createKey();
  const { ciphertextBlob } = await kms.encrypt({ keyId, plaintext: enc.encode('for the browser') });
  kms.actAs(`acs:ram::${acct}:user/web`);
  const creds = (await kms.assumeRole({ roleArn: role.Arn, roleSessionName: 'tab-9', durationSeconds: 900 })).Credentials;
  assert.match(creds.AccessKeyId, /^STS\./);
  const arn = kms.authenticate({ accessKeyId: creds.AccessKeyId, accessKeySecret: creds.AccessKeySecret, securityToken: creds.SecurityToken });
  assert.match(arn, /:assumed-role\/browser\/tab-9$/);
  assert.equal(new TextDecoder().decode((await kms.decrypt({ ciphertextBlob })).plaintext), 'for the browser');
  assert.equal(await code(kms.describeKey({ keyId })), 'Forbidden.NoPermission');
});

test('a callback trail: every call, no secrets, tampering found', async () => {
  const kms = await Kms.memory();
  const lines = [];
  kms.attachAudit((l) => lines.push(l), { level: 'all' });
  const { keyId } = await kms.createKey();
  await kms.createSecret({ secretName: 'db/pw', secretData: SECRET_VALUE });
  assert.equal((await kms.getSecretValue({ secretName: 'db/pw' })).secretData, SECRET_VALUE);
  await kms.encrypt({ keyId, plaintext: enc.encode('SRLEAK-node-plaintext') });
  const pem = await kms.auditPublicKey();
  await kms.close();
  const text = lines.join('');
  assert.ok(!text.includes(SECRET_VALUE) && !text.includes('SRLEAK-node-plaintext'));
  const names = text.split('\n').filter((l) => l.includes('"recordType":"Event"')).map((l) => JSON.parse(l).eventName);
  assert.deepEqual(names, ['CreateKey', 'CreateSecret', 'GetSecretValue', 'Encrypt']);
  const ok = await verifyAudit(text, pem);
  assert.ok(ok.intact && ok.closed && ok.events === 4, JSON.stringify(ok));
  assert.equal((await verifyAudit(text.replace('"eventName":"Encrypt"', '"eventName":"Decrypt"'), pem)).intact, false);
  const rows = text.split('\n');
  rows.splice(1, 1);
  assert.equal((await verifyAudit(rows.join('\n'), pem)).intact, false);
});
