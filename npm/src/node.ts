// Node entry point: the wasm-bindgen `nodejs` build, and a file store whose writes are
// crash-safe (temp file, fsync, rename, fsync of the directory).
import wasm from './wasm-node/strongroom_wasm.js';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { setPlatform } from './api.js';

async function openPath(p: string) {
  const file = path.resolve(p);
  const dir = path.dirname(file);
  await fs.mkdir(dir, { recursive: true });
  let image: Uint8Array | undefined;
  try {
    image = new Uint8Array(await fs.readFile(file));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw { code: 'Rejected.StoreIo', message: `reading ${file}: ${(e as Error).message}` };
  }
  const save = async (data: Uint8Array) => {
    const tmp = `${file}.tmp`;
    const fh = await fs.open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, file);
    const d = await fs.open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  };
  return { image, save };
}

setPlatform({ native: async () => wasm, openPath });

export * from './api.js';
