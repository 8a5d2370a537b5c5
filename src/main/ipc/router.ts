/**
 * One router for both transports: method name -> schema parse -> handler -> typed envelope.
 * Nothing here knows whether the call came over Electron IPC or the web host's WebSocket.
 */
import type { z } from 'zod';
import {
  isMethod,
  methods,
  type Envelope,
  type Method,
  type Output,
  type ParsedInput,
  type StudioErrorShape,
} from '@contract';
import { AppError, isAppError } from '../services/AppError';

export type Handler<M extends Method> = (input: ParsedInput<M>) => Promise<Output<M>> | Output<M>;

/** A missing handler is a compile error. */
export type Handlers = { [M in Method]: Handler<M> };

export interface Router {
  dispatch(method: unknown, input: unknown): Promise<Envelope<unknown>>;
}

export interface RouterOptions {
  /** Called with every INTERNAL error so the host can log it. */
  onInternalError?: (method: string, err: unknown) => void;
  /** Also validate handler outputs against the contract (on in tests and development). */
  checkOutputs?: boolean;
}

export function createRouter(handlers: Handlers, options: RouterOptions = {}): Router {
  return {
    async dispatch(method, input) {
      if (!isMethod(method)) {
        return fail({
          code: 'UNKNOWN_METHOD',
          message: `Unknown method ${describeMethod(method)}.`,
        });
      }
      const spec = methods[method];
      const parsed = spec.input.safeParse(input === undefined ? {} : input);
      if (!parsed.success) return fail(validationError(method, parsed.error));
      try {
        const handler = handlers[method] as (input: unknown) => unknown;
        const value = await handler(parsed.data);
        if (options.checkOutputs) {
          const checked = spec.output.safeParse(value);
          if (!checked.success) {
            throw new Error(`${method} returned a value outside the contract: ${describeIssues(checked.error)}`);
          }
        }
        return { ok: true, value };
      } catch (err) {
        if (isAppError(err)) return fail(err.toShape());
        options.onInternalError?.(method, err);
        return fail({
          code: 'INTERNAL',
          message: `${method} failed: ${err instanceof Error ? err.message : String(err)}`,
        });
      }
    },
  };
}

/** A method name as a user can read it; never throws, whatever the caller sent. */
export function describeMethod(method: unknown): string {
  return typeof method === 'string'
    ? JSON.stringify(method.slice(0, 128))
    : `(a ${method === null ? 'null' : typeof method})`;
}

function fail(error: StudioErrorShape): Envelope<never> {
  return { ok: false, error };
}

/** Field paths as users read them: `defaults.steps`, `executionProviders[1]`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || '(input)';
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${fieldPath(i.path)}: ${i.message}`).join('; ');
}

export function validationError(method: string, error: z.ZodError): StudioErrorShape {
  const issues = error.issues.map((i) => {
    // Unknown keys come back with the key names in `keys`, not in the path.
    const keys = 'keys' in i && Array.isArray(i.keys) ? (i.keys as string[]) : [];
    const base = fieldPath(i.path);
    const field = keys.length ? keys.map((k) => (base === '(input)' ? k : `${base}.${k}`)).join(', ') : base;
    return { field, message: i.message };
  });
  const first = issues[0];
  const summary = first ? `${first.field}: ${first.message}` : 'invalid input';
  return {
    code: 'VALIDATION',
    message: `Invalid input for ${method}: ${summary}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''}.`,
    details: { issues },
  };
}

/** Services throw this for their own checks so the message names the field like the router does. */
export function fieldError(field: string, message: string): AppError {
  return new AppError('VALIDATION', `${field}: ${message}.`, { issues: [{ field, message }] });
}
