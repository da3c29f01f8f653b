export { Client } from './client.js';
export { Subscription } from './subscription.js';
export { ChorusError, ClosedError, ErrorCode } from './errors.js';
