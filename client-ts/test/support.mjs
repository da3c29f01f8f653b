// What the SDK's tests share: the package itself and a waiter for events.
import { deadline } from '../../testkit/js/harness.mjs';

export * from '../../testkit/js/harness.mjs';

/**
 * Collects the events `emitter` emits under `name`; `until(n)` resolves once
 * `n` have arrived (or rejects at the deadline, naming what was seen).
 */
export function collect(emitter, name, map = (x) => x) {
  const seen = [];
  let wake = () => {};
  emitter.on(name, (...args) => {
    seen.push(map(...args));
    wake();
  });
  return {
    seen,
    /** Resolves with everything seen once `n` events arrived, or once one satisfies `n` (a predicate). */
    until(n, what = typeof n === 'function' ? `a matching ${name} event` : `${n} ${name} events`) {
      const done = typeof n === 'function' ? () => seen.some(n) : () => seen.length >= n;
      return deadline(
        new Promise((resolve) => {
          const check = () => {
            if (done()) resolve(seen.slice());
          };
          wake = check;
          check();
        }),
        `${what} (seen: ${JSON.stringify(seen)})`,
      );
    },
  };
}

/** Resolves when `client` emits the state `want` (at once if it is in it). */
export function reachState(client, want) {
  if (client.state === want) return Promise.resolve();
  return deadline(
    new Promise((resolve) => {
      const off = client.on('state', (s) => {
        if (s === want) {
          off();
          resolve();
        }
      });
    }),
    `state ${want} (now ${client.state})`,
  );
}
