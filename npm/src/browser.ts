// Browser / bundler entry point: the wasm-bindgen `web` build, its .wasm fetched from
// next to this module (`new URL(…, import.meta.url)`, which Vite and webpack 5 emit as
// an asset). Bundlers that do not (esbuild, plain Rollup) use strongroom/inline.
import init from './wasm-web/strongroom_wasm.js';
import { installBrowserPlatform } from './browser-platform.js';

installBrowserPlatform(() => init());

export * from './api.js';
