import initWasm from '../wasm/chorus_wasm.js';
let loading;
export function init(source) {
    loading ??= initWasm({ module_or_path: source }).then(() => undefined, (e) => {
        loading = undefined;
        throw e;
    });
    return loading;
}
