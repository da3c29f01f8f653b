import { Emitter } from './emitter.js';
import { ChorusError, ClosedError, ErrorCode } from './errors.js';
import { encodeData } from './data.js';
import { Subscription } from './subscription.js';
import { WasmClient } from './wasm.js';
export class Client extends Emitter {
    url;
    urls;
    #wasm;
    #getToken;
    #pending = new Map();
    #subs = new Map();
    #waiters = [];
    #lastClose;
    #freed = false;
    constructor(url, options = {}) {
        super();
        const urls = typeof url === 'string' ? [url] : [...url];
        const first = urls[0];
        if (first === undefined)
            throw new TypeError('no URL given');
        this.url = first;
        this.urls = urls;
        this.#getToken = options.getToken;
        const WebSocketImpl = options.WebSocket ?? globalThis.WebSocket;
        if (!WebSocketImpl) {
            throw new TypeError('no WebSocket implementation: pass options.WebSocket (for example the ws package on Node.js 20)');
        }
        const wasmOptions = {
            urls,
            codec: options.codec,
            token: options.token,
            tokenProvider: options.getToken !== undefined,
            connectData: options.connectData === undefined ? undefined : JSON.stringify(options.connectData),
            name: options.name,
            version: options.version,
            minReconnectDelayMs: options.minReconnectDelayMs,
            maxReconnectDelayMs: options.maxReconnectDelayMs,
            requestTimeoutMs: options.requestTimeoutMs,
            connectTimeoutMs: options.connectTimeoutMs,
            pingGraceMs: options.pingGraceMs,
            maxQueued: options.maxQueued,
            refreshMarginMs: options.refreshMarginMs,
            maxBufferedPublications: options.maxBufferedPublications,
            inboxSince: options.inboxSince,
        };
        try {
            this.#wasm = new WasmClient(first, JSON.stringify(wasmOptions), WebSocketImpl, (e) => this.#onEvent(e));
        }
        catch (e) {
            throw new TypeError(e instanceof Error ? e.message : String(e));
        }
    }
    get state() {
        return this.#freed ? 'closed' : this.#wasm.state();
    }
    get lastClose() {
        return this.#lastClose;
    }
    get inboxPosition() {
        return this.#freed ? undefined : this.#wasm.inboxPosition();
    }
    connect() {
        this.#live();
        if (this.state === 'connected')
            return Promise.resolve();
        const connected = new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
        this.#wasm.connect();
        return connected;
    }
    disconnect() {
        if (!this.#freed)
            this.#wasm.disconnect();
    }
    close() {
        if (this.#freed)
            return;
        this.#wasm.disconnect();
        this.#freed = true;
        this.#wasm.free();
        for (const p of this.#pending.values())
            p.reject(new ChorusError(ErrorCode.CLIENT_CLOSED, 'client closed'));
        this.#pending.clear();
    }
    subscribe(channel, options = {}) {
        this.#live();
        const data = options.data === undefined ? undefined : encodeData(options.data);
        const { since } = options;
        if (this.#subs.has(channel)) {
            this.#throwing(() => this.#wasm.subscribe(channel, data, since?.offset, since?.epoch));
        }
        const sub = new Subscription(this, channel);
        this.#subs.set(channel, sub);
        try {
            this.#throwing(() => this.#wasm.subscribe(channel, data, since?.offset, since?.epoch));
        }
        catch (e) {
            this.#subs.delete(channel);
            throw e;
        }
        return sub;
    }
    getSubscription(channel) {
        return this.#subs.get(channel);
    }
    unsubscribe(channel) {
        if (!this.#freed)
            this.#wasm.unsubscribe(channel);
    }
    subscriptionState(channel) {
        return this.#freed ? 'unsubscribed' : this.#wasm.subscriptionState(channel);
    }
    publish(channel, data, options = {}) {
        return this.#request(() => this.#wasm.publish(channel, encodeData(data), options.idempotencyKey), (b) => b);
    }
    sendToUser(user, data) {
        return this.#request(() => this.#wasm.send(user, encodeData(data)), () => undefined);
    }
    broadcast(data) {
        return this.#request(() => this.#wasm.broadcast(encodeData(data)), () => undefined);
    }
    presence(channel) {
        return this.#request(() => this.#wasm.presence(channel), (b) => b.clients ?? []);
    }
    presenceStats(channel) {
        return this.#request(() => this.#wasm.presenceStats(channel), (b) => b);
    }
    history(channel, query = {}) {
        const { since } = query;
        return this.#request(() => this.#wasm.history(channel, query.limit, since?.offset, since?.epoch, query.reverse ?? false), (b) => ({ position: b.position, publications: b.publications ?? [] }));
    }
    rpc(method, data) {
        return this.#request(() => this.#wasm.rpc(method, encodeData(data)), (b) => b.data);
    }
    ping() {
        return this.#request(() => this.#wasm.ping(), () => undefined);
    }
    #live() {
        if (this.#freed)
            throw new ChorusError(ErrorCode.CLIENT_CLOSED, 'client closed');
    }
    #throwing(f) {
        try {
            return f();
        }
        catch (e) {
            throw ChorusError.from(e);
        }
    }
    #request(send, pick) {
        let id;
        try {
            this.#live();
            id = this.#throwing(send);
        }
        catch (e) {
            return Promise.reject(e);
        }
        return new Promise((resolve, reject) => {
            this.#pending.set(id, { resolve: (body) => resolve(pick(body)), reject });
        });
    }
    #settleWaiters(error) {
        const waiters = this.#waiters;
        this.#waiters = [];
        for (const w of waiters) {
            if (error)
                w.reject(error);
            else
                w.resolve();
        }
    }
    #onEvent(event) {
        switch (event.type) {
            case 'state': {
                const state = event.state;
                const reason = event.reason;
                if (reason)
                    this.#lastClose = reason;
                if (state === 'closed')
                    this.#settleWaiters(new ClosedError(reason));
                if (state === 'disconnected')
                    this.#settleWaiters(new ClosedError(reason, 'disconnect() was called'));
                this.emit('state', state, reason);
                if (state === 'connecting')
                    this.emit('connecting', reason);
                if (state === 'closed' || state === 'disconnected')
                    this.emit('disconnected', reason);
                break;
            }
            case 'failure': {
                const { type: _, ...failure } = event;
                const { code, name, reason } = failure;
                this.#lastClose = { code, name, reason };
                this.emit('error', failure);
                break;
            }
            case 'connected':
                this.#settleWaiters(undefined);
                this.emit('connected', event.result);
                break;
            case 'publication':
                this.#subs.get(event.publication.channel)?.handle(event);
                break;
            case 'join':
            case 'leave':
                this.#subs.get(event.membership.channel)?.handle(event);
                break;
            case 'ready':
            case 'subscribing':
            case 'subscribed':
            case 'gap':
                this.#subs.get(event.channel)?.handle(event);
                break;
            case 'unsubscribed': {
                const channel = event.channel;
                const sub = this.#subs.get(channel);
                this.#subs.delete(channel);
                sub?.handle(event);
                break;
            }
            case 'message':
                this.emit('message', event.message);
                break;
            case 'inbox':
                this.emit('inbox', { recovery: event.recovery, position: event.position });
                break;
            case 'reply': {
                const id = event.request;
                const pending = this.#pending.get(id);
                if (!pending)
                    break;
                this.#pending.delete(id);
                if (event.error !== undefined)
                    pending.reject(ChorusError.from(event.error));
                else
                    pending.resolve(event.body ?? {});
                break;
            }
            case 'warning':
                this.emit('warning', event.message);
                break;
            case 'fetch_token':
                this.#fetchToken();
                break;
        }
    }
    #fetchToken() {
        const getToken = this.#getToken;
        if (!getToken) {
            this.#wasm.tokenFailed('no getToken option', false);
            return;
        }
        getToken().then((token) => {
            if (!this.#freed)
                this.#wasm.setToken(token);
        }, (e) => {
            if (this.#freed)
                return;
            const temporary = e instanceof ChorusError ? e.temporary : true;
            this.#wasm.tokenFailed(e instanceof Error ? e.message : String(e), temporary);
        });
    }
}
