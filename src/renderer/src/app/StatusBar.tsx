import type { AppInfo } from '@contract';

const engineWords: Record<AppInfo['engine']['state'], string> = {
  stopped: 'Engine idle',
  starting: 'Engine starting…',
  ready: 'Engine ready',
  busy: 'Engine working',
  crashed: 'Engine crashed',
};

export function StatusBar(props: { info: AppInfo | null; connected: boolean }) {
  const { info, connected } = props;
  return (
    <footer className="status-bar" role="status" aria-label="Status">
      <span data-testid="host-kind">{info ? (info.host === 'web' ? 'Web host' : 'Desktop') : 'Connecting…'}</span>
      {!connected && <span className="status-warn">Disconnected — retrying</span>}
      <span data-testid="engine-state" title={info?.engine.detail}>
        {info ? engineWords[info.engine.state] : ''}
        {info?.engine.provider ? ` · ${info.engine.provider.toUpperCase()}` : ''}
      </span>
      <span className="spacer" />
      {info && <span className="muted">v{info.version}</span>}
    </footer>
  );
}
