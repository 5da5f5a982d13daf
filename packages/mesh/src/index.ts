/** The mesh module: Git-backed intent compiled to xDS and served over ADS. */
export {};
