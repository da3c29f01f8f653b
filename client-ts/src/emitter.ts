/** A handler as stored: the typed signatures are checked at `on` and `emit`. */
type Handler = (...args: unknown[]) => void;

/** A minimal typed event emitter: `on`, `once`, `off`. */
export class Emitter<Events extends { [K in keyof Events]: unknown[] }> {
  #handlers = new Map<keyof Events, Set<Handler>>();

  /** Calls `handler` for every `event`; returns a function that removes it. */
  on<K extends keyof Events>(event: K, handler: (...args: Events[K]) => void): () => void {
    let set = this.#handlers.get(event);
    if (!set) {
      set = new Set();
      this.#handlers.set(event, set);
    }
    set.add(handler as unknown as Handler);
    return () => this.off(event, handler);
  }

  /** Calls `handler` for the next `event` only. */
  once<K extends keyof Events>(event: K, handler: (...args: Events[K]) => void): () => void {
    const off = this.on(event, (...args) => {
      off();
      handler(...args);
    });
    return off;
  }

  /** Removes `handler`. */
  off<K extends keyof Events>(event: K, handler: (...args: Events[K]) => void): void {
    this.#handlers.get(event)?.delete(handler as unknown as Handler);
  }

  /** Calls every handler of `event`; a throwing handler does not stop the others. */
  protected emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    const set = this.#handlers.get(event);
    if (!set) return;
    for (const handler of [...set]) {
      try {
        handler(...(args as unknown[]));
      } catch (e) {
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }
}
