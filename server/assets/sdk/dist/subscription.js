import { Emitter } from './emitter.js';
import { ChorusError } from './errors.js';
export class Subscription extends Emitter {
    channel;
    ready;
    #client;
    #settle;
    constructor(client, channel) {
        super();
        this.#client = client;
        this.channel = channel;
        this.ready = new Promise((resolve, reject) => {
            this.#settle = { resolve, reject };
        });
        this.ready.catch(() => { });
    }
    get state() {
        return this.#client.subscriptionState(this.channel);
    }
    publish(data, options) {
        return this.#client.publish(this.channel, data, options);
    }
    unsubscribe() {
        this.#client.unsubscribe(this.channel);
    }
    handle(event) {
        switch (event.type) {
            case 'ready':
                this.#settle?.resolve();
                this.#settle = undefined;
                break;
            case 'publication':
                this.emit('publication', event.publication);
                break;
            case 'gap':
                this.emit('gap', { first: event.first, last: event.last, recovered: event.recovered });
                break;
            case 'join':
                this.emit('join', event.membership);
                break;
            case 'leave':
                this.emit('leave', event.membership);
                break;
            case 'subscribing':
                this.emit('subscribing');
                break;
            case 'subscribed':
                this.emit('subscribed', { recovery: event.recovery, data: event.data });
                break;
            case 'unsubscribed': {
                const { reason } = event;
                const error = event.error === undefined ? undefined : ChorusError.from(event.error);
                if (this.#settle) {
                    this.#settle.reject(error ?? new ChorusError(0, 'unsubscribed before it was live'));
                    this.#settle = undefined;
                }
                this.emit('unsubscribed', error ? { reason, error } : { reason });
                break;
            }
        }
    }
}
