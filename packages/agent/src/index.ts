/** The node agent. */
export {};
