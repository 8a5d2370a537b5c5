/**
 * Our own generator: xoshiro128** (Blackman and Vigna) seeded through SplitMix64, with Box-Muller on
 * 53-bit uniforms. It is fast, passes the usual statistical batteries, and gives the same numbers on
 * every platform: it uses only integer arithmetic and V8's own `Math.log`/`Math.sin`/`Math.cos`, which
 * do not depend on the system's libm. `randn(a)` then `randn(b)` gives the same values as `randn(a + b)`.
 */
import type { Rng } from './Rng';
import { seedToUint64 } from './torchCpu';
import { EngineError } from '../EngineError';

const MASK_64 = (1n << 64n) - 1n;

/** SplitMix64, used only to spread a seed over the 128-bit state. */
function splitMix64(state: bigint): { value: bigint; state: bigint } {
  const next = (state + 0x9e3779b97f4a7c15n) & MASK_64;
  let z = next;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK_64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK_64;
  return { value: z ^ (z >> 31n), state: next };
}

const TWO_POW_M53 = 2 ** -53;
const TWO_POW_26 = 2 ** 26;
const TWO_PI = 2 * Math.PI;

class FastRng implements Rng {
  readonly kind = 'fast' as const;
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | undefined;

  constructor(seed: bigint) {
    const first = splitMix64(seed);
    const second = splitMix64(first.state);
    this.s0 = Number(first.value & 0xffffffffn) | 0;
    this.s1 = Number(first.value >> 32n) | 0;
    this.s2 = Number(second.value & 0xffffffffn) | 0;
    this.s3 = Number(second.value >> 32n) | 0;
    // xoshiro must not start from the all-zero state.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  randn(count: number): Float32Array {
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new EngineError('input', `randn needs a non-negative whole count (got ${count}).`);
    }
    const out = new Float32Array(count);
    let i = 0;
    if (count > 0 && this.spare !== undefined) {
      out[i++] = this.spare;
      this.spare = undefined;
    }
    while (i < count) {
      const radius = Math.sqrt(-2 * Math.log(1 - this.uniform()));
      const theta = TWO_PI * this.uniform();
      out[i++] = radius * Math.cos(theta);
      const second = radius * Math.sin(theta);
      if (i < count) out[i++] = second;
      else this.spare = second;
    }
    return out;
  }

  /** A uniform double in [0, 1) with 53 random bits. */
  private uniform(): number {
    const high = this.nextUint32() >>> 5;
    const low = this.nextUint32() >>> 6;
    return (high * TWO_POW_26 + low) * TWO_POW_M53;
  }

  private nextUint32(): number {
    const s1 = this.s1;
    const product = Math.imul(s1, 5);
    const result = Math.imul((product << 7) | (product >>> 25), 9);
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result >>> 0;
  }
}

/** Our own seeded standard-normal generator; seeds are read as torch reads them (see `seedToUint64`). */
export function createFastRng(seed: number | bigint): Rng {
  return new FastRng(seedToUint64(seed));
}
