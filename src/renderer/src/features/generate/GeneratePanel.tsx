import { useEffect, useMemo, useState, type FormEvent } from 'react';
import {
  DEMO_MODEL,
  familyDefaults,
  samplerNames,
  zImageSide,
  type GenerateRequestInput,
  type Job,
  type LibraryEntry,
  type SamplerName,
} from '@contract';
import { StudioError } from '../../api/client';
import { mediaUrl } from '../../api/media';
import { useSettings, useStudio } from '../../api/StudioProvider';
import { useJobs } from '../../api/useJobs';
import { useLibrary } from '../../api/useLibrary';
import { remixFrom, takeRemix, usePendingRemix } from '../../app/remixStore';
import type { CanvasDocument } from '../canvas/document/CanvasDocument';
import type { Rect } from '../canvas/document/geometry';
import { encodePng } from '../canvas/imageIO';
import { settledChanges, useCanvasDocument } from '../canvas/useCanvasDocument';
import { blobToBase64, planCanvasRequest } from '../studio/canvasRequest';
import { JobProgressBar } from './JobProgressBar';
import { LoraPicker, useLoraEntries } from './LoraPicker';
import { PromptField } from './PromptField';
import { loraPromptName } from './promptEditing';

interface Draft {
  prompt: string;
  negativePrompt: string;
  model: string;
  sampler: string;
  steps: number;
  cfg: number;
  width: number;
  height: number;
  seed: number;
  batchCount: number;
  batchSize: number;
  /** img2img from a gallery image when set (overrides the canvas). */
  initImageId?: number | undefined;
  initMedia?: string | undefined;
  strength: number;
  maskBlur: number;
  inpaintArea: 'full' | 'masked';
  inpaintPadding: number;
  maskedContent: 'original' | 'latent-noise' | 'fill';
  outpaintFill: 'edge' | 'blur' | 'noise';
  colorMatch: boolean;
  hires: boolean;
  hiresWidth: number;
  hiresHeight: number;
  hiresStrength: number;
  hiresUpscaler: 'lanczos' | 'latent';
  /** SDXL: a refiner model folder ('' = none) and where it takes over (0..1). */
  refiner: string;
  refinerSwitchAt: number;
}

/** The panel's fields outlive the page: going to the Gallery and back keeps the prompt. */
let savedDraft: Draft | null = null;

export interface SubmittedJob {
  jobId: string;
  /** Where the results belong on the canvas (the box), or null when the job did not come from it. */
  placeAt: Rect | null;
}

export interface GeneratePanelProps {
  /** The Studio's canvas: the box gives the size and the mode, the image and mask the inputs. */
  doc?: CanvasDocument;
  onSubmitted?: (job: SubmittedJob) => void;
  /** Whether the panel shows the job's results itself (without a canvas there is no staging strip). */
  showResults?: boolean;
}

const MODE_LABELS = {
  txt2img: 'Text to image',
  img2img: 'Image to image',
  inpaint: 'Inpaint',
  outpaint: 'Outpaint',
} as const;

const FAMILY_BADGES: Record<LibraryEntry['family'], string> = {
  sd1: 'SD 1.x',
  sd2: 'SD 2.x',
  sdxl: 'SDXL',
  'sdxl-refiner': 'SDXL refiner',
  unknown: '?',
};

/** The models the picker offers: the library's loadable model folders. */
function useModels(): LibraryEntry[] {
  const { entries } = useLibrary();
  return useMemo(() => entries.filter((e) => e.kind === 'model' && e.status === 'ok'), [entries]);
}

/**
 * Prompt, parameters, Generate and Cancel. In the Studio the canvas decides the mode (empty box:
 * txt2img; over the image: img2img; a mask: inpaint; past the edge: outpaint) and the size (the
 * box); the panel shows the settings that mode uses.
 */
