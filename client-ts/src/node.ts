// @chorus/client for Node.js 20+: the WebAssembly is read from the package's
// files. Browser bundles never see this module (package.json `exports`).
import { readFile } from 'node:fs/promises';
import { init } from './init.js';

await init(await readFile(new URL('../wasm/chorus_wasm_bg.wasm', import.meta.url)));

export * from './api.js';
