import type { ObjectReader } from '@parley/core';
import {
  type UnixAttestorConfig,
  type UnixAttestorDeps,
  UnixAttestor,
  readUnixAttestorConfig,
} from './unix-attestor.js';
import type { WorkloadAttestor } from './workload-attestor.js';

/** What the attestors of the table may be given by the composition root. */
export interface WorkloadAttestorDeps {
  readonly unix?: UnixAttestorDeps;
}

/** One kind of workload attestor: how its config is read and how it is made. */
export interface WorkloadAttestorKind<Config> {
  readConfig(reader: ObjectReader): Config;
  create(config: Config, deps: WorkloadAttestorDeps): WorkloadAttestor;
}

/**
 * Every workload attestor Parley has, by the name its config key and selector type carry
 * (STYLE rule 12: an explicit table; `k8s` joins it here).
 */
export const WORKLOAD_ATTESTORS = {
  unix: {
    readConfig: readUnixAttestorConfig,
    create: (config, deps) => new UnixAttestor(config, deps.unix),
  } satisfies WorkloadAttestorKind<UnixAttestorConfig>,
} as const;

/** The name of a workload attestor in the table. */
export type WorkloadAttestorName = keyof typeof WORKLOAD_ATTESTORS;

/** The agent's `workloadAttestors` config: one entry per enabled attestor, by name. */
export type WorkloadAttestorsConfig = {
  readonly [N in WorkloadAttestorName]?: ReturnType<(typeof WORKLOAD_ATTESTORS)[N]['readConfig']>;
};

/** Reads the `workloadAttestors` object: each key names an attestor of the table and enables it. */
export function readWorkloadAttestorsConfig(reader: ObjectReader): WorkloadAttestorsConfig {
  const config: { -readonly [N in WorkloadAttestorName]?: WorkloadAttestorsConfig[N] } = {};
  for (const name of Object.keys(WORKLOAD_ATTESTORS) as WorkloadAttestorName[]) {
    const child = reader.object(name);
    if (child !== undefined) config[name] = WORKLOAD_ATTESTORS[name].readConfig(child);
  }
  return config;
}

/** Makes the enabled attestors, in the table's order. */
export function createWorkloadAttestors(
  config: WorkloadAttestorsConfig,
  deps: WorkloadAttestorDeps = {},
): WorkloadAttestor[] {
  const attestors: WorkloadAttestor[] = [];
  for (const name of Object.keys(WORKLOAD_ATTESTORS) as WorkloadAttestorName[]) {
    const settings = config[name];
    if (settings !== undefined) attestors.push(WORKLOAD_ATTESTORS[name].create(settings, deps));
  }
  return attestors;
}
