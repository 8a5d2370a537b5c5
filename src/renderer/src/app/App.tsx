import { useCallback, useEffect, useRef, useState, type ComponentType, type KeyboardEvent } from 'react';
import { useStudio, useAppInfo, useSettings } from '../api/StudioProvider';
import { GalleryPage } from '../features/gallery/GalleryPage';
import { ModelsPage } from '../features/models/ModelsPage';
import { QueuePage } from '../features/queue/QueuePage';
import { SettingsPage } from '../features/settings/SettingsPage';
import { StudioPage } from '../features/studio/StudioPage';
import { neighbourRoute, routeFromHash, routes, type RouteId } from './routes';
import { StatusBar } from './StatusBar';
import { NoticeStack } from './NoticeStack';

const pages: Record<RouteId, ComponentType> = {
  studio: StudioPage,
  gallery: GalleryPage,
  models: ModelsPage,
  queue: QueuePage,
  settings: SettingsPage,
};

export function App() {
  const [route, setRoute] = useState<RouteId>(() => routeFromHash(window.location.hash));
  const { info, connected } = useAppInfo();
  const { settings } = useSettings();
  const { client } = useStudio();
  const navRefs = useRef<Partial<Record<RouteId, HTMLAnchorElement | null>>>({});
  const mainRef = useRef<HTMLElement>(null);

  const go = useCallback((id: RouteId, focusNav = false) => {
    window.location.hash = `#/${id}`;
    setRoute(id);
    if (focusNav) navRefs.current[id]?.focus();
  }, []);

  useEffect(() => {
    const onHash = (): void => setRoute(routeFromHash(window.location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    const onKey = (e: globalThis.KeyboardEvent): void => {
      if (!(e.ctrlKey || e.metaKey) || e.altKey || e.shiftKey) return;
      const index = Number(e.key) - 1;
      const target = routes[index];
      if (target) {
        e.preventDefault();
        go(target.id);
        mainRef.current?.focus();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [go]);

  useEffect(() => {
    document.documentElement.dataset.theme = settings?.theme ?? 'dark';
  }, [settings?.theme]);

  const onNavKey = (e: KeyboardEvent<HTMLElement>): void => {
    const delta = e.key === 'ArrowDown' ? 1 : e.key === 'ArrowUp' ? -1 : 0;
    if (delta) {
      e.preventDefault();
      go(neighbourRoute(route, delta), true);
    }
  };

  const Page = pages[route];
  return (
    <div className="shell">
      <nav className="nav" aria-label="Main" onKeyDown={onNavKey}>
        <div className="brand" aria-hidden="true">
          <img className="brand-mark" src="/favicon.svg" alt="" width={22} height={22} /> Sumi
        </div>
        <ul role="list">
          {routes.map((r, i) => (
            <li key={r.id}>
              <a
                href={`#/${r.id}`}
                ref={(el) => {
                  navRefs.current[r.id] = el;
                }}
                aria-current={r.id === route ? 'page' : undefined}
                tabIndex={r.id === route ? 0 : -1}
                title={`${r.hint} (Ctrl+${i + 1})`}
                onClick={(e) => {
                  e.preventDefault();
                  go(r.id);
                }}
              >
                {r.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main className="page" ref={mainRef} tabIndex={-1} aria-labelledby="page-title">
        <NoticeStack
          notices={info?.notices ?? []}
          onDismiss={(id) => void client.invoke('app.dismissNotice', { id }).then(() => undefined)}
        />
        <Page />
      </main>
      <StatusBar info={info} connected={connected} />
    </div>
  );
}
