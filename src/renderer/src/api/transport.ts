/**
 * Picks the transport at start-up: the preload's `window.studio` in Electron, a WebSocket to the
 * web host otherwise. Features never know which one they run on.
 */
import type { Envelope, EventName, StudioTransport, WireMessage } from '@contract';

declare global {
  interface Window {
    studio?: StudioTransport;
  }
}

export type HostKind = 'electron' | 'web';

export function pickTransport(): { kind: HostKind; transport: StudioTransport } {
  if (window.studio) return { kind: 'electron', transport: window.studio };
  return { kind: 'web', transport: new WebSocketTransport(apiUrl(window.location)) };
}

export function apiUrl(location: Pick<Location, 'protocol' | 'host' | 'search'>): string {
  const token = new URLSearchParams(location.search).get('token');
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.host}/api${token ? `?token=${encodeURIComponent(token)}` : ''}`;
}

interface Pending {
  resolve: (value: Envelope<unknown>) => void;
}

/** The contract over one WebSocket, reconnecting with back-off when the host restarts. */
export class WebSocketTransport implements StudioTransport {
  private socket: WebSocket | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly queued: string[] = [];
  private readonly listeners = new Map<string, Set<(payload: unknown) => void>>();
  private readonly connectionListeners = new Set<(connected: boolean) => void>();
  private retryMs = 250;

  constructor(private readonly url: string) {
    this.connect();
  }

  invoke(method: string, input: unknown): Promise<Envelope<unknown>> {
    const id = this.nextId++;
    const frame = JSON.stringify({ t: 'req', id, method, input });
    return new Promise((resolve) => {
      this.pending.set(id, { resolve });
      if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(frame);
      else this.queued.push(frame);
    });
  }

  subscribe(event: string, listener: (payload: unknown) => void): () => void {
    const set = this.listeners.get(event) ?? new Set();
    set.add(listener);
    this.listeners.set(event, set);
    return () => {
      set.delete(listener);
    };
  }

  onConnection(listener: (connected: boolean) => void): () => void {
    this.connectionListeners.add(listener);
    return () => {
      this.connectionListeners.delete(listener);
    };
  }

  private connect(): void {
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.onopen = () => {
      this.retryMs = 250;
      for (const frame of this.queued.splice(0)) socket.send(frame);
      this.connectionListeners.forEach((l) => l(true));
    };
    socket.onmessage = (message) => {
      if (typeof message.data !== 'string') return;
      let data: WireMessage;
      try {
        data = JSON.parse(message.data) as WireMessage;
      } catch {
        return;
      }
      if (data.t === 'res') {
        const pending = this.pending.get(data.id);
        if (pending) {
          this.pending.delete(data.id);
          pending.resolve(data.result);
        }
      } else if (data.t === 'evt') {
        this.emitLocal(data.event, data.payload);
      }
    };
    socket.onclose = () => {
      // Calls in flight cannot be answered by a new socket: fail them now, in words.
      for (const [id, pending] of this.pending) {
        this.pending.delete(id);
        pending.resolve({
          ok: false,
          error: {
            code: 'UNAVAILABLE',
            message: 'Lost the connection to the Sumi Studio host. Is `npm run serve` still running?',
          },
        });
      }
      this.connectionListeners.forEach((l) => l(false));
      setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 5000);
    };
  }

  private emitLocal(event: EventName, payload: unknown): void {
    for (const listener of this.listeners.get(event) ?? []) listener(payload);
  }
}
