/** The identity server module. */
export {};
