import { Emitter } from './emitter.js';
import { ChorusError, ClosedError, ErrorCode } from './errors.js';
import { encodeData } from './data.js';
import { Subscription } from './subscription.js';
import { WasmClient } from './wasm.js';
import type { Reply, WasmEvent, WasmOptions } from './wasm.js';
import type {
  ClientInfo,
  ClientOptions,
  CloseReason,
  ConnectResult,
  ConnectionFailure,
  ConnectionState,
  HistoryQuery,
  HistoryResult,
  InboxEvent,
  Message,
  PresenceStats,
  PublishResult,
  StreamPosition,
  SubscribeOptions,
  SubscriptionState,
  WebSocketConstructor,
} from './types.js';

/** Events of the client. */
export interface ClientEvents {
  /** The connection state changed; `reason` explains a loss or a terminal close. */
  state: [ConnectionState, CloseReason | undefined];
  /** Authenticated (after the first connect and after every reconnect). */
  connected: [ConnectResult];
  /**
   * Connecting: after `connect()`, or after a lost connection (with its reason)
   * while the client retries.
   */
  connecting: [CloseReason | undefined];
  /**
   * Not connected and not retrying: after `disconnect()`, or closed for good by
   * a terminal failure (with its reason; the state is then `closed`).
   */
  disconnected: [CloseReason | undefined];
  /**
   * A connection attempt failed or the connection was lost (refused, closed
   * with a code, timed out, refused by the server), before the state event it
   * leads to. While `connect()` waits through retries, this is where a wrong
   * URL or a node that is down shows.
   */
  error: [ConnectionFailure];
  /** A message sent to this user, or a broadcast. */
  message: [Message];
  /** After each connect to a server that keeps inboxes. */
  inbox: [InboxEvent];
  /** The server sent something this client could not use; it was ignored. */
  warning: [string];
}

interface Pending {
  resolve: (reply: Reply) => void;
  reject: (error: ChorusError) => void;
}

/** A reply of another operation than the request's: a bug of the wasm layer. */
function unexpected(reply: Reply): never {
  throw new ChorusError(ErrorCode.INTERNAL, `unexpected reply \`${reply.op}\``);
}

/**
 * A Chorus client. Reconnects with backoff, resubscribes and recovers missed
 * publications by itself (the shared state machine of every Chorus SDK, run
 * as WebAssembly); this class turns its events into promises and emitters.
 */
export class Client extends Emitter<ClientEvents> {
  /** The WebSocket URL of the first node. */
  readonly url: string;
  /** Every node URL: after a failed attempt or a lost connection the client moves on to the next. */
  readonly urls: readonly string[];
  #wasm: WasmClient;
  #getToken: (() => Promise<string>) | undefined;
  #pending = new Map<number, Pending>();
  #subs = new Map<string, Subscription>();
  #waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  #lastClose: CloseReason | undefined;
  #freed = false;

