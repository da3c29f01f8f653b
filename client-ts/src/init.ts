// Instantiating the WebAssembly module, once, from whatever source the entry
// point has: a URL (browsers, bundlers), bytes (Node.js), or a compiled module.
import initWasm from '../wasm/chorus_wasm.js';

/** Where the WebAssembly comes from: its URL, its bytes, or a compiled module. */
export type WasmSource = URL | string | Request | Response | BufferSource | WebAssembly.Module;

let loading: Promise<void> | undefined;

/**
 * Loads the SDK's WebAssembly. The default entry points call it for you; with
 * `@chorus/client/manual`, call it once before `new Client(...)`. Later calls
 * return the first call's promise, unless it failed: then they try again.
 */
export function init(source: WasmSource): Promise<void> {
  loading ??= initWasm({ module_or_path: source }).then(
    () => undefined,
    (e: unknown) => {
      // A failed load (a wrong URL, a network error) may be retried.
      loading = undefined;
      throw e;
    },
  );
  return loading;
}
