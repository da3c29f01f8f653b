// esbuild leaves `new URL(..., import.meta.url)` alone: the app imports the
// .wasm with the file loader (`--loader:.wasm=file`) and hands its URL to init().
import { Client, init } from '@chorus/client/manual';
import wasm from '@chorus/client/chorus_wasm_bg.wasm';
import { run } from './run.js';

await init(new URL(wasm, import.meta.url));
run(Client);
