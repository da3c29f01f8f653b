// The public API, the same from every entry point.
export { Client } from './client.js';
export type { ClientEvents } from './client.js';
export { Subscription } from './subscription.js';
export type { SubscriptionEvents } from './subscription.js';
export { ChorusError, ClosedError, ErrorCode } from './errors.js';
export type * from './types.js';
export type { WasmSource } from './init.js';
