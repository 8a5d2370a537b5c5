import type { HostKind } from './transport';

/** The URL of a media path (`outputs/…`) on this host: `sumi-media://` in Electron, `/media/` on the web host. */
export function mediaUrl(host: HostKind, path: string): string {
  const encoded = path.split('/').map(encodeURIComponent).join('/');
  return host === 'electron' ? `sumi-media://${encoded}` : `/media/${encoded}`;
}
