/**
 * Watches the models folder so the library follows what the user does in a file manager: a model
 * folder or a LoRA copied in, renamed or deleted. fs.watch is not recursive here on purpose: the top
 * level (model folders) plus `loras/` and `embeddings/` is all the listing reads, and a recursive
 * watch would wake for every byte of a download. Bursts are debounced into one `onChange`.
 *
 * A models folder that does not exist yet (an unplugged drive, a fresh setting) is looked for again
 * every `retryMs`; its appearing counts as a change.
 */
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';

export interface WatcherOptions {
  debounceMs?: number;
  retryMs?: number;
}

const SUBFOLDERS = ['loras', 'embeddings'];

/** Names that change while the library itself works (its data file, temp files, staging) and say nothing new. */
function ignored(name: string): boolean {
  return name.startsWith('.') || name.endsWith('.tmp') || name.endsWith('.part') || name.includes('.importing-');
}

export class ModelFolderWatcher {
  private root: string | null = null;
  private watchers: FSWatcher[] = [];
  private debounce: NodeJS.Timeout | null = null;
  private retry: NodeJS.Timeout | null = null;
  private readonly debounceMs: number;
  private readonly retryMs: number;

  constructor(
    private readonly onChange: () => void,
    options: WatcherOptions = {},
  ) {
    this.debounceMs = options.debounceMs ?? 300;
    this.retryMs = options.retryMs ?? 5000;
  }

  /** Watches `root`; a no-op when it already does, a switch when the folder setting changed. */
  watch(root: string): void {
    if (this.root === root) return;
    this.close();
    this.root = root;
    this.attach(false);
  }

  close(): void {
    this.root = null;
    this.detach();
    if (this.debounce) clearTimeout(this.debounce);
    if (this.retry) clearTimeout(this.retry);
    this.debounce = null;
    this.retry = null;
  }

  private detach(): void {
    for (const w of this.watchers.splice(0)) w.close();
  }

  private attach(announce: boolean): void {
    this.detach();
    const root = this.root;
    if (root === null) return;
    if (!this.add(root, true)) {
      this.retry = setTimeout(() => {
        this.retry = null;
        this.attach(true);
      }, this.retryMs);
      this.retry.unref();
      return;
    }
    for (const sub of SUBFOLDERS) if (existsSync(join(root, sub))) this.add(join(root, sub), false);
    if (announce) this.changed(null);
  }

  private add(dir: string, isRoot: boolean): boolean {
    try {
      const watcher = watch(dir, { persistent: false }, (_type, name) => this.event(isRoot, name?.toString() ?? null));
      // The folder went away (deleted, unmounted): start looking for it again.
      watcher.on('error', () => this.lost());
      this.watchers.push(watcher);
      return true;
    } catch {
      return false;
    }
  }

  private event(isRoot: boolean, name: string | null): void {
    if (this.root === null) return;
    if (!existsSync(this.root)) return this.lost();
    if (name !== null && ignored(name)) return;
    // loras/ or embeddings/ created, replaced or removed: watch the new one.
    if (isRoot && (name === null || SUBFOLDERS.includes(name))) this.attach(false);
    this.changed(name);
  }

  private lost(): void {
    if (this.root === null || this.retry) return;
    this.detach();
    this.changed(null);
    this.retry = setTimeout(() => {
      this.retry = null;
      this.attach(true);
    }, this.retryMs);
    this.retry.unref();
  }

  private changed(_name: string | null): void {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = null;
      this.onChange();
    }, this.debounceMs);
    this.debounce.unref();
  }
}
