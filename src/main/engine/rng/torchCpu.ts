/**
 * `torch.manual_seed(seed); torch.randn(n)` on the CPU in float32, bit for bit, so that a seed gives
 * the same starting noise as diffusers or A1111 with a CPU generator.
 *
 * What torch does (ATen: CPUGeneratorImpl.cpp, core/MT19937RNGEngine.h, core/TransformationHelper.h,
 * core/DistributionsHelper.h, native/cpu/DistributionTemplates.h, native/cpu/avx_mathfun.h):
 * - The generator is a 32-bit Mersenne Twister seeded with the low 32 bits of the 64-bit seed.
 * - Fewer than 16 elements: each value is a scalar Box-Muller draw in double precision from two 53-bit
 *   uniforms (two 32-bit outputs each, high word first); the sine half is cached in the generator and
 *   returned by the next scalar draw, even one in a later call.
 * - 16 or more elements: first one 24-bit float uniform per element, then Box-Muller over 16-element
 *   blocks (`u[0..8)` give the radii, `u[8..16)` the angles). When n % 16 != 0 the last 16 elements
 *   are drawn again and transformed again. The cache is neither used nor cleared.
 * - On an x86-64 CPU with AVX2 (torch's "AVX2" CPU capability) that block transform is
 *   `normal_fill_16_AVX2`: float32 Cephes polynomials for log, sin and cos from avx_mathfun.h. GCC
 *   compiles those intrinsics with `-mfma` and contracts a multiply followed by an add into one fused
 *   multiply-add; where it does so is reproduced below with an exact float32 fma, and the result was
 *   checked against torch bit for bit (tests/node/engine/data/torch-randn.json).
 *
 * Where torch takes its other block transform (its DEFAULT or AVX512 CPU capability, ARM and Apple
 * Silicon, or `ATEN_CPU_CAPABILITY=default`), it calls the platform's `logf`/`sinf`/`cosf` instead;
 * there about 40 % of the values of a 16+ element draw differ from ours in their last bits (by at most
 * about 2e-6 here). Windows builds of torch come from MSVC, which may not fuse those operations; that
 * case is not verified. Draws of fewer than 16 elements use double-precision math rounded to float32
 * and agree across platforms.
 */
import { EngineError } from '../EngineError';
import type { Rng } from './Rng';

const TWO_POW_64 = 1n << 64n;
const TWO_POW_63 = 1n << 63n;

/**
 * A seed as torch stores it: an unsigned 64-bit integer; negative seeds wrap around (two's complement),
 * as `torch.manual_seed(-1)` does. Throws for non-integers and values outside [-2^63, 2^64).
 */
export function seedToUint64(seed: number | bigint): bigint {
  if (typeof seed === 'number' && !Number.isSafeInteger(seed)) {
    throw new EngineError('input', `The seed must be a whole number (got ${seed}).`);
  }
  const value = BigInt(seed);
  if (value < -TWO_POW_63 || value >= TWO_POW_64) {
    throw new EngineError('input', `The seed ${value} is outside the 64-bit range torch accepts.`);
  }
  return BigInt.asUintN(64, value);
}

// ---------------------------------------------------------------------------------------------------
// Mersenne Twister, as at::mt19937 (the standard MT19937 with torch's `left_`/`next_` bookkeeping).

const MT_N = 624;
const MT_M = 397;
const MATRIX_A = 0x9908b0df;

class Mt19937 {
  private readonly state = new Uint32Array(MT_N);
  private left = 1;
  private next = 0;

  constructor(seed32: number) {
    const s = this.state;
    s[0] = seed32;
    for (let j = 1; j < MT_N; j++) {
      const prev = s[j - 1]!;
      s[j] = Math.imul(1812433253, prev ^ (prev >>> 30)) + j;
    }
  }

