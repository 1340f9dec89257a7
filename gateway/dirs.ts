// Where a command's files are: the config dir (--config, default cwd), the data dir and its state dir.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Io } from './io.js';
import { loadEffectiveConfig } from './policy/layers.js';

/** Config dir from --config (default cwd); data dir from tollgate.json `dataDir` (default `<config>/.tollgate`). */
export async function resolveDirs(config: string | undefined, io: Io): Promise<{ configDir: string; dataDir: string; stateDir: string; effective: Awaited<ReturnType<typeof loadEffectiveConfig>> }> {
  const configDir = resolve(io.cwd, config ?? '.');
  const effective = await loadEffectiveConfig({ configDir, env: io.env });
  const dataDir = effective.config.dataDir;
  const stateDir = join(dataDir, 'state');
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  return { configDir, dataDir, stateDir, effective };
}

