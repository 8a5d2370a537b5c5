/**
 * The sandboxed preload: exposes `window.studio` (invoke + subscribe) through contextBridge and
 * nothing else. Method and event names are checked against the contract before anything is
 * forwarded, so the renderer cannot reach any other IPC channel.
 */
import { contextBridge, ipcRenderer, webUtils } from 'electron';
import { IPC_EVENT, IPC_INVOKE, isEventName, isMethod, type Envelope, type StudioTransport } from './contract';

const listeners = new Map<string, Set<(payload: unknown) => void>>();

ipcRenderer.on(IPC_EVENT, (_event, name: unknown, payload: unknown) => {
  if (typeof name !== 'string') return;
  for (const listener of listeners.get(name) ?? []) listener(payload);
});

const studio: StudioTransport = {
  invoke(method, input) {
    if (!isMethod(method)) {
      const refused: Envelope<never> = {
        ok: false,
        error: {
          code: 'UNKNOWN_METHOD',
          message: `Unknown method ${typeof method === 'string' ? JSON.stringify(method.slice(0, 128)) : '(not a string)'}.`,
        },
      };
      return Promise.resolve(refused);
    }
    return ipcRenderer.invoke(IPC_INVOKE, method, input) as Promise<Envelope<unknown>>;
  },
  subscribe(event, listener) {
    if (!isEventName(event)) throw new Error('Unknown event name.');
    const set = listeners.get(event) ?? new Set();
    set.add(listener);
    listeners.set(event, set);
    return () => {
      set.delete(listener);
    };
  },
  // A dropped file's path (File.path is gone since Electron 32); the renderer still cannot read it.
  pathForFile(file) {
    return webUtils.getPathForFile(file as File);
  },
};

contextBridge.exposeInMainWorld('studio', studio);
