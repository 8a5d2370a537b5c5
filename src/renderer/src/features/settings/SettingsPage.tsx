import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { executionProviders, samplerNames, themes, type ExecutionProvider, type Settings } from '@contract';
import { StudioError } from '../../api/client';
import { useSettings, useStudio } from '../../api/StudioProvider';
import { PageHeader } from '../../app/PageHeader';
import { moveProvider, toggleProvider, toSettingsPatch, type SettingsDraft } from './settingsDraft';

const providerLabels: Record<ExecutionProvider, string> = {
  cuda: 'CUDA (NVIDIA)',
  dml: 'DirectML (Windows)',
  coreml: 'Core ML (macOS)',
  webgpu: 'WebGPU',
  cpu: 'CPU',
};

export function SettingsPage() {
  const { client } = useStudio();
  const { settings, error: loadError } = useSettings();
  const [draft, setDraft] = useState<SettingsDraft | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [status, setStatus] = useState<{ kind: 'saved' | 'error'; text: string } | null>(null);
  const [saving, setSaving] = useState(false);

  useEffect(() => {
    if (settings && draft === null) setDraft(draftOf(settings));
  }, [settings, draft]);

  if (loadError) return <p role="alert">Settings could not be loaded: {loadError}</p>;
  if (!draft || !settings) return <p aria-busy="true">Loading settings…</p>;

  const set = <K extends keyof SettingsDraft>(key: K, value: SettingsDraft[K]): void => {
    setDraft({ ...draft, [key]: value });
    setStatus(null);
  };
  const setDefault = <K extends keyof SettingsDraft['defaults']>(key: K, value: SettingsDraft['defaults'][K]): void => {
    setDraft({ ...draft, defaults: { ...draft.defaults, [key]: value } });
    setStatus(null);
  };

  const save = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setSaving(true);
    setFieldErrors({});
    try {
      const saved = await client.invoke('settings.update', toSettingsPatch(draft));
      setDraft(draftOf(saved));
      setStatus({ kind: 'saved', text: 'Settings saved.' });
    } catch (err) {
      if (err instanceof StudioError) setFieldErrors(err.fieldMessages());
      setStatus({ kind: 'error', text: err instanceof Error ? err.message : String(err) });
    } finally {
      setSaving(false);
    }
  };

  const reset = async (): Promise<void> => {
    const saved = await client.invoke('settings.reset', {});
    setDraft(draftOf(saved));
    setFieldErrors({});
    setStatus({ kind: 'saved', text: 'Settings reset to defaults.' });
  };

  return (
    <>
      <PageHeader title="Settings" subtitle="Saved on this machine; nothing leaves it." />
      <form className="settings" onSubmit={(e) => void save(e)} noValidate>
        <fieldset>
          <legend>Folders</legend>
          <Field label="Models folder" error={fieldErrors.modelsDir} id="modelsDir">
            <input
              id="modelsDir"
              value={draft.modelsDir}
              onChange={(e) => set('modelsDir', e.target.value)}
              spellCheck={false}
            />
          </Field>
          <Field label="Output folder" error={fieldErrors.outputDir} id="outputDir">
            <input
              id="outputDir"
              value={draft.outputDir}
              onChange={(e) => set('outputDir', e.target.value)}
              spellCheck={false}
            />
          </Field>
        </fieldset>

        <fieldset>
          <legend>Hardware</legend>
          <p className="muted">Execution providers in order of preference; the engine falls back down the list.</p>
          <ol className="provider-list" aria-label="Execution provider preference">
            {[
              ...draft.executionProviders,
              ...executionProviders.filter((p) => !draft.executionProviders.includes(p)),
            ].map((p) => {
              const on = draft.executionProviders.includes(p);
              const index = draft.executionProviders.indexOf(p);
              return (
                <li key={p}>
                  <label>
                    <input
                      type="checkbox"
                      checked={on}
                      onChange={() => set('executionProviders', toggleProvider(draft.executionProviders, p))}
                    />
                    {providerLabels[p]}
                  </label>
                  <button
                    type="button"
                    className="ghost"
                    aria-label={`Move ${providerLabels[p]} up`}
                    disabled={!on || index === 0}
                    onClick={() => set('executionProviders', moveProvider(draft.executionProviders, p, -1))}
                  >
                    ↑
                  </button>
                  <button
                    type="button"
                    className="ghost"
                    aria-label={`Move ${providerLabels[p]} down`}
                    disabled={!on || index === draft.executionProviders.length - 1}
                    onClick={() => set('executionProviders', moveProvider(draft.executionProviders, p, 1))}
                  >
                    ↓
                  </button>
                </li>
              );
            })}
          </ol>
          {fieldErrors.executionProviders && <p className="field-error">{fieldErrors.executionProviders}</p>}
        </fieldset>

        <fieldset>
          <legend>Generation defaults</legend>
          <div className="grid">
            <Field label="Sampler" id="sampler" error={fieldErrors['defaults.sampler']}>
              <select
                id="sampler"
                value={draft.defaults.sampler}
                onChange={(e) => setDefault('sampler', e.target.value)}
              >
                {samplerNames.map((s) => (
                  <option key={s} value={s}>
                    {s}
                  </option>
                ))}
              </select>
            </Field>
            <NumberField
              label="Steps"
              id="steps"
              value={draft.defaults.steps}
              error={fieldErrors['defaults.steps']}
              onChange={(v) => setDefault('steps', v)}
            />
            <NumberField
              label="CFG scale"
              id="cfg"
              step="0.5"
              value={draft.defaults.cfg}
              error={fieldErrors['defaults.cfg']}
              onChange={(v) => setDefault('cfg', v)}
            />
            <NumberField
              label="Width"
              id="width"
              step="8"
              value={draft.defaults.width}
              error={fieldErrors['defaults.width']}
              onChange={(v) => setDefault('width', v)}
            />
            <NumberField
              label="Height"
              id="height"
              step="8"
              value={draft.defaults.height}
              error={fieldErrors['defaults.height']}
              onChange={(v) => setDefault('height', v)}
            />
            <NumberField
              label="Batch size"
              id="batchSize"
              value={draft.defaults.batchSize}
              error={fieldErrors['defaults.batchSize']}
              onChange={(v) => setDefault('batchSize', v)}
            />
            <NumberField
              label="Batch count"
              id="batchCount"
              value={draft.defaults.batchCount}
              error={fieldErrors['defaults.batchCount']}
              onChange={(v) => setDefault('batchCount', v)}
            />
            <NumberField
              label="Seed (-1 = random)"
              id="seed"
              value={draft.defaults.seed}
              error={fieldErrors['defaults.seed']}
              onChange={(v) => setDefault('seed', v)}
            />
            <Field label="Random numbers" id="rng" error={fieldErrors['defaults.rng']}>
              <select
                id="rng"
                value={draft.defaults.rng}
                onChange={(e) => setDefault('rng', e.target.value as SettingsDraft['defaults']['rng'])}
              >
                <option value="torch-cpu">torch CPU (same seeds as A1111/diffusers)</option>
                <option value="fast">fast</option>
              </select>
            </Field>
          </div>
        </fieldset>

        <fieldset>
          <legend>Appearance</legend>
          <Field label="Theme" id="theme" error={fieldErrors.theme}>
            <select id="theme" value={draft.theme} onChange={(e) => set('theme', e.target.value as Settings['theme'])}>
              {themes.map((t) => (
                <option key={t} value={t}>
                  {t === 'dark' ? 'Dark' : 'Light'}
                </option>
              ))}
            </select>
          </Field>
        </fieldset>

        <div className="form-actions">
          <button type="submit" disabled={saving}>
            {saving ? 'Saving…' : 'Save settings'}
          </button>
          <button type="button" className="secondary" onClick={() => void reset()}>
            Reset to defaults
          </button>
          {status && (
            <span
              role={status.kind === 'error' ? 'alert' : 'status'}
              className={status.kind === 'error' ? 'field-error' : 'ok'}
            >
              {status.text}
            </span>
          )}
        </div>
      </form>
    </>
  );
}

function draftOf(s: Settings): SettingsDraft {
  const { schemaVersion: _v, ...rest } = s;
  return structuredClone(rest);
}

function Field(props: { label: string; id: string; error?: string | undefined; children: ReactNode }) {
  return (
    <div className={`field${props.error ? ' has-error' : ''}`}>
      <label htmlFor={props.id}>{props.label}</label>
      {props.children}
      {props.error && (
        <span className="field-error" id={`${props.id}-error`}>
          {props.error}
        </span>
      )}
    </div>
  );
}

function NumberField(props: {
  label: string;
  id: string;
  value: number;
  step?: string;
  error?: string | undefined;
  onChange: (v: number) => void;
}) {
  return (
    <Field label={props.label} id={props.id} error={props.error}>
      <input
        id={props.id}
        type="number"
        inputMode="decimal"
        step={props.step ?? '1'}
        value={Number.isFinite(props.value) ? props.value : ''}
        aria-invalid={props.error ? true : undefined}
        onChange={(e) => props.onChange(e.target.value === '' ? Number.NaN : Number(e.target.value))}
      />
    </Field>
  );
}
