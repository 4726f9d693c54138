// Node entry point: the wasm-bindgen `nodejs` build, and a file store whose writes are
// crash-safe: one journal record appended per mutation and fdatasync'd (group commit);
// whole-store rewrites via temp file, fsync, rename, fsync of the directory.
import wasm from './wasm-node/strongroom_wasm.js';
import { promises as fs, unlinkSync, openSync, readSync, writeSync, fdatasyncSync, ftruncateSync, fstatSync, closeSync, lstatSync, constants as fsConstants } from 'node:fs';
import * as path from 'node:path';
import * as fsSync from 'node:fs';
import { createCipheriv, createDecipheriv, createSecretKey } from 'node:crypto';
import { Duplex } from 'node:stream';
import { InvalidParameterError, setPlatform } from './api.js';
import { setSecretCacheDisk } from './secrets.js';
import type { FrameCipherFactory } from './api.js';

/** Bytes per node:crypto `update` when a frame is sealed or opened into place. */
const UPDATE_PIECE = 128 * 1024;

/** `c.update` over `input` in UPDATE_PIECE pieces, each copied into `out` while it is
 * still in cache; returns the bytes written. node:crypto has no update-into: one 1 MiB
 * update gave a fresh 1 MiB buffer that was then copied, uncached, into `out`
 * (bench/bench.mjs, 1 MiB one-shot encrypt: 0.65–0.71× node:crypto before, ~0.8×
 * after). */
function updateInto(c: { update(b: Uint8Array): Buffer }, input: Uint8Array, out: Uint8Array, wipe = false): number {
  let at = 0;
  for (let i = 0; i < input.length; i += UPDATE_PIECE) {
    const a = c.update(input.subarray(i, Math.min(input.length, i + UPDATE_PIECE)));
    out.set(a, at);
    at += a.length;
    if (wipe) a.fill(0);
  }
  return at;
}

// node:crypto AES-256-GCM for the core's own long inputs — store records, secret values,
// frames of 1 KiB or more (strongroom::PlatformGcm, bindings-wasm setPlatformGcm) —
// instead of the wasm build's software AES-GCM (4 KiB GetSecretValue: ~77 µs before).
// The plaintext pieces node:crypto hands back are wiped once copied; the core wipes the
// key and plaintext copies it passed in, and the plaintext returned once it has it.
wasm.setPlatformGcm(
  (key: Uint8Array, iv: Uint8Array, aad: Uint8Array, pt: Uint8Array): Uint8Array => {
    const c = createCipheriv('aes-256-gcm', key, iv);
    if (aad.length) c.setAAD(aad);
    const out = new Uint8Array(pt.length + 16);
    const at = updateInto(c, pt, out);
    const f = c.final();
    out.set(f, at);
    out.set(c.getAuthTag(), at + f.length);
    return out;
  },
  (key: Uint8Array, iv: Uint8Array, aad: Uint8Array, ct: Uint8Array, tag: Uint8Array): Uint8Array | null => {
    const d = createDecipheriv('aes-256-gcm', key, iv);
    d.setAuthTag(tag);
    if (aad.length) d.setAAD(aad);
    const out = new Uint8Array(ct.length);
    const at = updateInto(d, ct, out, true);
    try {
      out.set(d.final(), at); // throws when the tag does not verify
    } catch {
      out.fill(0);
      return null;
    }
    return out;
  },
);

/** node:crypto AES-256-GCM for envelope frames (OpenSSL underneath). */
const nodeCipher: FrameCipherFactory = async (key) => {
  // createSecretKey copies the bytes into the KeyObject; frameCipher() then wipes `key`.
  const k = createSecretKey(key);
  const sealInto = (iv: Uint8Array, pt: Uint8Array, out: Uint8Array) => {
    const c = createCipheriv('aes-256-gcm', k, iv);
    const at = updateInto(c, pt, out);
    const b = c.final();
    out.set(b, at);
    out.set(c.getAuthTag(), at + b.length);
  };
  return {
    sealInto,
    // allocUnsafeSlow skips the zero fill and is never carved from Node's shared
    // pool, so the returned view's `.buffer` holds only this message; sealAll,
    // openAll and concat write every byte before returning it.
    alloc: (n) => {
      const b = Buffer.allocUnsafeSlow(n);
      return new Uint8Array(b.buffer, b.byteOffset, n);
    },
    seal(iv, pt) {
      const out = new Uint8Array(pt.length + 16);
      sealInto(iv, pt, out);
      return out;
    },
    openInto(iv, sealed, out) {
      const n = sealed.length - 16;
      const d = createDecipheriv('aes-256-gcm', k, iv);
      d.setAuthTag(sealed.subarray(n));
      try {
        const at = updateInto(d, sealed.subarray(0, n), out);
        out.set(d.final(), at); // throws if the tag is wrong
      } catch (e) {
        out.fill(0);
        throw e;
      }
    },
    open(iv, sealed) {
      const d = createDecipheriv('aes-256-gcm', k, iv);
      d.setAuthTag(sealed.subarray(sealed.length - 16));
      const a = d.update(sealed.subarray(0, sealed.length - 16));
      const b = d.final(); // throws before anything is returned if the tag is wrong
      return b.length ? Buffer.concat([a, b]) : a;
    },
  };
};

