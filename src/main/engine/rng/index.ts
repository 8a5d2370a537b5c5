import { createFastRng } from './fast';
import type { Rng, RngKind } from './Rng';
import { createTorchCpuRng } from './torchCpu';

export type { Rng, RngKind } from './Rng';
export { createFastRng } from './fast';
export { createTorchCpuRng, seedToUint64 } from './torchCpu';

/** The generator of the given kind, seeded; see Rng.ts for what each kind promises. */
export function createRng(kind: RngKind, seed: number | bigint): Rng {
  switch (kind) {
    case 'fast':
      return createFastRng(seed);
    case 'torch-cpu':
      return createTorchCpuRng(seed);
  }
}
