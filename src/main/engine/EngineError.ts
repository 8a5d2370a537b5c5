/**
 * Errors the engine raises with words a user can act on. `kind` maps onto the contract's error
 * codes at the service boundary; `file` names the model part at fault when there is one.
 */
export type EngineErrorKind = 'model' | 'input' | 'cancelled' | 'numerics' | 'runtime';

export class EngineError extends Error {
  override readonly name = 'EngineError';

  constructor(
    readonly kind: EngineErrorKind,
    message: string,
    readonly file?: string,
  ) {
    super(message);
  }
}

export function cancelledError(): EngineError {
  return new EngineError('cancelled', 'The job was cancelled.');
}
