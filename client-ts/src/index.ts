// @chorus/client for browsers and bundlers (Vite, webpack, Rollup, esbuild):
// the WebAssembly is fetched from next to this file, and the literal
// `new URL(..., import.meta.url)` below is what bundlers recognise to emit
// the .wasm file with the app. Node.js gets ./node.js instead (package.json
// `exports`).
import { init } from './init.js';

await init(new URL('../wasm/chorus_wasm_bg.wasm', import.meta.url));

export * from './api.js';
