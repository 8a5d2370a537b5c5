/**
 * The sessions of the loaded model's parts, one per slot (`unet`, `text_encoder`, `vae_decoder`, …), each
 * remembered with the key it was built from: the part's file, plus the LoRA weights that part sees and,
 * for text encoders, the embeddings. Loading the same model with other LoRA weights reuses every slot
 * whose key did not change, so changing only a UNet weight (`<lora:x:1:0.4>`) re-merges the UNet and
 * keeps the text encoder's session, and the reverse.
 *
 * A slot holds one session: the old one is released before its replacement is built, so memory stays
 * bounded by one copy of each part. Callers (the Engine) never replace sessions while a run is in flight.
 */
import type { GraphSession } from '../backend/ort';

export interface PartEntry<T = unknown> {
  session: GraphSession;
  /** What building it produced besides the session (LoRA reports, embedding ids). */
  extra: T;
}

export class PartCache {
  private readonly slots = new Map<string, { key: string; entry: PartEntry }>();
  /** Sessions built (opened or merged) since construction: what tests and benchmarks count. */
  builds = 0;

  /** The slot's session when it was built from `key`, else `build()`'s, replacing (and releasing) the old. */
  async get<T>(
    slot: string,
    key: string,
    build: () => Promise<PartEntry<T>>,
  ): Promise<PartEntry<T> & { reused: boolean }> {
    const held = this.slots.get(slot);
    if (held?.key === key) return { ...(held.entry as PartEntry<T>), reused: true };
    if (held) {
      this.slots.delete(slot);
      await held.entry.session.release();
    }
    const entry = await build();
    this.builds += 1;
    this.slots.set(slot, { key, entry });
    return { ...entry, reused: false };
  }

  /** Whether `session` is one this cache holds (it releases those itself). */
  holds(session: GraphSession): boolean {
    for (const { entry } of this.slots.values()) if (entry.session === session) return true;
    return false;
  }

  /** Releases every slot not in `keep`. */
  async keepOnly(keep: Iterable<string>): Promise<void> {
    const wanted = new Set(keep);
    for (const [slot, { entry }] of [...this.slots]) {
      if (wanted.has(slot)) continue;
      this.slots.delete(slot);
      await entry.session.release();
    }
  }

  /** Releases everything. */
  async clear(): Promise<void> {
    await this.keepOnly([]);
  }

  get size(): number {
    return this.slots.size;
  }
}
