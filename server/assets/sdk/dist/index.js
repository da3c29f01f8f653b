export { Client } from './client.js';
export { Subscription } from './subscription.js';
export { ChorusError, ClosedError } from './errors.js';
