/**
 * The strict safetensors reader against well-formed files and hostile ones: every refusal is an
 * AppError('VALIDATION') that names the file and the exact problem, and nothing is allocated from
 * an untrusted length before it is checked. Pickles are refused by extension and by magic bytes.
 */
import { appendFileSync, closeSync, ftruncateSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, describe, expect, test } from 'vitest';
import { AppError } from '../../../src/main/services/AppError';
import {
  readSafetensorsHeader,
  readTensor,
  refusePickle,
  sniffPickle,
  type SafetensorsProblem,
} from '../../../src/main/services/models/safetensors';
import { encodeRawSafetensors, encodeSafetensors, writeSafetensors } from '../../helpers/safetensorsWriter';
import { makeTempDir } from '../../helpers/tempDir';

const { dir, cleanup } = makeTempDir('sumi-safetensors-');
afterAll(cleanup);

let counter = 0;
function file(name: string, bytes: Uint8Array): string {
  const path = join(dir, `${counter++}-${name}`);
  writeFileSync(path, bytes);
  return path;
}

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected a refusal, but the call succeeded');
}

async function expectRefused(path: string, reason: SafetensorsProblem, message: RegExp): Promise<AppError> {
  const err = await refusal(readSafetensorsHeader(path));
  expect(err.code).toBe('VALIDATION');
  expect(err.details).toMatchObject({ path, reason });
  expect(err.message).toMatch(message);
  // The message starts with the file's name, so a user knows which file is broken.
  expect(err.message.startsWith(path.slice(dir.length + 1))).toBe(true);
  return err;
}

/** A real pickle: `pickle.dumps({}, protocol=2)`. */
const PICKLE_EMPTY_DICT = Uint8Array.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e]);

/** A real zip (stored entries) the way `torch.save` lays it out: `archive/data.pkl` first. */
function torchZip(): Buffer {
  const entries: [string, Buffer][] = [
    ['archive/data.pkl', Buffer.from(PICKLE_EMPTY_DICT)],
    ['archive/version', Buffer.from('3\n')],
  ];
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const nameBytes = Buffer.from(name);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, data);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + data.length;
  }
  const centralDir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralDir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, centralDir, end]);
}

describe('reading well-formed files', () => {
  test('the writer matches the reference serializer byte for byte', () => {
    // huggingface/safetensors tensor.rs `test_serialization`: {"attn.0": F32 [1, 2, 3] = 0..5}.
    const bytes = encodeSafetensors({ 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data: [0, 1, 2, 3, 4, 5] } });
    expect([...bytes]).toEqual([
      64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34,
      70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95,
      111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0,
      64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ]);
  });

  test('header, metadata and tensors read back exactly, F32 and F16', async () => {
    const path = join(dir, 'good.safetensors');
    const down = [0.25, -1.5, 3.0e-8, 1e6, -0, 7.125];
    const up = [0.5, -2, 65504, 2 ** -24, -0.333251953125, 1];
    writeSafetensors(
      path,
      {
        'lora_unet_x.lora_down.weight': { dtype: 'F32', shape: [2, 3], data: down },
        'lora_unet_x.lora_up.weight': { dtype: 'F16', shape: [3, 2], data: up },
        'lora_unet_x.alpha': { dtype: 'F16', shape: [], data: [4] },
      },
      { ss_network_dim: '2', ss_output_name: 'good' },
    );
    const header = await readSafetensorsHeader(path);
    expect(header.metadata).toEqual({ ss_network_dim: '2', ss_output_name: 'good' });
    expect([...header.tensors.keys()]).toEqual([
      'lora_unet_x.lora_down.weight',
      'lora_unet_x.alpha',
      'lora_unet_x.lora_up.weight',
    ]);
    expect(header.tensors.get('lora_unet_x.lora_up.weight')).toMatchObject({ dtype: 'F16', shape: [3, 2] });
    expect([...(await readTensor(path, header, 'lora_unet_x.lora_down.weight'))]).toEqual(down.map(Math.fround));
    expect([...(await readTensor(path, header, 'lora_unet_x.lora_up.weight'))]).toEqual(up);
    expect([...(await readTensor(path, header, 'lora_unet_x.alpha'))]).toEqual([4]);
  });

  test('BF16 tensors widen to the exact float32 values', async () => {
    // bfloat16 is the top half of a float32: 1.0 = 0x3f80, -2.5 = 0xc020, 0.15625 = 0x3e20.
    const data = Buffer.alloc(6);
    [0x3f80, 0xc020, 0x3e20].forEach((bits, i) => data.writeUInt16LE(bits, i * 2));
    const path = file(
      'bf16.safetensors',
      encodeRawSafetensors({ header: { w: { dtype: 'BF16', shape: [3], data_offsets: [0, 6] } }, data }),
    );
    const header = await readSafetensorsHeader(path);
    expect([...(await readTensor(path, header, 'w'))]).toEqual([1, -2.5, 0.15625]);
  });

  test('an empty file of tensors with only metadata is valid', async () => {
    const path = file('empty.safetensors', encodeSafetensors({}, { framework: 'pt' }));
    const header = await readSafetensorsHeader(path);
    expect(header.tensors.size).toBe(0);
    expect(header.metadata).toEqual({ framework: 'pt' });
  });

  test('readTensor names an unknown tensor, refuses integer dtypes and a file changed since the header', async () => {
    const data = Buffer.alloc(12);
    const tensors = {
      steps: { dtype: 'I64', shape: [1], data_offsets: [0, 8] },
      scale: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
    };
    const path = file('ints.safetensors', encodeRawSafetensors({ header: tensors, data }));
    const header = await readSafetensorsHeader(path);
    const missing = await refusal(readTensor(path, header, 'nope'));
    expect(missing.code).toBe('NOT_FOUND');
    expect(missing.message).toMatch(/no tensor named nope/);
    const ints = await refusal(readTensor(path, header, 'steps'));
    expect(ints.code).toBe('UNSUPPORTED');
    expect(ints.message).toMatch(/steps is I64/);
    appendFileSync(path, Buffer.alloc(4));
    const changed = await refusal(readTensor(path, header, 'scale'));
    expect(changed.details).toMatchObject({ reason: 'changed' });
  });
});

