// @chorus/client: the Chorus client for browsers and Node.js 20+.
export { Client } from './client.js';
export type { ClientEvents } from './client.js';
export { Subscription } from './subscription.js';
export type { SubscriptionEvents } from './subscription.js';
export { ChorusError, ClosedError, ErrorCode } from './errors.js';
export type * from './types.js';
