/** The renderer's own origin in the Electron host. Custom schemes have an opaque `URL.origin`, so compare parts. */
export const APP_SCHEME = 'sumi-app';
export const APP_HOST = 'bundle';
export const MEDIA_SCHEME = 'sumi-media';

export function isAppUrl(raw: string): boolean {
  try {
    const url = new URL(raw);
    return url.protocol === `${APP_SCHEME}:` && url.host === APP_HOST;
  } catch {
    return false;
  }
}
