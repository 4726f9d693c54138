// Stands in for your database client in this example: a directory of rows that opens
// only with the right password (scrypt-checked), as a database server would. Rows hold
// what the service gives them — here, envelope messages, never plaintext.
import { scryptSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, renameSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const hash = (password, salt) => scryptSync(password, salt, 32);

export class AuthError extends Error {}

/** Sets (or changes) the database password: what a DBA does when the secret rotates. */
export function setPassword(dir, password) {
  mkdirSync(dir, { recursive: true });
  const salt = randomBytes(16);
  writeFileSync(join(dir, '.password'), JSON.stringify({ salt: salt.toString('hex'), hash: hash(password, salt).toString('hex') }), { mode: 0o600 });
}

export function connect(dir, password) {
  const p = JSON.parse(readFileSync(join(dir, '.password'), 'utf8'));
  if (!timingSafeEqual(hash(password, Buffer.from(p.salt, 'hex')), Buffer.from(p.hash, 'hex'))) throw new AuthError('password authentication failed');
  const file = (id) => join(dir, `${encodeURIComponent(id)}.row`);
  return {
    put(id, bytes) {
      writeFileSync(`${file(id)}.tmp`, bytes);
      renameSync(`${file(id)}.tmp`, file(id));
    },
    get: (id) => (existsSync(file(id)) ? new Uint8Array(readFileSync(file(id))) : undefined),
  };
}