  /** A client of one node (or a load balancer), or of several nodes of one cluster tried in turn. */
  constructor(url: string | readonly string[], options: ClientOptions = {}) {
    super();
    const urls = typeof url === 'string' ? [url] : [...url];
    const first = urls[0];
    if (first === undefined) throw new TypeError('no URL given');
    this.url = first;
    this.urls = urls;
    this.#getToken = options.getToken;
    const WebSocketImpl: WebSocketConstructor | undefined =
      options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WebSocketImpl) {
      throw new TypeError('no WebSocket implementation: pass options.WebSocket (for example the ws package on Node.js 20)');
    }
    const wasmOptions: WasmOptions = {
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
      this.#wasm = new WasmClient(first, wasmOptions, WebSocketImpl as unknown as Function, (e) => this.#onEvent(e));
    } catch (e) {
      throw new TypeError(e instanceof Error ? e.message : String(e));
    }
  }

  /** The connection state. */
  get state(): ConnectionState {
    return this.#freed ? 'closed' : this.#wasm.state();
  }

  /** Why the connection was last lost or closed, if it was. */
  get lastClose(): CloseReason | undefined {
    return this.#lastClose;
  }

  /** The inbox position to persist, so a later `inboxSince` replays what was missed. */
  get inboxPosition(): StreamPosition | undefined {
    return this.#freed ? undefined : this.#wasm.inboxPosition();
  }

  /**
   * Connects, and keeps reconnecting after losses. Resolves once connected;
   * rejects with a {@link ClosedError} when a terminal close code stops it,
   * or when `disconnect()` is called first.
   */
  connect(): Promise<void> {
    this.#live();
    if (this.state === 'connected') return Promise.resolve();
    const connected = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    this.#wasm.connect();
    return connected;
  }

  /** Closes the connection and stops reconnecting; `connect()` resumes, subscriptions included. */
  disconnect(): void {
    if (!this.#freed) this.#wasm.disconnect();
  }

  /** Disconnects and releases the WebAssembly resources; the client cannot be used again. */
  close(): void {
    if (this.#freed) return;
    this.#wasm.disconnect();
    this.#freed = true;
    this.#wasm.free();
    for (const p of this.#pending.values()) p.reject(new ChorusError(ErrorCode.CLIENT_CLOSED, 'client closed'));
    this.#pending.clear();
  }

  /**
   * Subscribes to `channel`. The subscription survives reconnects (with
   * recovery) until `unsubscribe()`; await `sub.ready` to know it is live.
   */
  subscribe(channel: string, options: SubscribeOptions = {}): Subscription {
    this.#live();
    const data = options.data === undefined ? undefined : encodeData(options.data);
    const { since } = options;
    if (this.#subs.has(channel)) {
      // The machine refuses a second subscription with a typed error.
      this.#throwing(() => this.#wasm.subscribe(channel, data, since?.offset, since?.epoch));
    }
    const sub = new Subscription(this, channel);
    this.#subs.set(channel, sub);
    try {
      this.#throwing(() => this.#wasm.subscribe(channel, data, since?.offset, since?.epoch));
    } catch (e) {
      this.#subs.delete(channel);
      throw e;
    }
    return sub;
  }

  /** The live subscription to `channel`, if any. */
  getSubscription(channel: string): Subscription | undefined {
    return this.#subs.get(channel);
  }

  /** Leaves `channel`. */
  unsubscribe(channel: string): void {
    if (!this.#freed) this.#wasm.unsubscribe(channel);
  }

  /** The state of the subscription to `channel`. */
  subscriptionState(channel: string): SubscriptionState {
    return this.#freed ? 'unsubscribed' : this.#wasm.subscriptionState(channel);
  }

  /** Publishes `data` (any JSON value, or a Uint8Array) to `channel`. */
  publish(channel: string, data: unknown, options: { idempotencyKey?: string } = {}): Promise<PublishResult> {
    return this.#request(
      () => this.#wasm.publish(channel, encodeData(data), options.idempotencyKey),
      (r) => (r.op === 'publish' ? r.result : unexpected(r)),
    );
  }

  /** Sends `data` to every connection of `user`, on any node. */
  sendToUser(user: string, data: unknown): Promise<void> {
    return this.#request(() => this.#wasm.send(user, encodeData(data)), () => undefined);
  }

  /** Sends `data` to every connection (needs the broadcast permission). */
  broadcast(data: unknown): Promise<void> {
    return this.#request(() => this.#wasm.broadcast(encodeData(data)), () => undefined);
  }

  /** Every connection subscribed to `channel`, on every node. */
  presence(channel: string): Promise<ClientInfo[]> {
    return this.#request(
      () => this.#wasm.presence(channel),
      (r) => (r.op === 'presence' ? r.result : unexpected(r)),
    );
  }

  /** How many connections and distinct users are subscribed to `channel`. */
  presenceStats(channel: string): Promise<PresenceStats> {
    return this.#request(
      () => this.#wasm.presenceStats(channel),
      (r) => (r.op === 'presence_stats' ? r.result : unexpected(r)),
    );
  }

  /** A page of the history of `channel`. */
  history(channel: string, query: HistoryQuery = {}): Promise<HistoryResult> {
    const { since } = query;
    return this.#request(
      () => this.#wasm.history(channel, query.limit, since?.offset, since?.epoch, query.reverse ?? false),
      (r) => (r.op === 'history' ? r.result : unexpected(r)),
    );
  }

  /** Calls the server's RPC handler `method`; resolves with its data. */
  rpc(method: string, data: unknown): Promise<unknown> {
    return this.#request(
      () => this.#wasm.rpc(method, encodeData(data)),
      (r) => (r.op === 'rpc' ? r.result : unexpected(r)),
    );
  }

  /** A round trip to the server. */
  ping(): Promise<void> {
    return this.#request(() => this.#wasm.ping(), () => undefined);
  }

  #live(): void {
    if (this.#freed) throw new ChorusError(ErrorCode.CLIENT_CLOSED, 'client closed');
  }

  #throwing<T>(f: () => T): T {
    try {
      return f();
    } catch (e) {
      throw ChorusError.from(e);
    }
  }

  #request<T>(send: () => number, pick: (reply: Reply) => T): Promise<T> {
    let id: number;
    try {
      this.#live();
      id = this.#throwing(send);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<T>((resolve, reject) => {
      const settle = (reply: Reply) => {
        try {
          resolve(pick(reply));
        } catch (e) {
          reject(ChorusError.from(e));
        }
      };
      this.#pending.set(id, { resolve: settle, reject });
    });
  }

  #settleWaiters(error: Error | undefined): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      if (error) w.reject(error);
      else w.resolve();
    }
  }

  #onEvent(event: WasmEvent): void {
    switch (event.type) {
      case 'state': {
        const { state, reason } = event;
        if (reason) this.#lastClose = reason;
        if (state === 'closed') this.#settleWaiters(new ClosedError(reason));
        if (state === 'disconnected') this.#settleWaiters(new ClosedError(reason, 'disconnect() was called'));
        this.emit('state', state, reason);
        if (state === 'connecting') this.emit('connecting', reason);
        if (state === 'closed' || state === 'disconnected') this.emit('disconnected', reason);
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
        if (!pending) break;
        this.#pending.delete(event.request);
        if (event.error !== undefined) pending.reject(ChorusError.from(event.error));
        else if (event.reply !== undefined) pending.resolve(event.reply);
        else pending.reject(new ChorusError(ErrorCode.INTERNAL, 'a reply without a result'));
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

  #fetchToken(): void {
    const getToken = this.#getToken;
    if (!getToken) {
      this.#wasm.tokenFailed('no getToken option', false);
      return;
    }
    getToken().then(
      (token) => {
        if (!this.#freed) this.#wasm.setToken(token);
      },
      (e: unknown) => {
        if (this.#freed) return;
        const temporary = e instanceof ChorusError ? e.temporary : true;
        this.#wasm.tokenFailed(e instanceof Error ? e.message : String(e), temporary);
      },
    );
  }
}
