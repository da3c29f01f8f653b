export class Emitter {
    #handlers = new Map();
    on(event, handler) {
        let set = this.#handlers.get(event);
        if (!set) {
            set = new Set();
            this.#handlers.set(event, set);
        }
        set.add(handler);
        return () => this.off(event, handler);
    }
    once(event, handler) {
        const off = this.on(event, (...args) => {
            off();
            handler(...args);
        });
        return off;
    }
    off(event, handler) {
        this.#handlers.get(event)?.delete(handler);
    }
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