const storeError = (what: string, file: string, e: unknown) => {
  const err = e as NodeJS.ErrnoException;
  return { code: err.code, message: `${what} ${file}: ${err.message}` };
};

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};
const locked = (file: string, why: string) => ({
  code: 'Rejected.StoreLocked',
  kind: 'Store',
  message: `the store ${file} is locked by another writer (${why})`,
});

/** A PID read from a mark, or undefined when the mark is empty or unreadable. */
const readPid = async (mark: string): Promise<number | undefined> => {
  const text = (await fs.readFile(mark, 'utf8').catch(() => '')).trim();
  return /^[1-9][0-9]{0,9}$/.test(text) ? Number(text) : undefined;
};

/** Puts a new file holding our PID (0600) at `name`, atomically: written under a
 * name of its own, then hard-linked into place, so no one ever sees it empty. Returns
 * false when `name` exists. */
async function placeMark(name: string): Promise<boolean> {
  const tmp = `${name}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  await fs.writeFile(tmp, String(process.pid), { mode: 0o600, flag: 'wx' });
  try {
    await fs.link(tmp, name);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

/** The writer lock. Node has no flock, so it marks its hold with `<store>.node-lock`
 * (holding its PID, put in place atomically by `placeMark`) and then looks for a
 * native holder's PID in `<store>.lock` (native strongroom flocks that file and
 * writes its PID into it). Each side writes its own mark before looking for the
 * other's, so two openers may both fail but never both succeed.
 *
 * A mark whose PID is dead is stale. It is taken over only by the one process that
 * holds `<store>.node-lock.takeover` (placed the same way), which checks again that
 * the mark is the stale one it judged before removing it, then places its own; so
 * two processes that find the same dead PID cannot both take the store. An empty or
 * unreadable mark is never stale (delete it by hand if no writer is running). */
async function lock(file: string): Promise<() => void> {
  const mark = `${file}.node-lock`;
  const guard = `${mark}.takeover`;
  const take = async (): Promise<void> => {
    if (await placeMark(mark)) return;
    const st = await fs.stat(mark).catch(() => undefined);
    const pid = await readPid(mark);
    if (pid === undefined) throw locked(file, st ? `${mark} exists but names no process; delete it if no writer runs` : 'its mark vanished while being read; retry');
    if (alive(pid)) throw locked(file, `process ${pid}`);
    if (!(await placeMark(guard))) {
      const g = await readPid(guard);
      // A takeover whose process died: clear it for the next opener.
      if (g !== undefined && !alive(g)) await fs.rm(guard, { force: true });
      throw locked(file, `another process is taking over the stale mark of process ${pid}`);
    }
    try {
      const again = await fs.stat(mark).catch(() => undefined);
      if (again && st && again.ino === st.ino && (await readPid(mark)) === pid) await fs.rm(mark, { force: true });
      if (!(await placeMark(mark))) throw locked(file, `process ${(await readPid(mark)) ?? 'unknown'}`);
    } finally {
      await fs.rm(guard, { force: true });
    }
  };
  try {
    await take();
  } catch (e) {
    if ((e as { code?: string }).code === 'Rejected.StoreLocked') throw e;
    throw { code: 'Rejected.StoreIo', kind: 'Store', message: `locking ${file}: ${(e as Error).message}` };
  }
  const release = () => {
    try {
      unlinkSync(mark);
    } catch {
      // already gone
    }
    process.removeListener('exit', release);
  };
  process.on('exit', release);
  const native = await readPid(`${file}.lock`);
  if (native !== undefined && native !== process.pid && alive(native)) {
    release();
    throw locked(file, `process ${native}`);
  }
  return release;
}

/** Makes a directory's entries (a rename, a new file) durable. */
async function syncDir(dir: string): Promise<void> {
  const d = await fs.open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/** Writes `data` over `target` durably and atomically: `tmp` made afresh 0600 (never
 * through a link planted there), written, fsync'd, renamed over `target`, and the
 * directory fsync'd. On failure before the rename the temp file is removed;
 * `renamed.done` says whether the rename happened (after it, `target` is the new file,
 * perhaps not yet durable). */
async function writeDurably(dir: string, target: string, tmp: string, data: Uint8Array, renamed = { done: false }): Promise<void> {
  try {
    await fs.rm(tmp, { force: true });
    const t = await fs.open(tmp, 'wx', 0o600);
    try {
      await t.writeFile(data);
      await t.sync();
    } finally {
      await t.close();
    }
    await fs.rename(tmp, target);
    renamed.done = true;
    await syncDir(dir);
  } catch (e) {
    if (!renamed.done) await fs.rm(tmp, { force: true });
    throw e;
  }
}

async function openPath(p: string) {
  const file = path.resolve(p);
  const link = await fs.lstat(file).catch(() => undefined);
  if (link?.isSymbolicLink()) {
    throw { code: 'Rejected.StoreIo', kind: 'Store', message: `opening ${file}: is a symbolic link; strongroom does not write secrets through links (give the real path)` };
  }
  const dir = path.dirname(file);
  // The outermost directory this open makes (if any): a store never written leaves
  // none of them behind (see close).
  const made = await fs.mkdir(dir, { recursive: true });
  const forget = async () => {
    if (made === undefined || (await fs.stat(file).catch(() => undefined))) return;
    for (let d = dir; d.length >= made.length; d = path.dirname(d)) {
      if (!(await fs.rmdir(d).then(() => true, () => false))) break;
    }
  };
  let release: () => void;
  try {
    release = await lock(file);
  } catch (e) {
    await forget();
    throw e;
  }
  let image: Uint8Array | undefined;
  try {
    image = new Uint8Array(await fs.readFile(file));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      release();
      await forget();
      throw { code: 'Rejected.StoreIo', kind: 'Store', message: `reading ${file}: ${(e as Error).message}` };
    }
  }
  // The append handle (reopened after every whole-store replacement), the bytes ever
  // appended through it, those known durable, and the flush in flight: callers that
  // sync while one runs wait for it and share the next (group commit).
  let fh: fs.FileHandle | undefined;
  let closed = false;
  const usable = () => {
    if (closed) throw { message: `${file}: this Kms was closed` };
    if (poisoned) throw { message: `${file}: an earlier write could not be confirmed on disk; reopen the store` };
  };
  let appended = 0;
  let durable = 0;
  let flushing: Promise<void> | undefined;
  let poisoned = false;
  const save = async (data: Uint8Array) => {
    usable();
    // `<store>.tmp`, the store's own (the writer lock makes it ours alone), made
    // afresh 0600 (never through a link planted there); the rename gives the store
    // that mode.
    const renamed = { done: false };
    try {
      await writeDurably(dir, file, `${file}.tmp`, data, renamed);
    } catch (e) {
      // Renamed: the new file is in place but maybe not durable, and `fh` points at
      // the old, unlinked one: appending there would lose records. Accept nothing more.
      if (renamed.done) poisoned = true;
      throw storeError('writing', file, e);
    }
    const old = fh;
    fh = undefined;
    durable = appended;
    await old?.close();
  };
  const append = async (at: number, record: Uint8Array) => {
    usable();
    try {
      fh ??= await fs.open(file, 'r+');
      if ((await fh.stat()).size !== at) await fh.truncate(at); // drop a torn tail
      let done = 0;
      while (done < record.length) {
        const { bytesWritten } = await fh.write(record, done, record.length - done, at + done);
        done += bytesWritten;
      }
      appended += record.length;
    } catch (e) {
      // Keep nothing of a partial write.
      await fh?.truncate(at).catch(() => undefined);
      throw storeError('appending to', file, e);
    }
  };
  const sync = async () => {
    const target = appended;
    while (durable < target) {
      usable();
      if (!flushing) {
        const upto = appended;
        const h = fh;
        flushing = (async () => {
          try {
            await h?.datasync();
            durable = Math.max(durable, upto);
          } catch (e) {
            poisoned = true;
            throw storeError('flushing', file, e);
          } finally {
            flushing = undefined;
          }
        })();
      }
      await flushing;
    }
  };
  // The values file (`<store>.values`, then `<store>.values.<n>` after n values-file
  // compactions; docs/FORMAT.md §Values file): secret values kept apart from the
  // records, so opening reads none of them. The current generation's file is opened
  // on first use and made (0600, with its header, durably) by the first value written.
  const valuesPath = (g: number) => (g === 0 ? `${file}.values` : `${file}.values.${g}`);
  let vGen = 0;
  let valuesFile = valuesPath(0);
  let vh: fs.FileHandle | undefined;
  let vEnd = 0;
  let vDirty = false;
  // The file a compaction just replaced: reads already under way may still use it.
  let vPrev: { gen: number; h: fs.FileHandle } | undefined;
  const corrupted = (message: string) => ({ code: 'Rejected.StoreCorrupted', message: `${valuesFile}: ${message}` });
  // Concurrent first reads share one open (no handle left behind).
  let vOpening: Promise<fs.FileHandle | undefined> | undefined;
  const openValues = async (create: boolean): Promise<fs.FileHandle | undefined> => {
    if (vh) return vh;
    if (vOpening) {
      const h = await vOpening;
      if (h || !create) return h;
    }
    vOpening = openValuesNow(create);
    try {
      return await vOpening;
    } finally {
      vOpening = undefined;
    }
  };
  const openValuesNow = async (create: boolean): Promise<fs.FileHandle | undefined> => {
    if (vh) return vh;
    let h: fs.FileHandle;
    try {
      h = await fs.open(valuesFile, 'r+');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw storeError('opening', valuesFile, e);
      if (!create) return undefined;
      try {
        if ((await fs.lstat(valuesFile).catch(() => undefined))?.isSymbolicLink()) throw new Error('is a symbolic link');
        h = await fs.open(valuesFile, 'wx+', 0o600);
        await h.write(VALUES_MAGIC, 0, VALUES_MAGIC.length, 0);
        await h.sync();
        await syncDir(dir);
      } catch (e2) {
        throw storeError('creating', valuesFile, e2);
      }
      vh = h;
      vEnd = VALUES_MAGIC.length;
      return h;
    }
    const head = new Uint8Array(VALUES_MAGIC.length);
    const { bytesRead } = await h.read(head, 0, head.length, 0);
    if (bytesRead !== head.length || head.some((b, i) => b !== VALUES_MAGIC[i])) {
      await h.close();
      throw corrupted('the values file beside the store has no values-file header');
    }
    vEnd = (await h.stat()).size;
    vh = h;
    return h;
  };
  const readFully = async (h: fs.FileHandle, where: string, offset: number, len: number): Promise<Uint8Array> => {
    const buf = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const { bytesRead } = await h.read(buf, done, len - done, offset + done).catch((e) => {
        throw storeError('reading', where, e);
      });
      if (bytesRead === 0) throw { code: 'Rejected.StoreCorrupted', message: `${where}: the values file is shorter than the store says` };
      done += bytesRead;
    }
    return buf;
  };
  const base = path.basename(file);
  /** The generation `name` is a values file of for this store, or undefined. */
  const generationOf = (name: string): number | undefined => {
    if (!name.startsWith(`${base}.values`)) return undefined;
    const rest = name.slice(base.length + '.values'.length);
    if (rest === '') return 0;
    return /^\.[1-9][0-9]{0,9}$/.test(rest) ? Number(rest.slice(1)) : undefined;
  };
  const values = {
    append: async (value: Uint8Array): Promise<number> => {
      usable();
      const h = (await openValues(true))!;
      const at = vEnd;
      try {
        let done = 0;
        while (done < value.length) {
          const { bytesWritten } = await h.write(value, done, value.length - done, at + done);
          done += bytesWritten;
        }
      } catch (e) {
        await h.truncate(at).catch(() => undefined);
        throw storeError('appending to', valuesFile, e);
      }
      vEnd = at + value.length;
      vDirty = true;
      return at;
    },
    sync: async (): Promise<void> => {
      usable();
      if (!vDirty || !vh) return;
      try {
        await vh.datasync();
      } catch (e) {
        poisoned = true;
        throw storeError('flushing', valuesFile, e);
      }
      vDirty = false;
    },
    read: async (gen: number, offset: number, len: number): Promise<Uint8Array> => {
      if (closed) throw { message: `${file}: this Kms was closed` };
      if (gen === vGen) {
        const h = await openValues(false);
        if (!h) throw corrupted('the store names values in its values file, which is missing');
        return readFully(h, valuesFile, offset, len);
      }
      if (vPrev?.gen === gen) return readFully(vPrev.h, valuesPath(gen), offset, len);
      // Neither current nor just replaced: a reader that looked its span up before
      // two compactions.
      const where = valuesPath(gen);
      const h = await fs.open(where, 'r').catch((e) => {
        throw (e as NodeJS.ErrnoException).code === 'ENOENT' ? corrupted('the store names values in a values file that is missing') : storeError('opening', where, e);
      });
      try {
        return await readFully(h, where, offset, len);
      } finally {
        await h.close().catch(() => undefined);
      }
    },
    erase: async (gen: number, offset: number, len: number): Promise<void> => {
      usable();
      if (gen !== vGen) return; // that file is on its way out whole
      const h = await openValues(false);
      const end = Math.min(offset + len, vEnd);
      if (!h || offset < VALUES_MAGIC.length || end <= offset) return;
      try {
        await h.write(new Uint8Array(end - offset), 0, end - offset, offset);
        await h.datasync();
      } catch (e) {
        throw storeError('erasing in', valuesFile, e);
      }
    },
    // Makes generation `gen` current and removes every other generation's values file
    // (what a compaction replaced, or what a crash left when it interrupted one).
    setGeneration: async (gen: number): Promise<void> => {
      // The switch always happens (appends go where the state says); removals need a
      // usable store.
      if (gen !== vGen) {
        await vOpening?.catch(() => undefined);
        const old = vPrev;
        vPrev = vh ? { gen: vGen, h: vh } : undefined;
        await old?.h.close().catch(() => undefined);
        vh = undefined;
        vGen = gen;
        valuesFile = valuesPath(gen);
        vEnd = 0;
        vDirty = false;
      }
      usable();
      let first: unknown;
      for (const name of await fs.readdir(dir).catch((e) => { throw storeError('listing', dir, e); })) {
        const g = generationOf(name);
        if (g === undefined || g === gen) continue;
        await fs.unlink(path.join(dir, name)).catch((e) => {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') first ??= storeError('removing', path.join(dir, name), e);
        });
      }
      if (first) throw first;
    },
    // Writes generation `gen`'s file with the bytes of the spans [offset, length, …]
    // of the current one, back to back, durably; answers their new offsets.
    rewrite: async (gen: number, spans: number[]): Promise<number[]> => {
      usable();
      if (gen === vGen) throw { message: `${valuesFile}: a values file cannot be rewritten onto itself` };
      const src = await openValues(false);
      const where = valuesPath(gen);
      let h: fs.FileHandle | undefined;
      try {
        if ((await fs.lstat(where).catch(() => undefined))?.isSymbolicLink()) throw new Error('is a symbolic link');
        await fs.unlink(where).catch((e) => {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        });
        h = await fs.open(where, 'wx+', 0o600);
        await h.write(VALUES_MAGIC, 0, VALUES_MAGIC.length, 0);
        let at = VALUES_MAGIC.length;
        const offsets: number[] = [];
        for (let i = 0; i + 1 < spans.length; i += 2) {
          if (!src) throw corrupted('the store names values in its values file, which is missing');
          const bytes = await readFully(src, valuesFile, spans[i], spans[i + 1]);
          let done = 0;
          while (done < bytes.length) {
            const { bytesWritten } = await h.write(bytes, done, bytes.length - done, at + done);
            done += bytesWritten;
          }
          offsets.push(at);
          at += bytes.length;
        }
        await h.sync();
        await h.close();
        h = undefined;
        await syncDir(dir);
        return offsets;
      } catch (e) {
        await h?.close().catch(() => undefined);
        await fs.unlink(where).catch(() => undefined);
        if ((e as { code?: string })?.code === 'Rejected.StoreCorrupted') throw e;
        throw storeError('writing', where, e);
      }
    },
    length: async (): Promise<number> => ((await openValues(false)) ? vEnd : 0),
  };
  const close = async () => {
    if (closed) return;
    closed = true;
    await flushing?.catch(() => undefined);
    await fh?.close().catch(() => undefined);
    fh = undefined;
    await vh?.close().catch(() => undefined);
    vh = undefined;
    await vPrev?.h.close().catch(() => undefined);
    vPrev = undefined;
    release();
    // Never written (a failed open or restore): remove the directories this open made.
    await forget();
  };
  return { image, save, append, sync, values, close };
}

/** The values file's first bytes (docs/FORMAT.md §Values file). */
const VALUES_MAGIC = new Uint8Array([0x53, 0x52, 0x53, 0x56, 0x01, 0, 0, 0]);

/** The audit trail file: opened for append (created 0600; links refused); a record a
 * crash tore (bytes after the last newline) is cut off so the chain continues from the
 * last whole record. */
function openAuditFile(p: string) {
  const file = path.resolve(p);
  try {
    if (lstatSync(file).isSymbolicLink()) {
      throw { code: 'Rejected.AuditFailed', kind: 'Store', message: `audit trail ${file} is a symbolic link` };
    }
  } catch (e: any) {
    if (e?.code !== 'ENOENT') throw e;
  }
  const fail = (what: string, e: any) => ({ code: 'Rejected.AuditFailed', kind: 'Store', message: `audit trail ${what} ${file}: ${e?.message ?? e}` });
  let fd: number;
  try {
    fd = openSync(file, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_APPEND, 0o600);
  } catch (e) {
    throw fail('open', e);
  }
  let lastLine: string | undefined;
  try {
    const size = fstatSync(fd).size;
    let chunk = 65536;
    for (;;) {
      const start = Math.max(0, size - chunk);
      const buf = Buffer.alloc(size - start);
      readSync(fd, buf, 0, buf.length, start);
      const nl = buf.lastIndexOf(10);
      if (nl < 0 && start === 0) {
        if (size > 0) ftruncateSync(fd, 0);
        break;
      }
      if (nl >= 0) {
        const prev = buf.lastIndexOf(10, nl - 1);
        if (prev >= 0 || start === 0) {
          lastLine = buf.subarray(prev + 1, nl).toString('utf8') || undefined;
          const keep = start + nl + 1;
          if (keep < size) {
            ftruncateSync(fd, keep);
            fdatasyncSync(fd);
          }
          break;
        }
      }
      chunk *= 4;
    }
  } catch (e) {
    closeSync(fd);
    throw fail('read', e);
  }
  let open = true;
  return {
    lastLine,
    append: (lines: string) => {
      if (!open) throw new Error('the audit trail is closed');
      const b = Buffer.from(lines, 'utf8');
      for (let off = 0; off < b.length; ) off += writeSync(fd, b, off, b.length - off);
    },
    sync: () => {
      if (open) fdatasyncSync(fd);
    },
    close: () => {
      if (open) {
        open = false;
        closeSync(fd);
      }
    },
  };
}

/** SecretCache `persist`: sealed copies (the core seals them: one format in every
 * runtime) in a 0700 directory, one 0600 file per secret, each written to a temp file,
 * fsync'd, renamed into place, and the directory fsync'd. */
setSecretCacheDisk((dir, key, stage) => {
  const { mkdirSync, readFileSync, readdirSync } = fsSync;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new InvalidParameterError('InvalidParameter.CachePath', `invalid CachePath: cannot create the directory ${dir}: ${(e as Error).message}`);
  }
  const k = new Uint8Array(key);
  const file = (name: string) => path.join(dir, wasm.secretCacheFileName(name, stage) as string);
  return {
    // Asynchronous: a refresh's fsyncs never block the event loop.
    async save(name, content) {
      const sealed = wasm.secretCacheSeal(k, name, stage, content) as Uint8Array;
      const target = file(name);
      await writeDurably(dir, target, `${target}.tmp-${process.pid}-${Math.random().toString(16).slice(2)}`, sealed);
    },
    load(name, nowMs, maxAgeMs) {
      let sealed: Uint8Array;
      try {
        sealed = readFileSync(file(name));
      } catch {
        return undefined; // no copy
      }
      return (wasm.secretCacheOpen(k, name, stage, sealed, nowMs, maxAgeMs) as Uint8Array | undefined) ?? undefined;
    },
    remove(name) {
      const files = name === undefined ? readdirSync(dir).filter((f) => f.endsWith('.srsc')).map((f) => path.join(dir, f)) : [file(name)];
      for (const f of files) {
        try {
          unlinkSync(f);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
      }
    },
  };
});

setPlatform({
  native: async () => wasm,
  openPath,
  openAuditFile,
  frameCipher: nodeCipher,
  toNodeDuplex: (t) => Duplex.fromWeb(t as unknown as import('node:stream/web').TransformStream),
});

export * from './api.js';
