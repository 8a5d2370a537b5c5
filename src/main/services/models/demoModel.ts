/**
 * The built-in demo model: a tiny SD 1.x-shaped model with seeded random weights, written on first
 * use so the studio can generate before any import. Its `sumi_model.json` marks it as a demo, and the
 * UI labels it so: its pictures are noise-like patterns, not art.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { buildStableDiffusion, demoModelSpec, isUpToDate } from '../../engine/builder/sdModels';

export const DEMO_FOLDER = 'sumi-demo';

let building: Promise<string> | null = null;

/** Returns the demo model's folder under `modelsDir`, building it (a second or two) when missing or outdated. */
export async function ensureDemoModel(modelsDir: string): Promise<string> {
  const dir = join(modelsDir, DEMO_FOLDER);
  const options = { clipVocabDir: null, replace: true };
  if (existsSync(join(dir, 'sumi_model.json')) && (await isUpToDate(dir, demoModelSpec, options))) return dir;
  building ??= buildStableDiffusion(dir, demoModelSpec, options)
    .then(() => dir)
    .finally(() => {
      building = null;
    });
  return building;
}
