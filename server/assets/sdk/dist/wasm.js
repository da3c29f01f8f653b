import init from '../wasm/chorus_wasm.js';
export { WasmClient, serverFrameToJson } from '../wasm/chorus_wasm.js';
const wasmUrl = new URL('../wasm/chorus_wasm_bg.wasm', import.meta.url);
async function load() {
    const isNode = typeof process !== 'undefined' && !!process.versions?.node && wasmUrl.protocol === 'file:';
    if (isNode) {
        const { readFile } = await import('node:fs/promises');
        await init({ module_or_path: await readFile(wasmUrl) });
    }
    else {
        await init({ module_or_path: wasmUrl });
    }
}
await load();
