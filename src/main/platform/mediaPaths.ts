import { isAbsolute, relative, resolve, sep } from 'node:path';

/**
 * Maps a media request (`<root>/<relative path>`, URL-encoded) to a file inside one of the named
 * roots, or null. A name from outside never becomes a path without this inside-the-root check.
 */
export function resolveMediaPath(roots: Record<string, string>, requestPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(requestPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const parts = decoded.split('/').filter((p) => p.length > 0);
  const [rootName, ...rest] = parts;
  if (!rootName || rest.length === 0 || !Object.hasOwn(roots, rootName)) return null;
  if (rest.some((p) => p === '.' || p === '..')) return null;
  const root = resolve(roots[rootName] as string);
  const target = resolve(root, ...rest);
  const rel = relative(root, target);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.split(sep).includes('..')) return null;
  return target;
}

const mimeTypes: Record<string, string> = {
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.woff2': 'font/woff2',
  '.ico': 'image/x-icon',
};

export function mimeTypeOf(path: string): string {
  const dot = path.lastIndexOf('.');
  return (dot >= 0 && mimeTypes[path.slice(dot).toLowerCase()]) || 'application/octet-stream';
}
