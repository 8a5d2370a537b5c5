import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import type { AppInfo, EventName, EventPayload, Settings } from '@contract';
import type { StudioClient } from './client';
import type { HostKind } from './transport';

interface StudioContextValue {
  client: StudioClient;
  hostKind: HostKind;
}

const StudioContext = createContext<StudioContextValue | null>(null);

export function StudioProvider(props: { client: StudioClient; hostKind: HostKind; children: ReactNode }) {
  return (
    <StudioContext.Provider value={{ client: props.client, hostKind: props.hostKind }}>
      {props.children}
    </StudioContext.Provider>
  );
}

export function useStudio(): StudioContextValue {
  const value = useContext(StudioContext);
  if (!value) throw new Error('useStudio must be used inside <StudioProvider>.');
  return value;
}

export function useEvent<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): void {
  const { client } = useStudio();
  useEffect(() => client.on(event, listener), [client, event, listener]);
}

/** Settings, kept current by `settings.changed` events. */
export function useSettings(): { settings: Settings | null; error: string | null } {
  const { client } = useStudio();
  const [settings, setSettings] = useState<Settings | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    client.invoke('settings.get', {}).then(
      (s) => live && setSettings(s),
      (err: Error) => live && setError(err.message),
    );
    const off = client.on('settings.changed', (s) => setSettings(s));
    return () => {
      live = false;
      off();
    };
  }, [client]);
  return { settings, error };
}

/** App info (host, engine state, notices), kept current by events and reconnects. */
export function useAppInfo(): { info: AppInfo | null; connected: boolean } {
  const { client } = useStudio();
  const [info, setInfo] = useState<AppInfo | null>(null);
  const [connected, setConnected] = useState(true);
  useEffect(() => {
    let live = true;
    const refresh = (): void => {
      client.invoke('app.info', {}).then(
        (i) => live && setInfo(i),
        () => undefined,
      );
    };
    refresh();
    const offs = [
      client.on('engine.state', (engine) => setInfo((i) => (i ? { ...i, engine } : i))),
      client.on('app.notice', (n) => setInfo((i) => (i ? { ...i, notices: [...i.notices, n] } : i))),
      client.onConnection((up) => {
        setConnected(up);
        if (up) refresh();
      }),
    ];
    return () => {
      live = false;
      offs.forEach((off) => off());
    };
  }, [client]);
  return { info, connected };
}
