// Browser / bundler entry point: the wasm-bindgen `web` build, loaded once on first use.
import init, * as wasm from './wasm-web/strongroom_wasm.js';
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

/** A store in IndexedDB database `name` (object store "store"): key "base" holds the
 * store as last written whole; each journal record is kept under its byte offset
 * (a number), written in its own transaction with strict durability. Loading
 * concatenates the base and the records that follow it contiguously. */
async function openIndexedDb(name: string) {
  const open = indexedDB.open(name, 1);
  open.onupgradeneeded = () => open.result.createObjectStore('store');
  const db = await req(open).catch((e) => {
    throw idbError(`opening ${name}`, e);
  });
  const tx = (mode: IDBTransactionMode) =>
    db.transaction('store', mode, { durability: 'strict' } as IDBTransactionOptions);
  let image: Uint8Array | undefined;
  {
    const t = tx('readonly');
    const os = t.objectStore('store');
    const range = IDBKeyRange.bound(0, Infinity); // numbers only: the string key "base" sorts after every number
    const [base, keys, records] = await Promise.all([
      req(os.get('base')) as Promise<Uint8Array | undefined>,
      req(os.getAllKeys(range)) as Promise<number[]>,
      req(os.getAll(range)) as Promise<Uint8Array[]>,
    ]);
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
  }
  const save = async (data: Uint8Array) => {
    try {
      const t = tx('readwrite');
      const os = t.objectStore('store');
      os.clear();
      os.put(data.slice(), 'base');
      await done(t);
    } catch (e) {
      throw idbError('writing', e);
    }
  };
  const append = async (at: number, record: Uint8Array) => {
    try {
      const t = tx('readwrite');
      const os = t.objectStore('store');
      os.delete(IDBKeyRange.bound(at, Infinity)); // drop any record past the valid end (not "base")
      os.put(record.slice(), at);
      await done(t);
    } catch (e) {
      throw idbError('appending', e);
    }
  };
  // Every append is its own committed, strictly durable transaction.
  const sync = async () => {};
  return { image, save, append, sync };
}
setPlatform({
  native: async () => {
    ready ??= init();
    await ready;
    return wasm;
  },
  // WebCrypto needs a secure context; elsewhere the wasm core's AES-GCM runs the frames.
  frameCipher: globalThis.crypto?.subtle ? webCryptoCipher : undefined,
  // WebCrypto runs each call off the main thread and hands back a new buffer: quarter-
  // MiB frames, several in flight, beat one 1 MiB call plus its copy (bench/browser.mjs).
  oneShotFrameLength: globalThis.crypto?.subtle ? 256 * 1024 : undefined,
  openIndexedDb: globalThis.indexedDB ? openIndexedDb : undefined,
});

export * from './api.js';
