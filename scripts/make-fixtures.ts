/**
 * Writes the fixture models the engine is tested on (tiny, seeded random weights, real exporter
 * contracts) and, with --full-unet, a folder with SD 1.5's full-size UNet in fp16 for benchmarks.
 * A folder whose sumi_model.json already matches the builder version and spec is left alone.
 *
 *   npx tsx scripts/make-fixtures.ts [--out DIR] [--variant NAME...] [--full-unet]
 *
 * Prints JSON: what was built or kept, sizes and timings.
 */
import { readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  benchmarkVariants,
  buildStableDiffusion,
  fixtureVariants,
  isUpToDate,
  resolveTokenizerSource,
  type ModelSpec,
} from '../src/main/engine/builder/sdModels';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The CLIP vocabulary shared beside the repository; fixtures fall back to a generated one without it. */
const clipVocabDir = resolve(repoRoot, '../shared/data/clip');

interface Args {
  out: string;
  variants: string[];
  fullUnet: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { out: join(repoRoot, 'tests/fixtures/generated'), variants: [], fullUnet: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--out') {
      const value = argv[++i];
      if (!value) throw new Error('--out needs a folder');
      args.out = resolve(value);
    } else if (arg === '--full-unet') {
      args.fullUnet = true;
    } else if (arg === '--variant') {
      while (argv[i + 1] !== undefined && !(argv[i + 1] as string).startsWith('--'))
        args.variants.push(argv[++i] as string);
    } else {
      throw new Error(`unknown argument ${arg}`);
    }
  }
  return args;
}

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const known: Record<string, ModelSpec> = { ...fixtureVariants, ...benchmarkVariants };
  const names = args.variants.length > 0 ? [...args.variants] : Object.keys(fixtureVariants);
  if (args.fullUnet && !names.includes('sd15-full-unet')) names.push('sd15-full-unet');
  const unknown = names.filter((name) => !(name in known));
  if (unknown.length > 0) {
    throw new Error(`unknown variant(s) ${unknown.join(', ')}; known: ${Object.keys(known).join(', ')}`);
  }

  const started = performance.now();
  const options = { clipVocabDir, replace: true };
  const models = [];
  for (const name of names) {
    const spec = known[name] as ModelSpec;
    const dir = join(args.out, name);
    if (await isUpToDate(dir, spec, options)) {
      models.push({ variant: name, dir, status: 'up-to-date', bytes: await folderBytes(dir) });
      continue;
    }
    const report = await buildStableDiffusion(dir, spec, options);
    models.push({
      variant: name,
      dir,
      status: report.built ? 'built' : 'up-to-date',
      seconds: Number(report.seconds.toFixed(2)),
      bytes: await folderBytes(dir),
      specHash: report.specHash,
      parameters: Object.fromEntries(Object.entries(report.parts).map(([part, result]) => [part, result.parameters])),
    });
  }
  const summary = {
    out: args.out,
    tokenizer: resolveTokenizerSource(clipVocabDir),
    models,
    seconds: Number(((performance.now() - started) / 1000).toFixed(2)),
  };
  console.log(JSON.stringify(summary, null, 2));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
