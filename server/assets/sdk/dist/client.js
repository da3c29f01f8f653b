import { Emitter } from './emitter.js';
import { ChorusError, ClosedError, ErrorCode } from './errors.js';
import { encodeData } from './data.js';
import { Subscription } from './subscription.js';
import { WasmClient } from './wasm.js';
function unexpected(reply) {
    throw new ChorusError(ErrorCode.INTERNAL, `unexpected reply \`${reply.op}\``);
}
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
            connectData: options.connectData === undefined ? undefined : encodeData(options.connectData),
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
            this.#wasm = new WasmClient(first, wasmOptions, WebSocketImpl, (e) => this.#onEvent(e));
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
        return this.#request(() => this.#wasm.publish(channel, encodeData(data), options.idempotencyKey), (r) => (r.op === 'publish' ? r.result : unexpected(r)));
    }
    sendToUser(user, data) {
        return this.#request(() => this.#wasm.send(user, encodeData(data)), () => undefined);
    }
    broadcast(data) {
        return this.#request(() => this.#wasm.broadcast(encodeData(data)), () => undefined);
    }
    presence(channel) {
        return this.#request(() => this.#wasm.presence(channel), (r) => (r.op === 'presence' ? r.result : unexpected(r)));
    }
    presenceStats(channel) {
        return this.#request(() => this.#wasm.presenceStats(channel), (r) => (r.op === 'presence_stats' ? r.result : unexpected(r)));
    }
    history(channel, query = {}) {
        const { since } = query;
        return this.#request(() => this.#wasm.history(channel, query.limit, since?.offset, since?.epoch, query.reverse ?? false), (r) => (r.op === 'history' ? r.result : unexpected(r)));
    }
    rpc(method, data) {
        return this.#request(() => this.#wasm.rpc(method, encodeData(data)), (r) => (r.op === 'rpc' ? r.result : unexpected(r)));
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
            const settle = (reply) => {
                try {
                    resolve(pick(reply));
                }
                catch (e) {
                    reject(ChorusError.from(e));
                }
            };
            this.#pending.set(id, { resolve: settle, reject });
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
                const { state, reason } = event;
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
                const { failure } = event;
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
                const sub = this.#subs.get(event.channel);
                this.#subs.delete(event.channel);
                sub?.handle(event);
                break;
            }
            case 'message':
                this.emit('message', event.message);
                break;
            case 'inbox': {
                const { type: _, ...inbox } = event;
                this.emit('inbox', inbox);
                break;
            }
            case 'reply': {
                const pending = this.#pending.get(event.request);
                if (!pending)
                    break;
                this.#pending.delete(event.request);
                if (event.error !== undefined)
                    pending.reject(ChorusError.from(event.error));
                else if (event.reply !== undefined)
                    pending.resolve(event.reply);
                else
                    pending.reject(new ChorusError(ErrorCode.INTERNAL, 'a reply without a result'));
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