export function GeneratePanel({ doc, onSubmitted, showResults = !doc }: GeneratePanelProps) {
  const { client, hostKind } = useStudio();
  const { settings } = useSettings();
  const { jobs, progress } = useJobs();
  const models = useModels();
  const { loras } = useLoraEntries();
  const loraNames = useMemo(() => loras.map((l) => loraPromptName(l.id)), [loras]);
  useCanvasDocument(doc, settledChanges);
  const canvasMode = doc?.mode();
  const box = doc?.box;
  const [draft, setDraft] = useState<Draft | null>(() =>
    savedDraft ? { ...savedDraft, ...(doc ? { width: doc.box.width, height: doc.box.height } : {}) } : null,
  );
  useEffect(() => {
    savedDraft = draft;
  }, [draft]);
  const [jobId, setJobId] = useState<string | null>(null);
  const [lastSeed, setLastSeed] = useState<number | null>(null);
  const [error, setError] = useState<{ message: string; fields: Record<string, string> } | null>(null);

  useEffect(() => {
    if (settings && !draft) {
      const d = settings.defaults;
      setDraft({
        prompt: '',
        negativePrompt: '',
        model: DEMO_MODEL,
        sampler: d.sampler,
        steps: d.steps,
        cfg: d.cfg,
        width: d.width,
        height: d.height,
        seed: d.seed,
        batchCount: d.batchCount,
        batchSize: d.batchSize,
        strength: 0.75,
        maskBlur: 4,
        inpaintArea: 'full',
        inpaintPadding: 32,
        maskedContent: 'original',
        outpaintFill: 'edge',
        colorMatch: false,
        hires: false,
        hiresWidth: d.width * 2,
        hiresHeight: d.height * 2,
        hiresStrength: 0.5,
        hiresUpscaler: 'lanczos',
        refiner: '',
        refinerSwitchAt: 0.8,
      });
      // A fresh canvas starts at the default size; one already worked on keeps its box.
      if (doc && doc.version === 0) doc.setBox({ ...doc.box, width: d.width, height: d.height });
    }
  }, [settings, draft, doc]);

  // The box is the size: a box dragged on the canvas shows here.
  useEffect(() => {
    if (!box || !draft) return;
    if (box.width !== draft.width || box.height !== draft.height) {
      setDraft({ ...draft, width: box.width, height: box.height });
    }
  }, [box?.width, box?.height]);

  const [notice, setNotice] = useState<string | null>(null);
  const [dragging, setDragging] = useState(false);
  const remix = usePendingRemix();
  useEffect(() => {
    if (!remix || !draft) return;
    const r = takeRemix();
    if (!r) return;
    const { source, ...fields } = r;
    setDraft({ ...draft, initImageId: undefined, initMedia: undefined, ...fields });
    if (doc && fields.width && fields.height) doc.setBox({ ...doc.box, width: fields.width, height: fields.height });
    setNotice(`Recipe loaded from ${source}.`);
  }, [remix, draft, doc]);

  const onDrop = async (file: File | undefined): Promise<void> => {
    setDragging(false);
    if (!file) return;
    try {
      const recall = await client.invoke('gallery.recall', { png: await blobToBase64(file) });
      if (recall.source === 'unknown') {
        setNotice(`${file.name} carries no generation parameters.`);
        return;
      }
      const { source, ...fields } = remixFrom(recall.recipe, `${file.name} (${recall.source})`);
      setDraft((d) => (d ? { ...d, ...fields } : d));
      setNotice(`Recipe loaded from ${source}.`);
    } catch (err) {
      setNotice(err instanceof Error ? err.message : String(err));
    }
  };

  const job: Job | undefined = jobs.find((j) => j.id === jobId);
  useEffect(() => {
    if (job?.status === 'done') setLastSeed(job.request.seed);
  }, [job?.status, job?.request.seed]);

  if (!draft || !settings) return <p aria-busy="true">Loading…</p>;
  const busy = job?.status === 'queued' || job?.status === 'running';
  const set = <K extends keyof Draft>(key: K, value: Draft[K]): void => setDraft({ ...draft, [key]: value });
  const selectedModel = models.find((m) => m.path === draft.model);
  const refiners = models.filter((m) => m.family === 'sdxl-refiner');
  const family = selectedModel?.family ?? 'sd1';
  // A gallery init image overrides the canvas; otherwise the canvas decides.
  const mode = draft.initImageId !== undefined ? 'img2img' : (canvasMode?.mode ?? 'txt2img');

  const chooseModel = (path: string): void => {
    const entry = models.find((m) => m.path === path);
    const defaults = familyDefaults(entry?.family ?? 'sd1', entry?.variant ?? 'standard');
    const next = { ...draft, model: path };
    if (entry && (entry.family !== selectedModel?.family || entry.variant !== selectedModel?.variant)) {
      // A new family starts at its own size, steps and guidance, as the anchor apps do.
      Object.assign(next, { steps: defaults.steps, cfg: defaults.cfg, sampler: defaults.sampler });
      if (mode === 'txt2img') {
        Object.assign(next, { width: defaults.size, height: defaults.size });
        if (doc) doc.setBox({ ...doc.box, width: defaults.size, height: defaults.size });
      }
    }
    setDraft(next);
  };

  const setSize = (key: 'width' | 'height', value: number): void => {
    set(key, value);
    // Only a valid size moves the box (typing "7", "76", "768" passes through invalid values).
    if (doc && sizeProblem(value) === null) {
      doc.setBox({ ...doc.box, [key]: value });
    }
  };

  const canvasFields = async (): Promise<{ fields: Partial<GenerateRequestInput>; placeAt: Rect | null }> => {
    if (!doc || draft.initImageId !== undefined) {
      return {
        fields:
          draft.initImageId !== undefined
            ? { mode: 'img2img', initImageId: draft.initImageId, strength: draft.strength }
            : { mode: 'txt2img' },
        placeAt: null,
      };
    }
    const inputs = doc.generationInputs();
    const plan = planCanvasRequest(inputs, doc.bounds());
    const fields: Partial<GenerateRequestInput> = { mode: plan.mode, width: plan.width, height: plan.height };
    const lineage = doc.lineage();
    if (lineage.length) fields.parentImageId = lineage[lineage.length - 1];
    if (plan.source) fields.initImage = await blobToBase64(await encodePng(doc.initImage(plan.source)));
    if (plan.mode === 'img2img') fields.strength = draft.strength;
    if (plan.mode === 'inpaint' && inputs.mask) {
      Object.assign(fields, {
        strength: draft.strength,
        mask: await blobToBase64(await encodePng(inputs.mask)),
        maskBlur: draft.maskBlur,
        inpaintArea: draft.inpaintArea,
        inpaintPadding: draft.inpaintPadding,
        maskedContent: draft.maskedContent,
        colorMatch: draft.colorMatch,
      });
    }
    if (plan.mode === 'outpaint' && plan.extents) {
      Object.assign(fields, {
        outpaint: plan.extents,
        outpaintFill: draft.outpaintFill,
        maskBlur: draft.maskBlur,
        colorMatch: draft.colorMatch,
      });
    }
    return { fields, placeAt: plan.placeAt };
  };

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    // The box only takes valid sizes, so a typed size that is not one is refused here, in words.
    for (const key of ['width', 'height'] as const) {
      const problem = sizeProblem(draft[key]);
      if (problem) {
        setError({ message: `Invalid size: ${key}: ${problem} (got ${draft[key]}).`, fields: { [key]: problem } });
        return;
      }
    }
    try {
      const { fields, placeAt } = await canvasFields();
      const request: GenerateRequestInput = {
        mode: 'txt2img',
        model: draft.model.trim() || DEMO_MODEL,
        prompt: draft.prompt,
        negativePrompt: draft.negativePrompt,
        sampler: draft.sampler as SamplerName,
        steps: draft.steps,
        cfg: draft.cfg,
        width: draft.width,
        height: draft.height,
        seed: draft.seed,
        rng: settings.defaults.rng,
        batchSize: draft.batchSize,
        batchCount: draft.batchCount,
        ...fields,
      };
      if (draft.refiner && family === 'sdxl' && (request.mode === 'txt2img' || request.mode === 'img2img')) {
        request.refiner = { model: draft.refiner, switchAt: draft.refinerSwitchAt };
      }
      if (request.mode === 'txt2img' && draft.hires) {
        request.hires = {
          width: draft.hiresWidth,
          height: draft.hiresHeight,
          strength: draft.hiresStrength,
          upscaler: draft.hiresUpscaler,
        };
      }
      const { jobId: id } = await client.invoke('generate.submit', request);
      setJobId(id);
      onSubmitted?.({ jobId: id, placeAt });
    } catch (err) {
      setError({
        message: err instanceof Error ? err.message : String(err),
        fields: err instanceof StudioError ? err.fieldMessages() : {},
      });
    }
  };

  type NumKey =
    | 'steps'
    | 'cfg'
    | 'width'
    | 'height'
    | 'seed'
    | 'strength'
    | 'batchCount'
    | 'batchSize'
    | 'maskBlur'
    | 'inpaintPadding'
    | 'hiresWidth'
    | 'hiresHeight'
    | 'hiresStrength'
    | 'refinerSwitchAt';
  const num = (key: NumKey, label: string, step = '1', title?: string) => (
    <div className={`field${error?.fields[key] ? ' has-error' : ''}`}>
      <label htmlFor={`gen-${key}`} title={title}>
        {label}
      </label>
      <input
        id={`gen-${key}`}
        type="number"
        step={step}
        value={Number.isFinite(draft[key]) ? draft[key] : ''}
        onChange={(e) => {
          const v = e.target.value === '' ? Number.NaN : Number(e.target.value);
          if (key === 'width' || key === 'height') setSize(key, v);
          else set(key, v);
        }}
      />
      {error?.fields[key] && <span className="field-error">{error.fields[key]}</span>}
    </div>
  );
  const choice = <K extends 'inpaintArea' | 'maskedContent' | 'outpaintFill' | 'hiresUpscaler'>(
    key: K,
    label: string,
    options: readonly [Draft[K], string][],
  ) => (
    <div className="field">
      <label htmlFor={`gen-${key}`}>{label}</label>
      <select id={`gen-${key}`} value={draft[key]} onChange={(e) => set(key, e.target.value as Draft[K])}>
        {options.map(([value, text]) => (
          <option key={value} value={value}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );

  const p = jobId ? progress[jobId] : undefined;
  const sizes = familyDefaults(family).sizes;
  return (
    <div
      className={`generate${dragging ? ' dragging' : ''}`}
      onDragOver={(e) => {
        if (!e.dataTransfer.types.includes('Files')) return;
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={(e) => {
        e.preventDefault();
        void onDrop(e.dataTransfer.files[0]);
      }}
    >
      <form
        className="generate-form"
        onSubmit={(e) => void submit(e)}
        aria-label="Generate"
        onKeyDown={(e) => {
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void submit(e);
        }}
      >
        <p className="mode-badge" data-testid="generate-mode" aria-live="polite">
          {MODE_LABELS[mode]}
          {canvasMode && draft.initImageId === undefined && mode !== 'txt2img' && (
            <span className="muted">
              {' '}
              · {canvasMode.box.width}×{canvasMode.box.height}
              {mode === 'inpaint' && ` · ${canvasMode.maskedPixels.toLocaleString()} px masked`}
            </span>
          )}
        </p>
        {notice && (
          <p role="status" className="muted" data-testid="recipe-notice">
            {notice}
          </p>
        )}
        <PromptField
          id="gen-prompt"
          label="Prompt"
          rows={4}
          value={draft.prompt}
          onChange={(v) => set('prompt', v)}
          loraNames={loraNames}
          placeholder="a lighthouse at dusk, oil on canvas"
          hint="Ctrl+Up/Down changes the weight of a word; type <lora: for LoRAs."
        />
        <div className="field">
          <label htmlFor="gen-negative">Negative prompt</label>
          <textarea
            id="gen-negative"
            rows={2}
            value={draft.negativePrompt}
            onChange={(e) => set('negativePrompt', e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="gen-model">Model</label>
          <div className="row">
            <select id="gen-model" value={draft.model} onChange={(e) => chooseModel(e.target.value)}>
              <option value={DEMO_MODEL}>Demo model (tiny, random weights)</option>
              {models
                .filter((m) => !m.demo)
                .map((m) => (
                  <option key={m.id} value={m.path}>
                    {m.name}
                  </option>
                ))}
              {draft.model !== DEMO_MODEL && !selectedModel && <option value={draft.model}>{draft.model}</option>}
            </select>
            <span className="badge" data-testid="model-family" title="Model family, read from the model's graphs">
              {draft.model === DEMO_MODEL ? 'Demo' : FAMILY_BADGES[family]}
            </span>
          </div>
          {draft.model === DEMO_MODEL && (
            <span className="muted">Demo model: random weights, makes patterns, not pictures.</span>
          )}
          {error?.fields.model && <span className="field-error">{error.fields.model}</span>}
        </div>
        <LoraPicker prompt={draft.prompt} onPromptChange={(v) => set('prompt', v)} loras={loras} modelFamily={family} />
        <div className="grid">
          <div className="field">
            <label htmlFor="gen-sampler">Sampler</label>
            <select id="gen-sampler" value={draft.sampler} onChange={(e) => set('sampler', e.target.value)}>
              {samplerNames.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          </div>
          {num('steps', 'Steps')}
          {num('cfg', 'CFG scale', '0.5')}
          {num('width', 'Width', '8', 'The generation box on the canvas follows')}
          {num('height', 'Height', '8')}
          <div className="field">
            <label htmlFor="gen-size-preset">Size preset</label>
            <select
              id="gen-size-preset"
              value=""
              onChange={(e) => {
                const [w, h] = e.target.value.split('x').map(Number) as [number, number];
                setDraft({ ...draft, width: w, height: h });
                if (doc) doc.setBox({ ...doc.box, width: w, height: h });
              }}
            >
              <option value="">{FAMILY_BADGES[family]} sizes…</option>
              {sizes.map(([w, h]) => (
                <option key={`${w}x${h}`} value={`${w}x${h}`}>
                  {w}×{h}
                </option>
              ))}
            </select>
          </div>
          {num('seed', 'Seed (-1 = random)')}
          <div className="field seed-actions">
            <span className="muted">Seed</span>
            <div className="row">
              <button
                type="button"
                className="ghost"
                title="A new random seed each run"
                onClick={() => set('seed', -1)}
              >
                Random
              </button>
              <button
                type="button"
                className="ghost"
                disabled={lastSeed === null}
                title="The seed of the last image made here"
                onClick={() => lastSeed !== null && set('seed', lastSeed)}
              >
                Reuse last
              </button>
            </div>
          </div>
          {num('batchCount', 'Batch count')}
          {num('batchSize', 'Batch size')}
          {mode !== 'txt2img' && mode !== 'outpaint' && num('strength', 'Strength', '0.05')}
        </div>
        {mode === 'inpaint' && (
          <fieldset className="grid mode-settings" aria-label="Inpaint settings">
            {num('maskBlur', 'Mask blur (px)')}
            {choice('inpaintArea', 'Inpaint area', [
              ['full', 'Whole picture'],
              ['masked', 'Only masked'],
            ])}
            {draft.inpaintArea === 'masked' && num('inpaintPadding', 'Padding (px)')}
            {choice('maskedContent', 'Masked content', [
              ['original', 'Original'],
              ['fill', 'Fill'],
              ['latent-noise', 'Latent noise'],
            ])}
          </fieldset>
        )}
        {mode === 'outpaint' && (
          <fieldset className="grid mode-settings" aria-label="Outpaint settings">
            {num('maskBlur', 'Seam blur (px)')}
            {choice('outpaintFill', 'Fill new area with', [
              ['edge', 'Stretched edges'],
              ['blur', 'Blurred colours'],
              ['noise', 'Noise'],
            ])}
          </fieldset>
        )}
        {(mode === 'inpaint' || mode === 'outpaint') && (
          <label className="checkbox">
            <input type="checkbox" checked={draft.colorMatch} onChange={(e) => set('colorMatch', e.target.checked)} />
            Match colours to the surroundings
          </label>
        )}
        {family === 'sdxl' && refiners.length > 0 && (mode === 'txt2img' || mode === 'img2img') && (
          <fieldset className="grid mode-settings" aria-label="SDXL refiner">
            <div className="field">
              <label htmlFor="gen-refiner">Refiner</label>
              <select id="gen-refiner" value={draft.refiner} onChange={(e) => set('refiner', e.target.value)}>
                <option value="">None</option>
                {refiners.map((m) => (
                  <option key={m.id} value={m.path}>
                    {m.name}
                  </option>
                ))}
              </select>
            </div>
            {draft.refiner &&
              num('refinerSwitchAt', 'Switch at', '0.05', 'The share of the steps the base model runs (0.8 = 80%)')}
          </fieldset>
        )}
        {mode === 'txt2img' && (
          <>
            <label className="checkbox">
              <input type="checkbox" checked={draft.hires} onChange={(e) => set('hires', e.target.checked)} />
              Hires fix (generate small, upscale, refine)
            </label>
            {draft.hires && (
              <fieldset className="grid mode-settings" aria-label="Hires fix settings">
                {num('hiresWidth', 'Hires width', '8')}
                {num('hiresHeight', 'Hires height', '8')}
                {num('hiresStrength', 'Hires strength', '0.05')}
                {choice('hiresUpscaler', 'Upscaler', [
                  ['lanczos', 'Lanczos'],
                  ['latent', 'Latent'],
                ])}
              </fieldset>
            )}
          </>
        )}
        {draft.initImageId !== undefined && (
          <div className="init-image" data-testid="init-image">
            {draft.initMedia && (
              <img src={mediaUrl(hostKind, draft.initMedia)} alt="Init image" width={64} height={64} />
            )}
            <span>img2img from gallery image #{draft.initImageId}</span>
            <button
              type="button"
              className="ghost"
              onClick={() => setDraft({ ...draft, initImageId: undefined, initMedia: undefined })}
            >
              Clear
            </button>
          </div>
        )}
        <div className="form-actions">
          <button type="submit" title="Generate (Ctrl+Enter); several runs queue up">
            Generate
          </button>
          <button
            type="button"
            className="secondary"
            disabled={!busy}
            title="Cancel this job (nothing is saved)"
            onClick={() => jobId && void client.invoke('jobs.cancel', { id: jobId })}
          >
            Cancel
          </button>
        </div>
        {error && (
          <p role="alert" className="field-error">
            {error.message}
          </p>
        )}
        {job && <JobProgressBar job={job} progress={p} />}
        {job?.status === 'failed' && (
          <p role="alert" className="field-error">
            {job.error?.message}
          </p>
        )}
        {job?.status === 'cancelled' && <p role="status">Cancelled. Nothing was saved.</p>}
        {job?.status === 'done' && job.path && job.path !== 'txt2img' && (
          <p className="muted" data-testid="job-path">
            {pathLabel(job.path)}
          </p>
        )}
        {job?.notices?.map((n) => (
          <p key={n} className="muted" role="status">
            {n}
          </p>
        ))}
      </form>
      {showResults && (
        <section className="generate-output" aria-label="Result">
          {busy && p?.preview && (
            <img className="preview" src={p.preview} alt="Live preview" width={draft.width} height={draft.height} />
          )}
          {job?.results.map((r) => (
            <figure key={r.media} className="result">
              <img src={mediaUrl(hostKind, r.media)} alt={`Result, seed ${r.seed}`} width={r.width} height={r.height} />
              <figcaption className="muted">
                Seed {r.seed} · {r.width}×{r.height}
              </figcaption>
            </figure>
          ))}
        </section>
      )}
    </div>
  );
}

function pathLabel(path: string): string {
  switch (path) {
    case 'inpaint-unet':
      return 'Ran on the inpainting UNet (mask and masked image as extra channels).';
    case 'masked-blend':
      return 'Ran with masked blending: an ordinary model, the kept area restored at every step.';
    case 'resize':
      return 'Resized only (no denoising pass).';
    default:
      return `Ran as ${path}.`;
  }
}

/** What the contract says is wrong with a typed size, or null (one rule for the panel and the host). */
function sizeProblem(value: number): string | null {
  const parsed = zImageSide.safeParse(value);
  return parsed.success ? null : (parsed.error.issues[0]?.message ?? 'is not a valid size');
}
