/**
 * The gallery's selection, by image id (so that it survives items arriving on top and pages being
 * appended): a set of selected ids, the active one (the cell with focus, shown in the detail view)
 * and the anchor a shift-click or shift-arrow extends from. Pure; the page keeps it in state.
 */

export interface Selection {
  ids: ReadonlySet<number>;
  active: number | null;
  anchor: number | null;
}

export const emptySelection: Selection = { ids: new Set(), active: null, anchor: null };

export interface Modifiers {
  /** Ctrl on Windows and Linux, Cmd on macOS: toggle one item. */
  toggle?: boolean;
  /** Shift: select the range from the anchor. */
  range?: boolean;
}

/** Only `id`, active and anchor. */
export function selectOnly(id: number): Selection {
  return { ids: new Set([id]), active: id, anchor: id };
}

/**
 * A click (or a keyboard move, with `range` for Shift) on the item at `index` of `ids` (the loaded
 * items' ids in grid order).
 */
export function selectAt(
  selection: Selection,
  ids: readonly number[],
  index: number,
  modifiers: Modifiers = {},
): Selection {
  const id = ids[index];
  if (id === undefined) return selection;
  if (modifiers.range && selection.anchor !== null) {
    const from = ids.indexOf(selection.anchor);
    if (from >= 0) {
      const [lo, hi] = from <= index ? [from, index] : [index, from];
      const range = ids.slice(lo, hi + 1);
      const next = new Set(modifiers.toggle ? [...selection.ids, ...range] : range);
      return { ids: next, active: id, anchor: selection.anchor };
    }
  }
  if (modifiers.toggle) {
    const next = new Set(selection.ids);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    return { ids: next, active: id, anchor: id };
  }
  return selectOnly(id);
}

/**
 * The selection after `removed` ids left the list (trashed, restored): the active item moves to the
 * item that took its place (the next one, or the previous at the end), selected alone.
 */
export function afterRemoval(
  selection: Selection,
  idsBefore: readonly number[],
  removed: ReadonlySet<number>,
): Selection {
  const remaining = idsBefore.filter((id) => !removed.has(id));
  if (remaining.length === 0) return emptySelection;
  const activeIndex = selection.active === null ? -1 : idsBefore.indexOf(selection.active);
  if (activeIndex < 0) return emptySelection;
  // The first remaining item at or after the old position, else the last remaining before it.
  for (let i = activeIndex; i < idsBefore.length; i++) {
    const id = idsBefore[i] as number;
    if (!removed.has(id)) return selectOnly(id);
  }
  for (let i = activeIndex - 1; i >= 0; i--) {
    const id = idsBefore[i] as number;
    if (!removed.has(id)) return selectOnly(id);
  }
  return emptySelection;
}

/** The ids an action applies to: the selection, or the active item alone when nothing is selected. */
export function targetIds(selection: Selection): number[] {
  if (selection.ids.size > 0) return [...selection.ids];
  return selection.active === null ? [] : [selection.active];
}
