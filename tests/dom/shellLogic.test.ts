import { describe, expect, test } from 'vitest';
import { neighbourRoute, routeFromHash, routes } from '../../src/renderer/src/app/routes';
import { apiUrl } from '../../src/renderer/src/api/transport';
import { moveProvider, toggleProvider } from '../../src/renderer/src/features/settings/settingsDraft';
import { StudioError } from '../../src/renderer/src/api/client';

describe('routes', () => {
  test('hash to route, unknown falls back to the studio', () => {
    expect(routeFromHash('#/gallery')).toBe('gallery');
    expect(routeFromHash('#settings')).toBe('settings');
    expect(routeFromHash('#/nope')).toBe('studio');
    expect(routeFromHash('')).toBe('studio');
  });

  test('arrow navigation wraps around', () => {
    expect(neighbourRoute('studio', -1)).toBe('settings');
    expect(neighbourRoute('settings', 1)).toBe('studio');
    expect(neighbourRoute('gallery', 1)).toBe('models');
    expect(routes.map((r) => r.label)).toEqual(['Studio', 'Gallery', 'Models', 'Queue', 'Settings']);
  });
});

describe('web transport address', () => {
  test('carries the page token to the socket', () => {
    expect(apiUrl({ protocol: 'http:', host: '127.0.0.1:8765', search: '?token=a+b/c' })).toBe(
      'ws://127.0.0.1:8765/api?token=a%20b%2Fc',
    );
    expect(apiUrl({ protocol: 'https:', host: 'h', search: '' })).toBe('wss://h/api');
  });
});

describe('settings form edits', () => {
  test('toggle and move providers', () => {
    expect(toggleProvider(['cuda', 'cpu'], 'cuda')).toEqual(['cpu']);
    expect(toggleProvider(['cpu'], 'dml')).toEqual(['cpu', 'dml']);
    expect(moveProvider(['cuda', 'dml', 'cpu'], 'cpu', -1)).toEqual(['cuda', 'cpu', 'dml']);
    expect(moveProvider(['cuda', 'cpu'], 'cuda', -1)).toEqual(['cuda', 'cpu']);
  });

  test('validation errors map to fields', () => {
    const err = new StudioError({
      code: 'VALIDATION',
      message: 'x',
      details: { issues: [{ field: 'defaults.steps', message: 'too small' }] },
    });
    expect(err.fieldMessages()).toEqual({ 'defaults.steps': 'too small' });
    expect(new StudioError({ code: 'INTERNAL', message: 'y' }).fieldMessages()).toEqual({});
  });
});
