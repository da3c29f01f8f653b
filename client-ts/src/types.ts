// The values the client hands to the application. What crosses the wasm
// boundary is typed from the Rust structs that build it (client-wasm's
// events.rs and options.rs, through tsify): those types are re-exported here,
// so the declarations and the values cannot drift apart. Field names are the
// wire protocol's (docs/protocol.md), so what a server sends is what you read.

import type { WasmEvent } from '../wasm/chorus_wasm.js';

export type {
  ClientInfo,
  CloseReason,
  Codec,
  ConnectionFailure,
  ConnectionState,
  ConnectResult,
  Data,
  HistoryResult,
  Membership,
  Message,
  PresenceStats,
  Publication,
  PublishResult,
  Recovery,
  StreamPosition,
  SubscriptionState,
  UnsubscribeReason,
} from '../wasm/chorus_wasm.js';
import type { Codec, Data, StreamPosition } from '../wasm/chorus_wasm.js';

/** Which page of history to read. */
export interface HistoryQuery {
  /** At most this many publications (the server caps it). */
  limit?: number;
  /** Only publications after this position. */
  since?: StreamPosition;
  /** Newest first. */
  reverse?: boolean;
}

/** The event of the wasm layer whose `type` is `T`, without it. */
type EventOf<T extends WasmEvent['type']> = Omit<Extract<WasmEvent, { type: T }>, 'type'>;

/** Live publications skipped `first`..`last`; they were read from history: all delivered just before (`recovered`), or lost. */
export type GapEvent = Omit<EventOf<'gap'>, 'channel'>;

/** The inbox outcome after a connect: were the messages missed while away all delivered? */
export type InboxEvent = EventOf<'inbox'>;

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
