export { init } from './init.js';
export * from './api.js';
