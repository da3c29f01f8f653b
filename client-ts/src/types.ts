// The values the client hands to the application. Field names are the wire
// protocol's (docs/protocol.md), so what a server sends is what you read.

/** Wire codec: JSON text frames or MessagePack binary frames. */
export type Codec = 'json' | 'msgpack';

/** Connection states, as the shared state machine defines them. */
export type ConnectionState = 'disconnected' | 'connecting' | 'connected' | 'closed';

/** Subscription states. */
export type SubscriptionState = 'unsubscribed' | 'subscribing' | 'subscribed';

/** What a (re)subscribe achieved: nothing to recover, every missed publication, or a gap. */
export type Recovery = 'fresh' | 'recovered' | 'unrecoverable';

/**
 * Application data as received. JSON data arrives as the value it encodes;
 * bytes that are not JSON arrive in the protocol's form `{ $bytes: "<base64>" }`.
 */
export type Data = unknown;

/** A position in a channel's (or an inbox's) stream. */
export interface StreamPosition {
  offset: number;
  epoch: string;
}

/** Who published or joined. */
export interface ClientInfo {
  user: string;
  client: string;
  info?: Data;
}

/** A publication in a subscribed channel. */
export interface Publication {
  channel: string;
  offset?: number;
  epoch?: string;
  data: Data;
  info?: ClientInfo;
}

/** A join or a leave. */
export interface Membership {
  channel: string;
  info: ClientInfo;
}

/** A message sent to this user, or a broadcast. */
export interface Message {
  data: Data;
  from?: ClientInfo;
  broadcast?: boolean;
  offset?: number;
  epoch?: string;
}

/** Why a connection ended: a close code from the protocol's table. */
export interface CloseReason {
  code: number;
  /** The code's stable name, e.g. `token_expired`. */
  name: string;
  reason: string;
}

/**
 * A failed connection attempt or a lost connection (the client's `error`
 * event, one per failure): the close code and reason, and what comes next.
 */
export interface ConnectionFailure extends CloseReason {
  /** The node URL of the attempt. */
  url: string;
  /** Consecutive failures since the client was last connected (1 for the first). */
  attempt: number;
  /** Milliseconds until the next attempt; absent when the failure is terminal. */
  retryInMs?: number;
}

/** The server's answer to `connect`. */
export interface ConnectResult {
  /** This connection's id, unique across the cluster. */
  client: string;
  /** The authenticated user (`sub` of the token; empty when anonymous). */
  user: string;
  /** The server's version. */
  version: string;
  /** How often the server pings (0: never); the client watches for it. */
  pingIntervalMs: number;
  /** When the token expires, in milliseconds from now; the client refreshes it before. */
  expiresInMs?: number;
  /** Data from the server's `on_connect` hook. */
  data?: Data;
}

/** The answer to `publish`. */
export interface PublishResult {
  position?: StreamPosition;
  duplicate?: boolean;
}

/** The answer to `presenceStats`. */
export interface PresenceStats {
  clients: number;
  users: number;
}

/** A page of history. */
export interface HistoryResult {
  position: StreamPosition;
  publications: Publication[];
}

/** Which page of history to read. */
export interface HistoryQuery {
  /** At most this many publications (the server caps it). */
  limit?: number;
  /** Only publications after this position. */
  since?: StreamPosition;
  /** Newest first. */
  reverse?: boolean;
}

/** Live publications skipped `first`..`last`; they were read from history: all delivered just before (`recovered`), or lost. */
export interface GapEvent {
  first: number;
  last: number;
  recovered: boolean;
}

/** The inbox outcome after a connect: were the messages missed while away all delivered? */
export interface InboxEvent {
  recovery: Recovery;
  position?: StreamPosition;
}

/** A WebSocket constructor: the browser's, Node's global one, or the `ws` package's. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => unknown;

/** Client options; every one is optional. Names match the other SDKs. */
export interface ClientOptions {
  /** A JWT sent with `connect`. */
  token?: string;
  /** Called for a token before connecting without one, before it expires, and after it expired. */
  getToken?: () => Promise<string>;
  /** Wire codec; default `json`. */
  codec?: Codec;
  /** Application data for the server's `on_connect` hook. */
  connectData?: Data;
  /** Client name sent in `connect` (default `chorus-js`). */
  name?: string;
  /** Client version sent in `connect`. */
  version?: string;
  /** Cap of the first reconnect delay (default 500 ms); retry n waits a random time in [0, min(max, min × 2^n)]. */
  minReconnectDelayMs?: number;
  /** Largest reconnect delay cap (default 20 s). */
  maxReconnectDelayMs?: number;
  /** How long a request may wait for its reply (default 10 s). */
  requestTimeoutMs?: number;
  /** How long opening the socket plus `connect` may take (default 10 s). */
  connectTimeoutMs?: number;
  /** Time allowed after a missed server ping before reconnecting (default 10 s). */
  pingGraceMs?: number;
  /** Requests kept while reconnecting; 0 fails them at once (default 1000). */
  maxQueued?: number;
  /** Refresh the token this long before it expires (default 10 s). */
  refreshMarginMs?: number;
  /** Live publications buffered per channel while its subscribe is in flight (default 1000). */
  maxBufferedPublications?: number;
  /** An inbox position persisted from an earlier run. */
  inboxSince?: StreamPosition;
  /** The WebSocket implementation (default: `globalThis.WebSocket`). */
  WebSocket?: WebSocketConstructor;
}

/** Options of one subscription. */
export interface SubscribeOptions {
  /** Data for the server's `on_subscribe` hook. */
  data?: Data;
  /** Recover every publication after this position (e.g. persisted across page loads). */
  since?: StreamPosition;
}
