/**
 * Every random number the engine uses comes from one of these, created from a seed. Two kinds:
 * `torch-cpu` reproduces `torch.manual_seed(seed); torch.randn(shape)` on the CPU bit for bit (so
 * seeds mean what they mean in diffusers and A1111 with a CPU generator); `fast` is our own.
 */
export type RngKind = 'fast' | 'torch-cpu';

export interface Rng {
  readonly kind: RngKind;
  /**
   * `count` standard-normal samples, as one `torch.randn(count)` call would produce them
   * (for torch-cpu, a call with a multi-dimensional shape gives the same values as its element count).
   */
  randn(count: number): Float32Array;
}
