import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { AppServices } from '../../../src/main/AppServices';
import { createRouter, fieldPath, type Handlers } from '../../../src/main/ipc/router';
import { AppError } from '../../../src/main/services/AppError';
import { makeTempDir } from '../../helpers/tempDir';
import { createTestApp } from '../../helpers/appHarness';

describe('router', () => {
  const { dir, cleanup } = makeTempDir();
  let app: AppServices;
  beforeAll(async () => {
    app = await createTestApp(dir);
  });
  afterAll(async () => {
    await app.dispose();
    cleanup();
  });

  test('an unknown method gets a typed UNKNOWN_METHOD error', async () => {
    const result = await app.router.dispatch('gallery.dropEverything', {});
    expect(result).toEqual({
      ok: false,
      error: { code: 'UNKNOWN_METHOD', message: 'Unknown method "gallery.dropEverything".' },
    });
  });

  test('a non-string method name is refused, not thrown', async () => {
    const result = await app.router.dispatch({ toString: null }, {});
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe('UNKNOWN_METHOD');
  });

  test('a malformed input gets VALIDATION naming the field', async () => {
    const result = await app.router.dispatch('settings.update', { defaults: { steps: 'many' } });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe('VALIDATION');
    expect(result.error.message).toContain('defaults.steps');
    expect(result.error.details).toEqual({ issues: [expect.objectContaining({ field: 'defaults.steps' })] });
  });

  test('an unknown field is named in the VALIDATION error', async () => {
    const result = await app.router.dispatch('settings.update', { colour: 'red' });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message).toContain('colour');
  });

  test('a missing input is treated as an empty object for methods without fields', async () => {
    const result = await app.router.dispatch('settings.get', undefined);
    expect(result.ok).toBe(true);
  });

  test('errors thrown by handlers become typed errors, bugs become INTERNAL', async () => {
    const seen: string[] = [];
    const handlers = {
      ...({} as Handlers),
      'app.info': () => {
        throw new AppError('NOT_FOUND', 'No such thing.', { id: 3 });
      },
      'settings.get': () => {
        throw new TypeError('x is undefined');
      },
    } as Handlers;
    const router = createRouter(handlers, { onInternalError: (m) => seen.push(m) });
    expect(await router.dispatch('app.info', {})).toEqual({
      ok: false,
      error: { code: 'NOT_FOUND', message: 'No such thing.', details: { id: 3 } },
    });
    const internal = await router.dispatch('settings.get', {});
    expect(internal).toEqual({
      ok: false,
      error: { code: 'INTERNAL', message: 'settings.get failed: x is undefined' },
    });
    expect(seen).toEqual(['settings.get']);
  });

  test('with checkOutputs, a handler returning a value outside the contract is an INTERNAL error', async () => {
    const handlers = { 'settings.get': () => ({ theme: 'purple' }) } as unknown as Handlers;
    const router = createRouter(handlers, { checkOutputs: true });
    const result = await router.dispatch('settings.get', {});
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe('INTERNAL');
      expect(result.error.message).toContain('outside the contract');
    }
  });

  test('field paths read the way users write them', () => {
    expect(fieldPath(['defaults', 'steps'])).toBe('defaults.steps');
    expect(fieldPath(['executionProviders', 1])).toBe('executionProviders[1]');
    expect(fieldPath([])).toBe('(input)');
  });
});
