// The wasm-bindgen bindings, re-exported for the API modules. Loading the
// WebAssembly is the entry points' job (index.ts, node.ts, manual.ts), so
// that code for one platform never ends up in another's bundle.
export { WasmClient, serverFrameToJson } from '../wasm/chorus_wasm.js';
export type { ErrorInfo, Reply, WasmEvent, WasmOptions } from '../wasm/chorus_wasm.js';
