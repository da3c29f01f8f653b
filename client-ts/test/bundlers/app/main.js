// The default entry: the bundler emits the .wasm from the package's
// `new URL(..., import.meta.url)` (Vite, webpack, Rollup with its plugin).
import { Client } from '@chorus/client';
import { run } from './run.js';

run(Client);
