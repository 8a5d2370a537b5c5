import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { mimeTypeOf, resolveMediaPath } from '../../../src/main/platform/mediaPaths';
import { isAllowedExternalUrl } from '../../../src/main/platform/externalUrls';
import { isAppUrl } from '../../../src/main/platform/electron/origins';

const roots = { outputs: '/data/outputs', thumbs: '/data/thumbs' };

describe('media paths', () => {
  test('a path inside a root resolves', () => {
    expect(resolveMediaPath(roots, 'outputs/2026/a.png')).toBe(resolve('/data/outputs/2026/a.png'));
    expect(resolveMediaPath(roots, 'thumbs/a%20b.webp')).toBe(join('/data/thumbs', 'a b.webp'));
  });

  test.each([
    'outputs/../secrets.txt',
    'outputs/%2e%2e/secrets.txt',
    'outputs/..%2f..%2fetc/passwd',
    'outputs/a/../../x',
    'outputs',
    'outputs/',
    'nowhere/a.png',
    '__proto__/a.png',
    'outputs/a%00.png',
    'outputs/a\\..\\..\\x',
    'outputs/%E0%A4%A',
  ])('%s is refused', (p) => {
    expect(resolveMediaPath(roots, p)).toBeNull();
  });

  test('mime types come from the extension', () => {
    expect(mimeTypeOf('a.PNG')).toBe('image/png');
    expect(mimeTypeOf('a.exe')).toBe('application/octet-stream');
  });
});

describe('external URLs and app origin', () => {
  test.each([
    ['https://huggingface.co/stabilityai', true],
    ['http://huggingface.co/', false],
    ['https://user:pw@github.com/', false],
    ['https://evil.example/', false],
    ['javascript:alert(1)', false],
    ['file:///etc/passwd', false],
  ])('%s allowed: %s', (url, allowed) => {
    expect(isAllowedExternalUrl(url)).toBe(allowed);
  });

  test('only the bundle host of our scheme is the app', () => {
    expect(isAppUrl('sumi-app://bundle/index.html')).toBe(true);
    expect(isAppUrl('sumi-app://other/index.html')).toBe(false);
    expect(isAppUrl('https://bundle/index.html')).toBe(false);
    expect(isAppUrl('not a url')).toBe(false);
  });
});
