import { fork } from 'node:child_process';
import type { FromEngine } from '../../engine/process/protocol';
import type { EngineProcessHandle, SpawnEngine } from '../../services/generation/EngineClient';

/**
 * Starts the engine with `child_process.fork` (web host, CLI, tests). `entry` is the built
 * `out/main/engine.js`, or the TypeScript source with `execArgv: ['--import', 'tsx']` in tests.
 */
export function forkEngine(entry: string, execArgv: string[] = []): SpawnEngine {
  return () => {
    const child = fork(entry, [], {
      execArgv,
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, SUMI_ENGINE_PROCESS: '1' },
    });
    const handle: EngineProcessHandle = {
      get pid() {
        return child.pid;
      },
      send: (message) => {
        if (child.connected) child.send(message);
      },
      onMessage: (listener) => child.on('message', (m) => listener(m as FromEngine)),
      onExit: (listener) =>
        child.once('exit', (code, signal) =>
          listener(signal ? `killed by ${signal}` : `exit code ${code ?? 'unknown'}`),
        ),
      kill: () => child.kill('SIGKILL'),
    };
    return handle;
  };
}
