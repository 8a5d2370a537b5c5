/** Hosts the app may open in the user's browser: documentation and model sources, nothing else. */
const allowedHosts = new Set(['huggingface.co', 'github.com', 'onnxruntime.ai', 'civitai.com']);

export function isAllowedExternalUrl(raw: string): boolean {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return false;
  }
  return url.protocol === 'https:' && url.username === '' && url.password === '' && allowedHosts.has(url.hostname);
}
