/** Selectors are core's: one definition for attestors, the cache and the store. */
export { type Selector, formatSelector, parseSelector } from '@parley/core';
