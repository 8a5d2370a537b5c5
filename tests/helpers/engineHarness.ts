/**
 * The engine process started for real from its TypeScript source (through tsx), as the web host
 * starts the built one: tests exercise the same supervision and protocol without a build step.
 */
import { join, resolve } from 'node:path';
import { forkEngine } from '../../src/main/platform/node/forkEngine';
import type { SpawnEngine } from '../../src/main/services/generation/EngineClient';

const repoRoot = resolve(import.meta.dirname, '../..');

export function spawnTestEngine(): SpawnEngine {
  return forkEngine(join(repoRoot, 'src/main/engine/process/engineProcess.ts'), ['--import', 'tsx']);
}
