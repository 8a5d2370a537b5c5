import { utilityProcess } from 'electron';
import type { FromEngine } from '../../engine/process/protocol';
import type { EngineProcessHandle, SpawnEngine } from '../../services/generation/EngineClient';

/**
 * Starts the engine with Electron's `utilityProcess` (the RunAsNode fuse is off, so
 * `child_process.fork` of the Electron binary is not available in a packaged app).
 */
export function utilityEngine(entry: string): SpawnEngine {
  return () => {
    const child = utilityProcess.fork(entry, [], { serviceName: 'Sumi Studio engine', stdio: 'inherit' });
    let exited = false;
    const handle: EngineProcessHandle = {
      get pid() {
        return child.pid;
      },
      send: (message) => {
        if (!exited) child.postMessage(message);
      },
      onMessage: (listener) => child.on('message', (m: unknown) => listener(m as FromEngine)),
      onExit: (listener) =>
        child.once('exit', (code) => {
          exited = true;
          listener(`exit code ${code}`);
        }),
      kill: () => {
        child.kill();
      },
    };
    return handle;
  };
}
