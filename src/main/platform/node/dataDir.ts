import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/**
 * Where the web host and the CLI keep their data when not told: the same folder the Electron app
 * uses (its userData), so that both hosts share settings, models and the gallery.
 */
export function defaultDataDir(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): string {
  if (env.SUMI_DATA_DIR) return resolve(env.SUMI_DATA_DIR);
  const home = homedir();
  if (platform === 'win32') return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'Sumi Studio');
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'Sumi Studio');
  const xdg = env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : join(home, '.config');
  return join(xdg, 'Sumi Studio');
}
