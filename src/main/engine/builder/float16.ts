/**
 * IEEE 754 binary16 <-> binary32 conversion on raw bits, for writing and reading fp16 ONNX tensors.
 * Node 20 has no Float16Array, so half floats travel as `Uint16Array` bit patterns.
 *
 * float32 -> float16 rounds to nearest, ties to even (what numpy's `astype(float16)` and torch's
 * `.half()` do), produces subnormals below 2^-14, overflows to ±Infinity above 65504 (65520 and up
 * round to Infinity), keeps NaN a quiet NaN with the top payload bits. float16 -> float32 is exact.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The binary16 bit pattern nearest to `value` (which is first rounded to float32, as `Math.fround`). */
export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  return bitsToHalf(u32[0] as number);
}

/** The exact float32 value of a binary16 bit pattern (only the low 16 bits of `bits` are read). */
export function float16BitsToFloat32(bits: number): number {
  u32[0] = halfToBits(bits & 0xffff);
  return f32[0] as number;
}

/** Converts a whole array; `out` may be given to avoid an allocation (it must be as long as `src`). */
export function float32ArrayToFloat16(src: Float32Array, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  if (out.length < src.length) throw new RangeError('float32ArrayToFloat16: output is shorter than the input');
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) out[i] = bitsToHalf(bits[i] as number);
  return out;
}

/** Converts a whole array of binary16 bit patterns to float32. */
export function float16ArrayToFloat32(
  src: Uint16Array,
  out: Float32Array = new Float32Array(src.length),
): Float32Array {
  if (out.length < src.length) throw new RangeError('float16ArrayToFloat32: output is shorter than the input');
  const bits = new Uint32Array(out.buffer, out.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) bits[i] = halfToBits(src[i] as number);
  return out;
}

function bitsToHalf(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;

  if (exponent === 0xff) {
    // Infinity keeps its sign; NaN stays NaN (quiet bit set so a payload that truncates to 0 is not Infinity).
    return mantissa === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mantissa >>> 13);
  }

  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;

  if (e <= 0) {
    // Subnormal half (or zero). Below half the smallest subnormal (2^-25) everything rounds to zero.
    if (e < -10) return sign;
    const m = mantissa | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1) === 1)) half += 1;
    // A carry out of the subnormal range lands exactly on the smallest normal, which is correct.
    return sign | half;
  }

  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half += 1;
  // A carry may ripple into the exponent; from 0x7bff it reaches 0x7c00, Infinity, which is right.
  return sign | half;
}

function halfToBits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exponent = (h >>> 10) & 0x1f;
  const mantissa = h & 0x3ff;

  if (exponent === 0x1f) return (sign | 0x7f800000 | (mantissa << 13)) >>> 0;
  if (exponent !== 0) return (sign | ((exponent - 15 + 127) << 23) | (mantissa << 13)) >>> 0;
  if (mantissa === 0) return sign >>> 0;

  // Subnormal half: normalise into a float32 normal.
  let m = mantissa;
  let e = -14;
  while ((m & 0x400) === 0) {
    m <<= 1;
    e -= 1;
  }
  return (sign | ((e + 127) << 23) | ((m & 0x3ff) << 13)) >>> 0;
}
