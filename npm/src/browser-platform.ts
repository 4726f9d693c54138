// What every browser entry point shares: IndexedDB stores and audit trails, WebCrypto
// frames, and the wasm-bindgen `web` build, loaded once on first use by the entry's
// own loader (browser.ts: the .wasm file next to it; inline.ts: bytes inside the JS).
import * as wasm from './wasm-web/strongroom_wasm.js';
import { setPlatform } from './api.js';
import { webCryptoCipher } from './envelope.js';

let ready: Promise<unknown> | undefined;

const req = <T>(r: IDBRequest<T>) =>
  new Promise<T>((ok, fail) => {
    r.onsuccess = () => ok(r.result);
    r.onerror = () => fail(r.error);
  });
const done = (t: IDBTransaction) =>
  new Promise<void>((ok, fail) => {
    t.oncomplete = () => ok();
    t.onerror = () => fail(t.error);
    t.onabort = () => fail(t.error ?? new Error('IndexedDB transaction aborted'));
  });
const idbError = (what: string, e: unknown) => {
  const name = (e as DOMException | undefined)?.name;
  return { code: name === 'QuotaExceededError' ? 'ENOSPC' : name, message: `IndexedDB ${what}: ${(e as Error)?.message ?? e}` };
};

const lockedError = (name: string, why: string) => ({
  code: 'Rejected.StoreLocked',
  kind: 'Store',
  message: `the IndexedDB store ${name} is locked by another writer (${why})`,
});

/** Takes the Web Lock `strongroom:<name>` if no one holds it; resolves to its release,
 * or undefined when the lock is held elsewhere (another tab, frame or worker). */
async function webLock(locks: LockManager, name: string): Promise<(() => void) | undefined> {
  return new Promise((resolve, reject) => {
    locks
      .request(`strongroom:${name}`, { ifAvailable: true }, (lock) => {
        if (!lock) {
          resolve(undefined);
          return undefined;
        }
        // Held until the returned promise settles: until close, or the page goes away.
        return new Promise<void>((release) => resolve(release));
      })
      .catch(reject);
  });
}

/** A store in IndexedDB database `name` (object store "store"): key "base" holds the
 * store as last written whole; each journal record is kept under its byte offset
 * (a number), written in its own transaction with strict durability. Loading
 * concatenates the base and the records that follow it contiguously.
 *
 * One writer per store: the opener takes the Web Lock `strongroom:<name>` (where
 * `navigator.locks` exists; a second open anywhere in the origin gets
 * `Rejected.StoreLocked` until `close()` or until the holding page goes away), and
 * writes a token of its own under key "writer" in the same transaction that loads the
 * store. Every later write checks, inside its own transaction, that the token is
 * still its own and aborts with `Rejected.StoreLocked` otherwise — so even without
 * Web Locks a writer that another opener has superseded fails rather than overwrite
 * what the newer one wrote. */
