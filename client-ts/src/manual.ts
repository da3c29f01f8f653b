// @chorus/client/manual: the same API without top-level await, for CommonJS
// (`require` on Node.js 20.19+ and 22.12+) and for setups that place the
// .wasm file themselves (esbuild, a CDN): call `await init(source)` once
// before `new Client(...)`.
export { init } from './init.js';
export * from './api.js';
