export { WasmClient, serverFrameToJson } from '../wasm/chorus_wasm.js';
