// Browser / bundler entry point: the wasm-bindgen `web` build, loaded once on first use.
import init, * as wasm from './wasm-web/strongroom_wasm.js';
import { setPlatform } from './api.js';

let ready: Promise<unknown> | undefined;
setPlatform({
  native: async () => {
    ready ??= init();
    await ready;
    return wasm;
  },
});

export * from './api.js';
