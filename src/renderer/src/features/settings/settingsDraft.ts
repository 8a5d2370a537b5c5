/** The settings form's editable copy, and the pure edits the form makes to it. */
import type { ExecutionProvider, Settings, SettingsPatch } from '@contract';

export type SettingsDraft = Omit<Settings, 'schemaVersion' | 'defaults'> & {
  defaults: Omit<Settings['defaults'], 'sampler'> & { sampler: string };
};

export function toggleProvider(list: readonly ExecutionProvider[], p: ExecutionProvider): ExecutionProvider[] {
  return list.includes(p) ? list.filter((x) => x !== p) : [...list, p];
}

export function moveProvider(
  list: readonly ExecutionProvider[],
  p: ExecutionProvider,
  delta: -1 | 1,
): ExecutionProvider[] {
  const i = list.indexOf(p);
  const j = i + delta;
  if (i < 0 || j < 0 || j >= list.length) return [...list];
  const next = [...list];
  [next[i], next[j]] = [next[j] as ExecutionProvider, next[i] as ExecutionProvider];
  return next;
}

/**
 * The whole draft as a patch. Values go to main as typed (NaN included) so that main's validation,
 * not the form, decides what is valid and names the field.
 */
export function toSettingsPatch(draft: SettingsDraft): SettingsPatch {
  return draft as SettingsPatch;
}
