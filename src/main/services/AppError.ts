import type { ErrorCode, StudioErrorShape } from '@contract';

/**
 * The one error type services throw. The router turns it into the contract's
 * `{ code, message, details }`; anything else thrown becomes INTERNAL.
 */
export class AppError extends Error {
  override readonly name = 'AppError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }

  toShape(): StudioErrorShape {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}
