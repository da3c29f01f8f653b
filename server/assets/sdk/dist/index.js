import { init } from './init.js';
await init(new URL('../wasm/chorus_wasm_bg.wasm', import.meta.url));
export * from './api.js';
