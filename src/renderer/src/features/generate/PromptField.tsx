import { useId, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { applyLoraCompletion, loraCompletionAt, nudgeWeight, type NudgeOptions, type TextEdit } from './promptEditing';
import './promptEditor.css';

export interface PromptFieldProps {
  /** The textarea's id (for external labels and tests); one is made when absent. */
  id?: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  /** LoRA names as prompts write them (`<lora:NAME:W>`): what `<lora:` completes. */
  loraNames?: readonly string[];
  rows?: number;
  placeholder?: string;
  /** A hint under the field, tied to it with aria-describedby. */
  hint?: string;
  weightSteps?: NudgeOptions;
}

/**
 * A prompt textarea with A1111's editing keys: Ctrl/Cmd+Up and Down nudge the attention weight of
 * the selection or the word at the cursor (promptEditing.ts), and typing `<lora:` opens a list of
 * LoRA names (a listbox tied to the textarea with aria-controls and aria-activedescendant: arrows
 * choose, Enter or Tab insert `<lora:NAME:1>`, Escape closes it).
 */
export function PromptField(props: PromptFieldProps) {
  const { value, onChange, loraNames = [] } = props;
  const ownId = useId();
  const id = props.id ?? `prompt-${ownId}`;
  const listId = `${id}-loras`;
  const hintId = `${id}-hint`;
  const textarea = useRef<HTMLTextAreaElement>(null);
  const [cursor, setCursor] = useState<number | null>(null);
  const [active, setActive] = useState(0);
  /** The completion the user closed with Escape (its start), until the cursor leaves it. */
  const [dismissedAt, setDismissedAt] = useState<number | null>(null);
  const pendingSelection = useRef<TextEdit | null>(null);

  const completion = useMemo(
    () => (cursor === null ? null : loraCompletionAt(value, cursor, loraNames)),
    [value, cursor, loraNames],
  );
  const open = completion !== null && completion.start !== dismissedAt;
  const activeIndex = open ? Math.min(active, completion.suggestions.length - 1) : -1;

  // Put the selection back after the edited text has been rendered.
  useLayoutEffect(() => {
    const edit = pendingSelection.current;
    const el = textarea.current;
    if (!edit || !el || el.value !== edit.text) return;
    pendingSelection.current = null;
    el.setSelectionRange(edit.selectionStart, edit.selectionEnd);
    setCursor(edit.selectionStart === edit.selectionEnd ? edit.selectionStart : null);
  });

  const apply = (edit: TextEdit): void => {
    pendingSelection.current = edit;
    onChange(edit.text);
  };

  const choose = (name: string): void => {
    if (!completion) return;
    apply(applyLoraCompletion(value, completion, name));
    setActive(0);
  };

  const trackCursor = (el: HTMLTextAreaElement): void => {
    const at = el.selectionStart === el.selectionEnd ? el.selectionStart : null;
    setCursor(at);
    if (dismissedAt !== null && (at === null || loraCompletionAt(el.value, at, loraNames)?.start !== dismissedAt))
      setDismissedAt(null);
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>): void => {
    const el = e.currentTarget;
    if (open && completion) {
      const count = completion.suggestions.length;
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        setActive((activeIndex + (e.key === 'ArrowDown' ? 1 : count - 1)) % count);
        return;
      }
      if ((e.key === 'Enter' || e.key === 'Tab') && !e.shiftKey && !e.ctrlKey && !e.metaKey && !e.altKey) {
        e.preventDefault();
        const name = completion.suggestions[activeIndex];
        if (name !== undefined) choose(name);
        return;
      }
      if (e.key === 'Escape') {
        e.preventDefault();
        setDismissedAt(completion.start);
        return;
      }
    }
    if ((e.ctrlKey || e.metaKey) && !e.altKey && (e.key === 'ArrowUp' || e.key === 'ArrowDown')) {
      const edit = nudgeWeight(
        el.value,
        el.selectionStart,
        el.selectionEnd,
        e.key === 'ArrowUp' ? 1 : -1,
        props.weightSteps,
      );
      e.preventDefault();
      if (edit) apply(edit);
    }
  };

  return (
    <div className="field prompt-field">
      <label htmlFor={id}>{props.label}</label>
      <textarea
        ref={textarea}
        id={id}
        rows={props.rows ?? 4}
        value={value}
        placeholder={props.placeholder}
        spellCheck={false}
        aria-autocomplete="list"
        aria-controls={open ? listId : undefined}
        aria-activedescendant={open && activeIndex >= 0 ? `${listId}-${activeIndex}` : undefined}
        aria-describedby={props.hint ? hintId : undefined}
        onChange={(e) => {
          onChange(e.target.value);
          trackCursor(e.target);
          setActive(0);
        }}
        onSelect={(e) => trackCursor(e.currentTarget)}
        onKeyDown={onKeyDown}
        onBlur={() => setCursor(null)}
      />
      {props.hint && (
        <span id={hintId} className="muted field-hint">
          {props.hint}
        </span>
      )}
      {open && completion && (
        <ul role="listbox" id={listId} aria-label="LoRA names" className="completion-list">
          {completion.suggestions.map((name, i) => (
            <li
              key={name}
              id={`${listId}-${i}`}
              role="option"
              aria-selected={i === activeIndex}
              className={i === activeIndex ? 'active' : undefined}
              // Keep the focus in the textarea: the click inserts, it does not move the caret.
              onMouseDown={(e) => e.preventDefault()}
              onClick={() => choose(name)}
            >
              {name}
            </li>
          ))}
        </ul>
      )}
      <span className="visually-hidden" role="status">
        {open && completion ? `${completion.suggestions.length} LoRA names; arrows choose, Enter inserts.` : ''}
      </span>
    </div>
  );
}
