import { Emitter } from './emitter.js';
import { ChorusError } from './errors.js';
import type { GapEvent, Membership, Publication, PublishResult, Recovery, SubscriptionState, UnsubscribeReason } from './types.js';
import type { WasmEvent } from './wasm.js';
import type { Client } from './client.js';

/** Events of one subscription. */
export interface SubscriptionEvents {
  /** A publication, once and in offset order (recovered ones first, after a reconnect). */
  publication: [Publication];
  /** Live publications skipped offsets; the client read them from history (delivered just before, if `recovered`). */
  gap: [GapEvent];
  /** Someone joined (channels with join/leave on). */
  join: [Membership];
  /** Someone left. */
  leave: [Membership];
  /** Live (again); `recovery` says whether missed publications were all delivered. */
  subscribed: [{ recovery: Recovery; data?: unknown }];
  /** Waiting for the server (also while reconnecting). */
  subscribing: [];
  /** Ended: by `unsubscribe()` (no error), by the server, or refused. */
  unsubscribed: [{ reason: UnsubscribeReason; error?: ChorusError }];
}

/** One channel subscription; create it with `client.subscribe(channel)`. */
export class Subscription extends Emitter<SubscriptionEvents> {
  /** The channel. */
  readonly channel: string;
  /** Resolves when the subscription is first live; rejects when it is refused. */
  readonly ready: Promise<void>;
  #client: Client;
  #settle: { resolve: () => void; reject: (e: ChorusError) => void } | undefined;

  /** @internal */
  constructor(client: Client, channel: string) {
    super();
    this.#client = client;
    this.channel = channel;
    this.ready = new Promise<void>((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    // A rejection nobody awaits must not crash Node.js or spam the console.
    this.ready.catch(() => {});
  }

  /** The state, from the shared state machine. */
  get state(): SubscriptionState {
    return this.#client.subscriptionState(this.channel);
  }

  /** Publishes to this channel. */
  publish(data: unknown, options?: { idempotencyKey?: string }): Promise<PublishResult> {
    return this.#client.publish(this.channel, data, options);
  }

  /** Leaves the channel. */
  unsubscribe(): void {
    this.#client.unsubscribe(this.channel);
  }

  /** @internal Routes one event of the wasm layer. */
  handle(event: WasmEvent): void {
    switch (event.type) {
      case 'ready':
        // The state machine's rule: first live, before anything it delivers.
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
