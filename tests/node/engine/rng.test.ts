import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createFastRng, createRng, createTorchCpuRng, seedToUint64 } from '@engine/rng';

interface ReferenceCall {
  shape: number[];
  size: number;
  values?: number[];
  sha256?: string;
  sum?: number;
  mean?: number;
  first?: number[];
  last?: number[];
}

interface Reference {
  torch: string;
  cpuCapability: string;
  cases: { seed: string; calls: ReferenceCall[] }[];
}

const reference = JSON.parse(readFileSync(new URL('./data/torch-randn.json', import.meta.url), 'utf8')) as Reference;

/** The float32 bit patterns, so that -0 and +0 (and NaNs) count as different. */
function bits(values: ArrayLike<number>): number[] {
  return Array.from(new Uint32Array(Float32Array.from(values).buffer));
}

function sha256(values: Float32Array): string {
  return createHash('sha256')
    .update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength))
    .digest('hex');
}

describe('torch-cpu rng', () => {
  it('has reference vectors from the AVX2 kernel it reproduces', () => {
    expect(reference.cpuCapability).toBe('AVX2');
    expect(reference.torch).toMatch(/^\d+\.\d+/);
    expect(reference.cases.length).toBeGreaterThan(50);
  });

  describe.each(reference.cases.map((c) => [c.seed, c.calls.map((call) => call.size).join(' then '), c] as const))(
    'seed %s, randn(%s)',
    (seed, _sizes, testCase) => {
      it('matches torch bit for bit', () => {
        const rng = createTorchCpuRng(BigInt(seed));
        for (const call of testCase.calls) {
          const out = rng.randn(call.size);
          expect(out.length).toBe(call.size);
          if (call.values) {
            expect(bits(out)).toEqual(bits(call.values));
          } else {
            expect(bits(out.subarray(0, call.first!.length))).toEqual(bits(call.first!));
            expect(bits(out.subarray(out.length - call.last!.length))).toEqual(bits(call.last!));
            expect(sha256(out)).toBe(call.sha256);
            const sum = out.reduce((acc, v) => acc + v, 0);
            expect(sum).toBeCloseTo(call.sum!, 6);
            expect(sum / out.length).toBeCloseTo(call.mean!, 9);
          }
        }
      });
    },
  );

  it('reads seeds as torch does: negative wraps, only the low 32 bits seed the twister', () => {
    expect(seedToUint64(-1)).toBe(2n ** 64n - 1n);
    expect(seedToUint64(42n)).toBe(42n);
    expect(bits(createTorchCpuRng(-1).randn(20))).toEqual(bits(createTorchCpuRng(2n ** 64n - 1n).randn(20)));
    expect(bits(createTorchCpuRng(2n ** 32n + 42n).randn(20))).toEqual(bits(createTorchCpuRng(42).randn(20)));
  });

  it('rejects seeds torch would reject and counts that are not whole', () => {
    expect(() => createTorchCpuRng(1.5)).toThrow(/whole number/);
    expect(() => createTorchCpuRng(2n ** 64n)).toThrow(/64-bit/);
    expect(() => createTorchCpuRng(0).randn(-1)).toThrow(/non-negative/);
    expect(() => createTorchCpuRng(0).randn(2.5)).toThrow(/non-negative/);
  });

  it('draws nothing for an empty request', () => {
    const rng = createTorchCpuRng(3);
    expect(rng.randn(0).length).toBe(0);
    expect(bits(rng.randn(5))).toEqual(bits(createTorchCpuRng(3).randn(5)));
  });
});

describe('fast rng', () => {
  it('gives the same numbers for the same seed and different numbers for another', () => {
    const a = createFastRng(1234).randn(1000);
    const b = createFastRng(1234n).randn(1000);
    const c = createFastRng(1235).randn(1000);
    expect(bits(a)).toEqual(bits(b));
    expect(bits(a)).not.toEqual(bits(c));
  });

  it('continues one stream across calls', () => {
    const whole = createFastRng(7).randn(101);
    const rng = createFastRng(7);
    const parts = [...rng.randn(3), ...rng.randn(1), ...rng.randn(0), ...rng.randn(97)];
    expect(bits(parts)).toEqual(bits(whole));
  });

  it('is roughly standard normal', () => {
    const n = 200_000;
    const values = createFastRng(99).randn(n);
    let sum = 0;
    let sumSquares = 0;
    let within1 = 0;
    let beyond3 = 0;
    for (const v of values) {
      sum += v;
      sumSquares += v * v;
      if (Math.abs(v) < 1) within1++;
      if (Math.abs(v) > 3) beyond3++;
    }
    const mean = sum / n;
    const variance = sumSquares / n - mean * mean;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1)).toBeLessThan(0.015);
    expect(within1 / n).toBeCloseTo(0.6827, 2);
    expect(beyond3 / n).toBeGreaterThan(0.002);
    expect(beyond3 / n).toBeLessThan(0.0034);
  });

  it('has no correlation between neighbouring samples', () => {
    const values = createFastRng(5).randn(100_001);
    let product = 0;
    for (let i = 0; i + 1 < values.length; i++) product += values[i]! * values[i + 1]!;
    expect(Math.abs(product / (values.length - 1))).toBeLessThan(0.01);
  });
});

describe('createRng', () => {
  it('builds the generator of the requested kind', () => {
    expect(createRng('fast', 1).kind).toBe('fast');
    expect(createRng('torch-cpu', 1).kind).toBe('torch-cpu');
    expect(bits(createRng('torch-cpu', 42).randn(16))).toEqual(bits(createTorchCpuRng(42).randn(16)));
  });
});