  nextUint32(): number {
    if (--this.left === 0) this.twist();
    let y = this.state[this.next++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  private twist(): void {
    const s = this.state;
    const mix = (u: number, v: number): number =>
      (((u & 0x80000000) | (v & 0x7fffffff)) >>> 1) ^ (v & 1 ? MATRIX_A : 0);
    let k = 0;
    for (; k < MT_N - MT_M; k++) s[k] = s[k + MT_M]! ^ mix(s[k]!, s[k + 1]!);
    for (; k < MT_N - 1; k++) s[k] = s[k + MT_M - MT_N]! ^ mix(s[k]!, s[k + 1]!);
    s[MT_N - 1] = s[MT_M - 1]! ^ mix(s[MT_N - 1]!, s[0]!);
    this.left = MT_N;
    this.next = 0;
  }
}

// ---------------------------------------------------------------------------------------------------
// float32 arithmetic. Every operation of the AVX2 kernel rounds to float32; `fma32` rounds once.

const f32 = Math.fround;
const fmaScratch = new Float64Array(1);
const fmaWords = new Uint32Array(fmaScratch.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const LOW = littleEndian ? 0 : 1;
const HIGH = littleEndian ? 1 : 0;

/**
 * `a * b + c` rounded once to float32, for float32 inputs. The product is exact in double, so the only
 * error of `f32(a * b + c)` is double rounding, which changes the result only where the double sum lands
 * exactly halfway between two float32 values (the other float32 `2s - r` is then exactly representable).
 * That rare case, and overflow, take `fma32Exact`; the fast path has no data-dependent branch to mispredict.
 */
function fma32(a: number, b: number, c: number): number {
  const s = a * b + c;
  const r = f32(s);
  const other = 2 * s - r;
  if (other === r || f32(other) !== other) return r;
  return fma32Exact(a, b, c);
}

/**
 * `fma32` the long way: the sum is rounded to odd in double (53 >= 24 + 2 bits), which makes the
 * final rounding to float32 correct.
 */
function fma32Exact(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const bb = s - p;
  const err = p - (s - bb) + (c - bb);
  if (err === 0 || !Number.isFinite(s)) return f32(s);
  fmaScratch[0] = s;
  if ((fmaWords[LOW]! & 1) === 0) {
    if (err > 0 === s > 0) {
      fmaWords[LOW] = fmaWords[LOW]! + 1;
    } else if (fmaWords[LOW] === 0) {
      fmaWords[LOW] = 0xffffffff;
      fmaWords[HIGH] = fmaWords[HIGH]! - 1;
    } else {
      fmaWords[LOW] = fmaWords[LOW]! - 1;
    }
  }
  return f32(fmaScratch[0]!);
}

// ---------------------------------------------------------------------------------------------------
// avx_mathfun.h's log256_ps and sincos256_ps, one lane at a time.

const LOG_P = [
  7.0376836292e-2, -1.151461031e-1, 1.167699874e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1,
  2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
].map(f32) as [number, number, number, number, number, number, number, number, number];
const LOG_Q1 = f32(-2.1219444e-4);
const LOG_Q2 = f32(0.693359375);
const SQRTHF = f32(Math.SQRT1_2); // cephes_SQRTHF, 0.707106781186547524

const bitsFloat = new Float32Array(1);
const bitsInt = new Int32Array(bitsFloat.buffer);

function log256(input: number): number {
  if (!(input > 0)) return NaN;
  bitsFloat[0] = Math.max(input, 1.1754943508222875e-38); // cut off denormals, as the kernel does
  const bits = bitsInt[0]!;
  let e = f32((bits >>> 23) - 0x7f + 1);
  bitsInt[0] = (bits & ~0x7f800000) | 0x3f000000; // mantissa, scaled into [0.5, 1)
  const mantissa = bitsFloat[0]!;
  const below = mantissa < SQRTHF;
  let x = f32(mantissa - 1);
  if (below) {
    e = f32(e - 1);
    x = f32(x + mantissa);
  }
  const z = f32(x * x);
  let y = LOG_P[0];
  for (let k = 1; k < LOG_P.length; k++) y = fma32(y, x, LOG_P[k]!);
  y = f32(y * x);
  y = fma32(y, z, f32(e * LOG_Q1)); // GCC fuses y*z into the add, and rounds e*q1 on its own
  y = f32(y - f32(z * 0.5));
  return fma32(e, LOG_Q2, f32(x + y));
}

const DP1 = f32(-0.78515625);
const DP2 = f32(-2.4187564849853515625e-4);
const DP3 = f32(-3.774894977445941e-8); // -3.77489497744594108e-8 as a double
const COS_P0 = f32(2.443315711809948e-5);
const COS_P1 = f32(-1.388731625493765e-3);
const COS_P2 = f32(4.166664568298827e-2);
const SIN_P0 = f32(-1.9515295891e-4);
const SIN_P1 = f32(8.3321608736e-3);
const SIN_P2 = f32(-1.6666654611e-1);
const FOUR_OVER_PI = f32(1.27323954473516);

/**
 * `sincos256`'s results, [sin, cos]. A typed array rather than two module-level `let`s: V8 boxes every
 * double written to a module variable (a heap allocation per value, ~2x slower overall).
 */
const sinCos = new Float64Array(2);

/** Sets `sinCos` to [sin(input), cos(input)]. */
function sincos256(input: number): void {
  const negative = input < 0 || (input === 0 && 1 / input < 0);
  let x = Math.abs(input);
  const j = ((Math.trunc(f32(x * FOUR_OVER_PI)) | 0) + 1) & ~1;
  const y = j;
  const flipSin = negative !== ((j & 4) !== 0);
  const flipCos = (~(j - 2) & 4) !== 0;
  const sinFromSinPoly = (j & 2) === 0;

  // Extended precision modular arithmetic: x = ((x - y * DP1) - y * DP2) - y * DP3.
  x = fma32(y, DP1, x);
  x = fma32(y, DP2, x);
  x = fma32(y, DP3, x);

  const z = f32(x * x);
  let c = fma32(COS_P0, z, COS_P1);
  c = fma32(c, z, COS_P2);
  c = f32(c * z);
  c = fma32(c, z, -f32(z * 0.5));
  c = f32(c + 1);

  let s = fma32(SIN_P0, z, SIN_P1);
  s = fma32(s, z, SIN_P2);
  s = f32(s * z);
  s = fma32(s, x, x);

  // Select the polynomials the way the kernel does (masks, subtractions), signed zeros included.
  const sinPart2 = sinFromSinPoly ? s : 0;
  const sinPart1 = sinFromSinPoly ? 0 : c;
  const sin = f32(sinPart1 + sinPart2);
  const cos = f32(f32(c - sinPart1) + f32(s - sinPart2));
  sinCos[0] = flipSin ? -sin : sin;
  sinCos[1] = flipCos ? -cos : cos;
}

const TWO_PI_F32 = f32(2 * Math.PI);

/** `normal_fill_16_AVX2` with mean 0 and std 1: 16 uniforms at `offset` become 16 normals. */
function normalFill16(data: Float32Array, offset: number): void {
  for (let j = 0; j < 8; j++) {
    const u1 = f32(1 - data[offset + j]!);
    const u2 = data[offset + j + 8]!;
    const radius = f32(Math.sqrt(f32(-2 * log256(u1))));
    sincos256(f32(TWO_PI_F32 * u2));
    data[offset + j] = f32(radius * sinCos[1]!) + 0;
    data[offset + j + 8] = f32(radius * sinCos[0]!) + 0;
  }
}

// ---------------------------------------------------------------------------------------------------

const TWO_POW_M24 = 2 ** -24;
const TWO_POW_M53 = 2 ** -53;
const TWO_POW_32 = 2 ** 32;

class TorchCpuRng implements Rng {
  readonly kind = 'torch-cpu' as const;
  private readonly engine: Mt19937;
  /** The generator's `next_double_normal_sample_`. */
  private cachedNormal: number | undefined;

  constructor(seed: bigint) {
    this.engine = new Mt19937(Number(seed & 0xffffffffn));
  }

  randn(count: number): Float32Array {
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new EngineError('input', `randn needs a non-negative whole count (got ${count}).`);
    }
    return count >= 16 ? this.normalFill(count) : this.scalarNormals(count);
  }

  private uniformFloat(): number {
    return (this.engine.nextUint32() & 0xffffff) * TWO_POW_M24;
  }

  private uniformDouble(): number {
    const hi = this.engine.nextUint32();
    const lo = this.engine.nextUint32();
    return ((hi & 0x1fffff) * TWO_POW_32 + lo) * TWO_POW_M53;
  }

  private normalFill(count: number): Float32Array {
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = this.uniformFloat();
    for (let i = 0; i + 16 <= count; i += 16) normalFill16(data, i);
    if (count % 16 !== 0) {
      const tail = count - 16;
      for (let i = 0; i < 16; i++) data[tail + i] = this.uniformFloat();
      normalFill16(data, tail);
    }
    return data;
  }

  /** `at::normal_distribution<double>`, one element at a time, cast to float32. */
  private scalarNormals(count: number): Float32Array {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      if (this.cachedNormal !== undefined) {
        out[i] = this.cachedNormal + 0;
        this.cachedNormal = undefined;
        continue;
      }
      const u1 = this.uniformDouble();
      const u2 = this.uniformDouble();
      const radius = Math.sqrt(-2 * Math.log1p(-u2));
      const theta = 2 * Math.PI * u1;
      this.cachedNormal = radius * Math.sin(theta);
      out[i] = radius * Math.cos(theta) + 0;
    }
    return out;
  }
}

/**
 * A generator that reproduces `torch.manual_seed(seed)` followed by `torch.randn` calls on the CPU
 * (float32, mean 0, std 1). Each `randn(n)` continues the stream like another torch call would,
 * including torch's different paths for n < 16 and n >= 16.
 */
export function createTorchCpuRng(seed: number | bigint): Rng {
  return new TorchCpuRng(seedToUint64(seed));
}
