// @chorus/client: the Chorus client for browsers and Node.js 20+.
export { Client } from './client.js';
export { Subscription } from './subscription.js';
export { ChorusError, ClosedError } from './errors.js';
