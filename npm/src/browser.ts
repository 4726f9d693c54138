// Browser / bundler entry point: the wasm-bindgen `web` build, loaded once on first use.
import init, * as wasm from './wasm-web/strongroom_wasm.js';
import { setPlatform } from './api.js';
import { webCryptoCipher } from './envelope.js';

let ready: Promise<unknown> | undefined;
setPlatform({
  native: async () => {
    ready ??= init();
    await ready;
    return wasm;
  },
  // WebCrypto needs a secure context; elsewhere the wasm core's AES-GCM runs the frames.
  frameCipher: globalThis.crypto?.subtle ? webCryptoCipher : undefined,
});

export * from './api.js';