describe('refusing hostile files', () => {
  const good = encodeSafetensors(
    {
      'lora_unet_mid_block_attentions_0_proj_in.alpha': { dtype: 'F32', shape: [], data: [8] },
      'lora_unet_mid_block_attentions_0_proj_in.lora_down.weight': {
        dtype: 'F32',
        shape: [4, 8],
        data: new Array(32).fill(0.5),
      },
    },
    { ss_network_dim: '4' },
  );

  test('a file shorter than the 8-byte length', async () => {
    await expectRefused(
      file('tiny.safetensors', Uint8Array.from([1, 2, 3])),
      'too-short',
      /is 3 bytes.*8-byte header length/,
    );
    await expectRefused(file('zero.safetensors', new Uint8Array(0)), 'too-short', /is 0 bytes/);
  });

  test('a truncated download: the last tensor runs past the end of the data section', async () => {
    const cut = good.subarray(0, good.length - 40);
    await expectRefused(
      file('lora.safetensors', cut),
      'outside-data',
      /tensor lora_unet_mid_block_attentions_0_proj_in\.lora_down\.weight claims bytes 4-132 but the file's data section has 92 bytes \(truncated download\?\)/,
    );
  });

  test('a header length larger than the file', async () => {
    const cut = good.subarray(0, 40);
    await expectRefused(
      file('cut.safetensors', cut),
      'header-past-end',
      /header claims \d+ bytes but only 32 bytes follow/,
    );
  });

  test('a 1 GB header claim is refused at once, without allocating it', async () => {
    const small = file(
      'huge-claim.safetensors',
      encodeRawSafetensors({ header: {}, claimedHeaderLength: 1_000_000_000n }),
    );
    // A sparse 2 GB file: the claim fits the file, so only the 100 MB bound can stop it.
    const sparse = join(dir, 'sparse.safetensors');
    writeFileSync(sparse, encodeRawSafetensors({ header: {}, claimedHeaderLength: 1n << 30n }));
    const fd = openSync(sparse, 'r+');
    ftruncateSync(fd, 2 ** 31);
    closeSync(fd);

    for (const path of [small, sparse]) {
      const before = process.memoryUsage();
      const started = performance.now();
      const err = await expectRefused(
        path,
        'header-too-large',
        /header claims 10\d+ bytes; safetensors headers are at most 100000000 bytes/,
      );
      const elapsed = performance.now() - started;
      const after = process.memoryUsage();
      expect(err).toBeInstanceOf(AppError);
      expect(elapsed).toBeLessThan(500);
      expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(16 * 1024 * 1024);
      expect(after.rss - before.rss).toBeLessThan(64 * 1024 * 1024);
    }
  });

  test('overlapping tensors', async () => {
    const header = {
      a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
      b: { dtype: 'F32', shape: [4], data_offsets: [8, 24] },
    };
    await expectRefused(
      file('overlap.safetensors', encodeRawSafetensors({ header, data: Buffer.alloc(24) })),
      'overlap',
      /tensor b \(bytes 8-24\) overlaps tensor a \(bytes 0-16\)/,
    );
  });

  test('a tensor whose shape x dtype size is not its span', async () => {
    const header = { w: { dtype: 'F16', shape: [2, 3], data_offsets: [0, 24] } };
    await expectRefused(
      file('size.safetensors', encodeRawSafetensors({ header, data: Buffer.alloc(24) })),
      'size-mismatch',
      /tensor w is F16 \[2, 3\], which is 12 bytes, but its data_offsets span 24 bytes/,
    );
  });

  test('an unknown dtype', async () => {
    const header = { w: { dtype: 'F128', shape: [1], data_offsets: [0, 16] } };
    await expectRefused(
      file('dtype.safetensors', encodeRawSafetensors({ header, data: Buffer.alloc(16) })),
      'unknown-dtype',
      /tensor w has dtype "F128", which is not one of F64, F32, F16, BF16/,
    );
  });

  test('a header that is not a JSON object, not JSON, or not UTF-8', async () => {
    await expectRefused(
      file('array.safetensors', encodeRawSafetensors({ header: [1, 2] })),
      'header-not-object',
      /header is an array, not a JSON object/,
    );
    await expectRefused(
      file('null.safetensors', encodeRawSafetensors({ header: 'null' })),
      'header-not-object',
      /header is null/,
    );
    await expectRefused(
      file('number.safetensors', encodeRawSafetensors({ header: '42' })),
      'header-not-object',
      /header is a number/,
    );
    await expectRefused(
      file('broken.safetensors', encodeRawSafetensors({ header: '{"a": {' })),
      'header-not-json',
      /not valid JSON/,
    );
    const latin1 = Buffer.concat([Buffer.from('{"caf'), Buffer.from([0xe9]), Buffer.from('": 1}   ')]);
    const bytes = Buffer.concat([Buffer.from([latin1.length, 0, 0, 0, 0, 0, 0, 0]), latin1]);
    await expectRefused(file('latin1.safetensors', bytes), 'header-not-utf8', /not valid UTF-8/);
  });

  test('metadata that is not a string -> string map', async () => {
    await expectRefused(
      file('meta.safetensors', encodeRawSafetensors({ header: { __metadata__: { ss_network_dim: 4 } } })),
      'bad-metadata',
      /__metadata__ key "ss_network_dim" is a number/,
    );
    await expectRefused(
      file('meta2.safetensors', encodeRawSafetensors({ header: { __metadata__: ['x'] } })),
      'bad-metadata',
      /not a map/,
    );
  });

  test('malformed shapes and offsets', async () => {
    const data = Buffer.alloc(16);
    const cases: [unknown, SafetensorsProblem, RegExp][] = [
      [{ dtype: 'F32', shape: [2, -2], data_offsets: [0, 16] }, 'bad-shape', /shape \[2,-2\]/],
      [{ dtype: 'F32', shape: [1.5], data_offsets: [0, 16] }, 'bad-shape', /shape \[1\.5\]/],
      [{ dtype: 'F32', shape: '4', data_offsets: [0, 16] }, 'bad-shape', /shape "4"/],
      [{ dtype: 'F32', shape: [4], data_offsets: [16, 0] }, 'bad-offsets', /\[16, 0\]: begin is after end/],
      [{ dtype: 'F32', shape: [4], data_offsets: [0] }, 'bad-offsets', /data_offsets \[0\]/],
      [{ dtype: 'F32', shape: [4] }, 'bad-offsets', /data_offsets undefined/],
      ['w', 'bad-tensor-entry', /tensor w is a string/],
    ];
    for (const [entry, reason, message] of cases) {
      await expectRefused(
        file('entry.safetensors', encodeRawSafetensors({ header: { w: entry }, data })),
        reason,
        message,
      );
    }
  });

  test('the data section must be covered exactly, as the reference requires', async () => {
    const gap = {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [12, 20] },
    };
    await expectRefused(
      file('gap.safetensors', encodeRawSafetensors({ header: gap, data: Buffer.alloc(20) })),
      'gap',
      /bytes 8-12 .* belong to no tensor \(before b\)/,
    );
    const late = { a: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } };
    await expectRefused(
      file('late.safetensors', encodeRawSafetensors({ header: late, data: Buffer.alloc(12) })),
      'gap',
      /bytes 0-4/,
    );
    const trailing = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
    await expectRefused(
      file('trailing.safetensors', encodeRawSafetensors({ header: trailing, data: Buffer.alloc(12) })),
      'trailing-bytes',
      /data section has 12 bytes but its tensors cover only 8/,
    );
  });
});

