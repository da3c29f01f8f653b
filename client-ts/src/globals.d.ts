// The few Node.js names the loader uses, declared here so that the package
// needs no @types/node and type-checks for browsers too.
declare const process: { versions?: { node?: string } } | undefined;
declare module 'node:fs/promises' {
  export function readFile(path: URL): Promise<Uint8Array>;
}
