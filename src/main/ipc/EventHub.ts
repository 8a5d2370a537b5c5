import type { EventName, EventPayload } from '@contract';

export type EventListener = (event: EventName, payload: unknown) => void;

/** Typed emit for services; transports subscribe and forward to windows or sockets. */
export type Emit = <E extends EventName>(event: E, payload: EventPayload<E>) => void;

export class EventHub {
  private readonly listeners = new Set<EventListener>();

  readonly emit: Emit = (event, payload) => {
    for (const listener of this.listeners) {
      try {
        listener(event, payload);
      } catch {
        // A transport that failed to deliver (closed socket, destroyed window) must not stop the others.
      }
    }
  };

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
