import { useState } from 'react';
import { useLibrary } from '../../api/useLibrary';

const DISMISSED_KEY = 'sumi.firstRun.dismissed';

/**
 * With no model of their own yet, a new user is told plainly what they can do: try the built-in demo
 * model now, import a model they already have, or download one. Nothing happens without a click, and
 * nothing leaves the machine except the download they ask for.
 */
export function FirstRun() {
  const { entries, loaded } = useLibrary();
  const [dismissed, setDismissed] = useState(() => {
    try {
      return localStorage.getItem(DISMISSED_KEY) === '1';
    } catch {
      return false;
    }
  });
  if (!loaded || dismissed || entries.some((e) => e.kind === 'model' && !e.demo)) return null;
  const dismiss = (): void => {
    setDismissed(true);
    try {
      localStorage.setItem(DISMISSED_KEY, '1');
    } catch {
      // Private windows may refuse storage: the panel just comes back next time.
    }
  };
  return (
    <section className="first-run" aria-label="Getting started">
      <h2>No model yet</h2>
      <ul>
        <li>
          <strong>Try the demo model</strong> — it is already selected. It is tiny and has random weights, so it makes
          colourful patterns, not pictures: good for learning the canvas, masks and the queue in seconds.
        </li>
        <li>
          <strong>
            <a href="#/models">Import a model</a>
          </strong>{' '}
          — a diffusers ONNX folder you already have (from Amuse, Olive or Optimum), or LoRAs and embeddings as
          .safetensors files. Files are copied or moved into your models folder; nothing is uploaded.
        </li>
        <li>
          <strong>
            <a href="#/models">Download a model</a>
          </strong>{' '}
          — paste the address of a Hugging Face repository laid out as diffusers ONNX. Only that download leaves your
          machine; it resumes if interrupted and is checked against its published hashes.
        </li>
      </ul>
      <button type="button" className="ghost" onClick={dismiss}>
        Got it, hide this
      </button>
    </section>
  );
}
