import { useId, useMemo, useState } from 'react';
import type { LibraryEntry } from '@contract';
import { useLibrary } from '../../api/useLibrary';
import { appendToPrompt, loraPromptName, lorasInPrompt, setLoraInPrompt } from './promptEditing';
import './promptEditor.css';

const FAMILY_LABELS: Record<LibraryEntry['family'], string> = {
  sd1: 'SD 1.x',
  sd2: 'SD 2.x',
  sdxl: 'SDXL',
  'sdxl-refiner': 'SDXL refiner',
  unknown: 'Unknown base',
};

export interface LoraPickerProps {
  prompt: string;
  onPromptChange: (prompt: string) => void;
  /** The LoRAs to offer; read from `models.list` (kind 'lora') when absent. */
  loras?: readonly LibraryEntry[];
  /** The current model's family: a LoRA made for another one is flagged. */
  modelFamily?: LibraryEntry['family'];
  /** Weight range of the sliders. */
  min?: number;
  max?: number;
  step?: number;
}

/** The `<lora:` names of the library, as prompts write them, for PromptField's completion. */
export function useLoraEntries(): { loras: LibraryEntry[]; error: string | null } {
  const { entries, error } = useLibrary();
  const loras = useMemo(() => entries.filter((e) => e.kind === 'lora'), [entries]);
  return { loras, error };
}

/**
 * The library's LoRAs with their base family and trigger words (the author's trigger phrase, then
 * the most used training tags). The prompt is the one source of truth: a LoRA is "on" when the
 * prompt has its `<lora:NAME:W>` tag, and ticking, unticking or moving its weight slider edits that
 * tag (promptEditing.ts). Clicking a trigger word adds it to the prompt.
 */
export function LoraPicker(props: LoraPickerProps) {
  if (props.loras) return <LoraList {...props} loras={props.loras} error={null} />;
  return <LibraryLoraPicker {...props} />;
}

function LibraryLoraPicker(props: LoraPickerProps) {
  const { loras, error } = useLoraEntries();
  return <LoraList {...props} loras={loras} error={error} />;
}

function LoraList(props: LoraPickerProps & { loras: readonly LibraryEntry[]; error: string | null }) {
  const { prompt, onPromptChange, min = -1, max = 2, step = 0.05 } = props;
  const filterId = useId();
  const [filter, setFilter] = useState('');
  const inPrompt = useMemo(() => {
    const weights = new Map<string, number>();
    for (const tag of lorasInPrompt(prompt))
      if (!weights.has(tag.name.toLowerCase())) weights.set(tag.name.toLowerCase(), tag.weight);
    return weights;
  }, [prompt]);
  const shown = props.loras.filter((entry) => {
    const q = filter.trim().toLowerCase();
    return (
      !q ||
      entry.name.toLowerCase().includes(q) ||
      loraPromptName(entry.id).toLowerCase().includes(q) ||
      entry.triggerWords.some((w) => w.toLowerCase().includes(q))
    );
  });

  return (
    <fieldset className="lora-picker">
      <legend>LoRAs</legend>
      {props.error && (
        <p role="alert" className="field-error">
          {props.error}
        </p>
      )}
      {props.loras.length === 0 && !props.error && (
        <p className="muted">No LoRAs yet: import them on the Models page.</p>
      )}
      {props.loras.length > 6 && (
        <div className="field">
          <label htmlFor={filterId}>Find a LoRA</label>
          <input id={filterId} type="search" value={filter} onChange={(e) => setFilter(e.target.value)} />
        </div>
      )}
      <ul className="lora-list" aria-label="LoRAs">
        {shown.map((entry) => {
          const name = loraPromptName(entry.id);
          const weight = inPrompt.get(name.toLowerCase());
          const on = weight !== undefined;
          const usable = entry.status === 'ok';
          const mismatch =
            props.modelFamily !== undefined &&
            props.modelFamily !== 'unknown' &&
            entry.family !== 'unknown' &&
            entry.family !== props.modelFamily;
          const rowId = `lora-${entry.id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
          return (
            <li key={entry.id} className={`lora-row${on ? ' on' : ''}`} data-testid={rowId}>
              <div className="lora-head">
                <label className="inline">
                  <input
                    type="checkbox"
                    checked={on}
                    disabled={!usable && !on}
                    aria-describedby={!usable || mismatch ? `${rowId}-note` : undefined}
                    onChange={(e) => onPromptChange(setLoraInPrompt(prompt, name, e.target.checked ? 1 : null))}
                  />
                  {entry.name}
                </label>
                <span className={`badge family${mismatch ? ' mismatch' : ''}`} title="Base model family">
                  {FAMILY_LABELS[entry.family]}
                </span>
              </div>
              {(!usable || mismatch) && (
                <p id={`${rowId}-note`} className={usable ? 'muted lora-note' : 'field-error lora-note'}>
                  {usable
                    ? `Made for ${FAMILY_LABELS[entry.family]}; the model is ${FAMILY_LABELS[props.modelFamily ?? 'unknown']}.`
                    : entry.problem}
                </p>
              )}
              {on && (
                <div className="lora-weight">
                  <input
                    type="range"
                    min={min}
                    max={max}
                    step={step}
                    value={weight}
                    aria-label={`${entry.name} weight`}
                    onChange={(e) => onPromptChange(setLoraInPrompt(prompt, name, Number(e.target.value)))}
                  />
                  <output aria-hidden="true">{weight.toFixed(2)}</output>
                </div>
              )}
              {entry.triggerWords.length > 0 && (
                <div className="trigger-words" role="group" aria-label={`${entry.name} trigger words`}>
                  {entry.triggerWords.map((word) => (
                    <button
                      key={word}
                      type="button"
                      className="ghost trigger-word"
                      title="Add to the prompt"
                      aria-label={`Add “${word}” to the prompt`}
                      onClick={() => onPromptChange(appendToPrompt(prompt, word))}
                    >
                      {word}
                    </button>
                  ))}
                </div>
              )}
            </li>
          );
        })}
      </ul>
    </fieldset>
  );
}
