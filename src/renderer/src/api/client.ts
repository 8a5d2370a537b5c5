/**
 * The typed client: the only reader of the transport. `invoke` resolves with the method's output
 * or throws a StudioError carrying the contract's `{ code, message, details }`.
 */
import type {
  ErrorCode,
  EventName,
  EventPayload,
  Input,
  Method,
  Output,
  StudioErrorShape,
  StudioTransport,
} from '@contract';

export class StudioError extends Error {
  override readonly name = 'StudioError';
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(shape: StudioErrorShape) {
    super(shape.message);
    this.code = shape.code;
    this.details = shape.details;
  }

  /** Per-field messages of a VALIDATION error, keyed by field path. */
  fieldMessages(): Record<string, string> {
    const issues = (this.details as { issues?: { field: string; message: string }[] } | undefined)?.issues ?? [];
    return Object.fromEntries(issues.map((i) => [i.field, i.message]));
  }
}

export interface StudioClient {
  invoke<M extends Method>(method: M, input: Input<M>): Promise<Output<M>>;
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
  onConnection(listener: (connected: boolean) => void): () => void;
}

export function createClient(transport: StudioTransport): StudioClient {
  return {
    async invoke(method, input) {
      const result = await transport.invoke(method, input);
      if (!result.ok) throw new StudioError(result.error);
      return result.value as Output<typeof method>;
    },
    on(event, listener) {
      return transport.subscribe(event, listener as (payload: unknown) => void);
    },
    onConnection(listener) {
      return transport.onConnection?.(listener) ?? (() => undefined);
    },
  };
}
