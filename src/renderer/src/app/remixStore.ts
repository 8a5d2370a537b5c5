/**
 * Hands a recipe from one page to another ("Remix" in the Gallery, a PNG dropped anywhere) without
 * going through main: the Studio's panel takes it when it mounts or when it changes.
 */
import { useSyncExternalStore } from 'react';

export interface RemixRecipe {
  prompt?: string;
  negativePrompt?: string;
  sampler?: string;
  steps?: number;
  cfg?: number;
  width?: number;
  height?: number;
  seed?: number;
  /** img2img from this gallery image. */
  initImageId?: number;
  /** The init image's media path, for the panel's preview. */
  initMedia?: string;
  strength?: number;
  /** Where it came from, for the notice the panel shows. */
  source: string;
}

let pending: RemixRecipe | null = null;
const listeners = new Set<() => void>();

export function offerRemix(recipe: RemixRecipe): void {
  pending = recipe;
  listeners.forEach((l) => l());
}

export function takeRemix(): RemixRecipe | null {
  const taken = pending;
  pending = null;
  return taken;
}

export function usePendingRemix(): RemixRecipe | null {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => pending,
  );
}

/** The recipe fields the Studio understands, from a recalled recipe of any source. */
export function remixFrom(recipe: Record<string, unknown>, source: string): RemixRecipe {
  const pick = <T>(key: string, type: 'string' | 'number'): T | undefined =>
    typeof recipe[key] === type ? (recipe[key] as T) : undefined;
  const out: RemixRecipe = { source };
  const fields: [keyof RemixRecipe, 'string' | 'number'][] = [
    ['prompt', 'string'],
    ['negativePrompt', 'string'],
    ['sampler', 'string'],
    ['steps', 'number'],
    ['cfg', 'number'],
    ['width', 'number'],
    ['height', 'number'],
    ['seed', 'number'],
  ];
  for (const [key, type] of fields) {
    const v = pick<string | number>(key, type);
    if (v !== undefined) (out as unknown as Record<string, unknown>)[key] = v;
  }
  return out;
}

/** A gallery image offered to the Studio's canvas ("Send to canvas"), taken once like a remix. */
export interface CanvasImageOffer {
  imageId: number;
  /** The image's media path (`outputs/…`), for loading its pixels. */
  media?: string;
  width?: number;
  height?: number;
  /** Where it came from, for the notice the canvas shows. */
  source: string;
}

let pendingCanvas: CanvasImageOffer | null = null;
const canvasListeners = new Set<() => void>();

export function sendToCanvas(
  imageId: number,
  details: Omit<CanvasImageOffer, 'imageId' | 'source'> & { source?: string } = {},
): void {
  pendingCanvas = { source: `gallery image #${imageId}`, ...details, imageId };
  canvasListeners.forEach((l) => l());
}

export function takeCanvasImage(): CanvasImageOffer | null {
  const taken = pendingCanvas;
  pendingCanvas = null;
  return taken;
}

export function usePendingCanvasImage(): CanvasImageOffer | null {
  return useSyncExternalStore(
    (listener) => {
      canvasListeners.add(listener);
      return () => canvasListeners.delete(listener);
    },
    () => pendingCanvas,
  );
}
