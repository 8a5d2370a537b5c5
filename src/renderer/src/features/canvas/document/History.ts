/**
 * Undo and redo, bounded by memory rather than by count: each entry says how many bytes it holds
 * (mask patches, images no longer on the canvas), and the oldest entries are dropped once the
 * total passes the budget.
 */

export interface HistoryEntry {
  /** Shown in the undo button's title: "Undo brush stroke". */
  readonly label: string;
  /** Bytes this entry keeps alive (raster patches, images held for redo). */
  readonly bytes: number;
  undo(): void;
  redo(): void;
}

export const DEFAULT_HISTORY_BUDGET = 256 * 1024 * 1024;

export class History {
  private done: HistoryEntry[] = [];
  private undone: HistoryEntry[] = [];
  private total = 0;

  constructor(readonly budgetBytes: number = DEFAULT_HISTORY_BUDGET) {}

  /** Records an edit that has already been applied; clears the redo stack. */
  push(entry: HistoryEntry): void {
    for (const e of this.undone) this.total -= e.bytes;
    this.undone = [];
    this.done.push(entry);
    this.total += entry.bytes;
    while (this.total > this.budgetBytes && this.done.length > 0) {
      const dropped = this.done.shift() as HistoryEntry;
      this.total -= dropped.bytes;
    }
  }

  undo(): HistoryEntry | null {
    const entry = this.done.pop();
    if (!entry) return null;
    entry.undo();
    this.undone.push(entry);
    return entry;
  }

  redo(): HistoryEntry | null {
    const entry = this.undone.pop();
    if (!entry) return null;
    entry.redo();
    this.done.push(entry);
    return entry;
  }

  clear(): void {
    this.done = [];
    this.undone = [];
    this.total = 0;
  }

  get canUndo(): boolean {
    return this.done.length > 0;
  }
  get canRedo(): boolean {
    return this.undone.length > 0;
  }
  get undoDepth(): number {
    return this.done.length;
  }
  get redoDepth(): number {
    return this.undone.length;
  }
  get bytes(): number {
    return this.total;
  }
  get nextUndoLabel(): string | null {
    return this.done.at(-1)?.label ?? null;
  }
  get nextRedoLabel(): string | null {
    return this.undone.at(-1)?.label ?? null;
  }
}