describe('refusing pickles', () => {
  const zip = torchZip();

  test('the zip fixture is a real torch-style zip (checked with Python zipfile)', async () => {
    const { spawnSync } = await import('node:child_process');
    const path = file('check.zip', zip);
    const run = spawnSync(
      '/usr/bin/python3',
      ['-c', 'import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).namelist())', path],
      {
        encoding: 'utf8',
      },
    );
    expect(run.stdout.trim()).toBe("['archive/data.pkl', 'archive/version']");
  });

  test('by extension, whatever the contents', async () => {
    for (const ext of ['.ckpt', '.pt', '.pth', '.bin']) {
      const err = await refusal(refusePickle(file(`model${ext}`, encodeSafetensors({}))));
      expect(err.code).toBe('VALIDATION');
      expect(err.details).toMatchObject({ reason: 'pickle' });
      expect(err.message).toContain(`a ${ext} file`);
    }
  });

  test('by magic bytes, whatever the name: a raw pickle and a zip with archive/data.pkl', async () => {
    expect(sniffPickle(PICKLE_EMPTY_DICT)).toBe('pickle');
    expect(sniffPickle(zip)).toBe('zip-pickle');
    expect(sniffPickle(encodeSafetensors({}))).toBeNull();

    const rawPickle = file('disguised.safetensors', PICKLE_EMPTY_DICT);
    const zipPickle = file('disguised-zip.safetensors', zip);
    for (const path of [rawPickle, zipPickle]) {
      const viaCheck = await refusal(refusePickle(path));
      expect(viaCheck.details).toMatchObject({ reason: 'pickle' });
      await expectRefused(path, 'pickle', /PyTorch pickle/);
    }
    expect((await refusal(refusePickle(zipPickle))).message).toContain('a zip with data.pkl inside');
    expect((await refusal(refusePickle(rawPickle))).message).toContain('a pickle stream');
  });

  test('the message says why and how to convert', async () => {
    const err = await refusal(refusePickle(file('model.ckpt', PICKLE_EMPTY_DICT)));
    expect(err.message).toMatch(/^\d+-model\.ckpt: /);
    expect(err.message).toMatch(/can run any code/);
    expect(err.message).toMatch(/\.safetensors/);
    expect(err.message).toMatch(/weights_only=True/);
    expect(err.message).toMatch(/convert_original_stable_diffusion_to_diffusers\.py/);
    expect(err.message).toMatch(/optimum-cli export onnx/);
  });

  test('a safetensors header length that starts with the pickle PROTO bytes is not a pickle', async () => {
    // N = 0x0280 = 640 is written 80 02 00 00 00 00 00 00, like the start of a protocol-2 pickle.
    const text = JSON.stringify({ __metadata__: { note: 'x' } });
    const bytes = encodeRawSafetensors({ header: text + ' '.repeat(640 - text.length) });
    expect([...bytes.subarray(0, 2)]).toEqual([0x80, 0x02]);
    expect(sniffPickle(bytes)).toBeNull();
    const path = file('proto-lookalike.safetensors', bytes);
    await expect(refusePickle(path)).resolves.toBeUndefined();
    expect((await readSafetensorsHeader(path)).metadata).toEqual({ note: 'x' });
  });

  test('a real safetensors file passes', async () => {
    await expect(refusePickle(file('fine.safetensors', encodeSafetensors({})))).resolves.toBeUndefined();
  });
});