async function openIndexedDb(name: string) {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  let unlock: (() => void) | undefined;
  if (locks?.request) {
    unlock = await webLock(locks, name).catch((e) => {
      throw idbError(`locking ${name}`, e);
    });
    if (!unlock) throw lockedError(name, 'another tab, frame or worker holds it');
  }
  let db: IDBDatabase | undefined;
  // Whether this open made the database: if nothing is ever written to it (a failed
  // open or restore), close deletes it again, leaving no empty database behind.
  let created = false;
  let wrote = false;
  try {
    const open = indexedDB.open(name, 1);
    open.onupgradeneeded = () => {
      created = true;
      open.result.createObjectStore('store');
    };
    db = await req(open).catch((e) => {
      throw idbError(`opening ${name}`, e);
    });
    // Another opener that upgrades or deletes the database: let go rather than block it.
    db.onversionchange = () => db?.close();
  } catch (e) {
    unlock?.();
    throw e;
  }
  const conn = db;
  const tx = (mode: IDBTransactionMode) => conn.transaction('store', mode, { durability: 'strict' } as IDBTransactionOptions);
  const token = `${Date.now().toString(36)}-${Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('')}`;
  let image: Uint8Array | undefined;
  try {
    // Take over as the writer and load, in one transaction: anything a superseded
    // writer acknowledged is in what we load, and nothing it writes later lands.
    const t = tx('readwrite');
    const finished = done(t);
    const os = t.objectStore('store');
    os.put(token, 'writer');
    const range = IDBKeyRange.bound(0, Infinity); // numbers only: the string keys sort after every number
    const [base, keys, records] = await Promise.all([
      req(os.get('base')) as Promise<Uint8Array | undefined>,
      req(os.getAllKeys(range)) as Promise<number[]>,
      req(os.getAll(range)) as Promise<Uint8Array[]>,
    ]);
    await finished;
    if (base !== undefined) {
      const parts: Uint8Array[] = [base];
      let at = base.length;
      for (let i = 0; i < keys.length; i++) {
        if (keys[i] !== at) break; // anything not contiguous is past a torn or dropped tail
        parts.push(records[i]);
        at += records[i].length;
      }
      image = new Uint8Array(at);
      let o = 0;
      for (const p of parts) {
        image.set(p, o);
        o += p.length;
      }
    }
  } catch (e) {
    conn.close();
    unlock?.();
    throw idbError(`reading ${name}`, e);
  }
  let closed = false;
  /** Runs `write` in a readwrite transaction after checking, inside it, that this
   * opener is still the store's writer. */
  const writeTx = async (what: string, write: (os: IDBObjectStore) => void) => {
    if (closed) throw { message: `IndexedDB ${name}: this Kms was closed` };
    let t: IDBTransaction;
    let finished: Promise<void>;
    try {
      t = tx('readwrite');
      finished = done(t);
    } catch (e) {
      throw idbError(what, e);
    }
    finished.catch(() => undefined);
    const os = t.objectStore('store');
    let current: unknown;
    try {
      current = await req(os.get('writer'));
    } catch (e) {
      throw idbError(what, e);
    }
    if (current !== token) {
      t.abort();
      throw lockedError(name, 'another opener took the store over; this instance wrote nothing');
    }
    try {
      write(os);
      await finished;
    } catch (e) {
      throw idbError(what, e);
    }
  };
  const save = (data: Uint8Array) =>
    writeTx('writing', (os) => {
      wrote = true;
      os.clear();
      os.put(token, 'writer');
      os.put(data.slice(), 'base');
    });
  const append = (at: number, record: Uint8Array) =>
    writeTx('appending', (os) => {
      os.delete(IDBKeyRange.bound(at, Infinity)); // drop any record past the valid end (not the string keys)
      os.put(record.slice(), at);
    });
  // Every append is its own committed, strictly durable transaction.
  const sync = async () => {};
  const close = async () => {
    if (closed) return;
    closed = true;
    conn.close();
    if (created && !wrote) await req(indexedDB.deleteDatabase(name)).catch(() => undefined);
    unlock?.();
  };
  return { image, save, append, sync, close };
}
/** The audit trail of the IndexedDB store `name`: database `<name>.audit`, one record
 * per batch of lines (auto-increment keys keep their order). `append` starts a strict-
 * durability transaction at once and hands its promise to the facade, which awaits it
 * before answering the call that wrote it — so a management event is durable before
 * its call resolves. */
async function openIndexedDbAudit(name: string) {
  const open = indexedDB.open(`${name}.audit`, 1);
  open.onupgradeneeded = () => open.result.createObjectStore('lines', { autoIncrement: true });
  const db = await req(open).catch((e) => {
    throw { code: 'Rejected.AuditFailed', kind: 'Store', message: idbError(`opening ${name}.audit`, e).message };
  });
  db.onversionchange = () => db.close();
  const tx = (mode: IDBTransactionMode) => db.transaction('lines', mode, { durability: 'strict' } as IDBTransactionOptions);
  // The last whole line, to continue the chain.
  let lastLine: string | undefined;
  {
    const t = tx('readonly');
    const cur = await req(t.objectStore('lines').openCursor(null, 'prev'));
    const text = cur?.value as string | undefined;
    if (text) lastLine = text.replace(/\n$/, '').split('\n').pop() || undefined;
  }
  let closed = false;
  return {
    lastLine,
    append: (lines: string): Promise<void> => {
      if (closed) throw new Error('the audit trail is closed');
      const t = tx('readwrite');
      const finished = done(t);
      t.objectStore('lines').add(lines);
      return finished;
    },
    close: () => {
      closed = true;
      db.close();
    },
  };
}

/** The whole trail of the IndexedDB store `name`, as text. */
async function readIndexedDbAudit(name: string): Promise<string> {
  const open = indexedDB.open(`${name}.audit`, 1);
  open.onupgradeneeded = () => open.result.createObjectStore('lines', { autoIncrement: true });
  const db = await req(open);
  try {
    const all = (await req(db.transaction('lines', 'readonly').objectStore('lines').getAll())) as string[];
    return all.join('');
  } finally {
    db.close();
  }
}

/** Installs the browser platform; `load` initialises the wasm module once. */
export function installBrowserPlatform(load: () => Promise<unknown>): void {
  setPlatform({
    native: async () => {
      ready ??= load();
      await ready;
      return wasm;
    },
    // WebCrypto needs a secure context; elsewhere the wasm core's AES-GCM runs the frames.
    frameCipher: globalThis.crypto?.subtle ? webCryptoCipher : undefined,
    // WebCrypto runs each call off the main thread and hands back a new buffer: quarter-
    // MiB frames, several in flight, beat one 1 MiB call plus its copy (bench/browser.mjs).
    oneShotFrameLength: globalThis.crypto?.subtle ? 256 * 1024 : undefined,
    openIndexedDb: globalThis.indexedDB ? openIndexedDb : undefined,
    openIndexedDbAudit: globalThis.indexedDB ? openIndexedDbAudit : undefined,
    readIndexedDbAudit: globalThis.indexedDB ? readIndexedDbAudit : undefined,
  });
}
