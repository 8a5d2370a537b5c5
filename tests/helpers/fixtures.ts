/**
 * Fixture models for engine tests: `ensureFixture('sd1-optimum')` returns the folder of a tiny
 * diffusers-ONNX model with that exporter's contract, building it on first use. Builds land in
 * tests/fixtures/generated/<variant>/ (git-ignored) and are reused while their sumi_model.json matches
 * the builder version and spec. Several vitest workers may ask at once: each build is assembled in its
 * own temporary folder and renamed into place, and a worker that loses the race keeps the winner's copy.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildStableDiffusion,
  fixtureVariants,
  isUpToDate,
  type BuildOptions,
  type FixtureVariant,
} from '../../src/main/engine/builder/sdModels';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export const fixturesRoot = join(repoRoot, 'tests/fixtures/generated');

/** The shared CLIP vocabulary beside the repository; without it fixtures get a generated BPE vocabulary. */
export const clipVocabDir = resolve(repoRoot, '../shared/data/clip');

export const fixtureBuildOptions: BuildOptions = { clipVocabDir, replace: true };

const pending = new Map<FixtureVariant, Promise<string>>();

export function ensureFixture(variant: FixtureVariant): Promise<string> {
  let promise = pending.get(variant);
  if (!promise) {
    promise = build(variant);
    pending.set(variant, promise);
    promise.catch(() => pending.delete(variant));
  }
  return promise;
}

async function build(variant: FixtureVariant): Promise<string> {
  const spec = fixtureVariants[variant];
  const dir = join(fixturesRoot, variant);
  if (await isUpToDate(dir, spec, fixtureBuildOptions)) return dir;
  await mkdir(fixturesRoot, { recursive: true });
  await buildStableDiffusion(dir, spec, fixtureBuildOptions);
  return dir;
}
