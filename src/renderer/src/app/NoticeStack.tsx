import { useState } from 'react';
import type { Notice } from '@contract';

export function NoticeStack(props: { notices: Notice[]; onDismiss: (id: string) => void }) {
  const [hidden, setHidden] = useState<Set<string>>(new Set());
  const visible = props.notices.filter((n) => !hidden.has(n.id));
  if (visible.length === 0) return null;
  return (
    <section className="notices" aria-label="Notices">
      {visible.map((n) => (
        <div key={n.id} className={`notice notice-${n.level}`} role={n.level === 'error' ? 'alert' : 'status'}>
          <div>
            <strong>{n.message}</strong>
            {n.detail && <pre className="notice-detail">{n.detail}</pre>}
          </div>
          <button
            type="button"
            className="ghost"
            aria-label="Dismiss notice"
            onClick={() => {
              setHidden((h) => new Set(h).add(n.id));
              props.onDismiss(n.id);
            }}
          >
            ×
          </button>
        </div>
      ))}
    </section>
  );
}
