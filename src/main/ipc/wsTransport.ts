/**
 * The web host's transport: the contract over one WebSocket per browser tab. Requests carry an id;
 * every event goes to every authorised socket. Frames that are not JSON requests are answered with
 * a typed error, never a crash.
 */
import type { WebSocket, WebSocketServer } from 'ws';
import { zWireRequest, type WireMessage } from '@contract';
import type { EventHub } from './EventHub';
import type { Router } from './router';

const MAX_FRAME_BYTES = 16 * 1024 * 1024;

export function attachWsTransport(wss: WebSocketServer, router: Router, hub: EventHub): () => void {
  const sockets = new Set<WebSocket>();
  const unsubscribe = hub.subscribe((event, payload) => {
    const frame = JSON.stringify({ t: 'evt', event, payload } satisfies WireMessage);
    for (const socket of sockets) if (socket.readyState === socket.OPEN) socket.send(frame);
  });

  wss.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('message', (data, isBinary) => {
      void handleFrame(socket, data, isBinary);
    });
  });

  async function handleFrame(socket: WebSocket, data: unknown, isBinary: boolean): Promise<void> {
    const text = !isBinary && Buffer.isBuffer(data) ? data.toString('utf8') : null;
    if (text === null || text.length > MAX_FRAME_BYTES) {
      return reply(socket, -1, 'VALIDATION', 'Frames must be JSON text requests.');
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return reply(socket, -1, 'VALIDATION', 'The frame is not valid JSON.');
    }
    const request = zWireRequest.safeParse(parsed);
    if (!request.success) {
      const id = typeof (parsed as { id?: unknown })?.id === 'number' ? (parsed as { id: number }).id : -1;
      return reply(socket, id, 'VALIDATION', 'The frame is not a request of the form { t: "req", id, method, input }.');
    }
    const result = await router.dispatch(request.data.method, request.data.input);
    send(socket, { t: 'res', id: request.data.id, result });
  }

  function reply(socket: WebSocket, id: number, code: 'VALIDATION', message: string): void {
    send(socket, { t: 'res', id, result: { ok: false, error: { code, message } } });
  }

  function send(socket: WebSocket, message: WireMessage): void {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
  }

  return () => {
    unsubscribe();
    for (const socket of sockets) socket.close(1001, 'host shutting down');
  };
}

export { MAX_FRAME_BYTES };
