/** A minimal typed event emitter: `on`, `once`, `off`. */
export class Emitter {
    #handlers = new Map();
    /** Calls `handler` for every `event`; returns a function that removes it. */
    on(event, handler) {
        let set = this.#handlers.get(event);
        if (!set) {
            set = new Set();
            this.#handlers.set(event, set);
        }
        set.add(handler);
        return () => this.off(event, handler);
    }
    /** Calls `handler` for the next `event` only. */
    once(event, handler) {
        const off = this.on(event, (...args) => {
            off();
            handler(...args);
        });
        return off;
    }
    /** Removes `handler`. */
    off(event, handler) {
        this.#handlers.get(event)?.delete(handler);
    }
    /** Calls every handler of `event`; a throwing handler does not stop the others. */
    emit(event, ...args) {
        const set = this.#handlers.get(event);
        if (!set)
            return;
        for (const handler of [...set]) {
            try {
                handler(...args);
            }
            catch (e) {
                queueMicrotask(() => {
                    throw e;
                });
            }
        }
    }
}
