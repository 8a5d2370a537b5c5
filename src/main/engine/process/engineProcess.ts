/**
 * The engine process entry: ORT runs here, never in main (its `run()` can hold the thread, and ORT
 * has known crashes inside Electron's main process). Started by `utilityProcess.fork` in Electron and
 * `child_process.fork` in the web host and the CLI. One job at a time; cancel is checked at every
 * step boundary (ORT cannot abort inside a run).
 */
import { onnxRuntimeVersion, availableProviders, type ProviderName } from '../backend/ort';
import { Engine } from '../Engine';
import { EngineError } from '../EngineError';
import { latentPreview } from '../tensor/preview';
import { TaesdPreview } from '../components/TaesdPreview';
import type { FromEngine, ProbeReport, ToEngine } from './protocol';

interface ParentPort {
  postMessage(message: FromEngine): void;
  on(event: 'message', listener: (e: { data: ToEngine }) => void): void;
}

const electronPort = (process as unknown as { parentPort?: ParentPort }).parentPort;

function send(message: FromEngine): void {
  if (electronPort) electronPort.postMessage(message);
  else process.send?.(message);
}

function onMessage(listener: (message: ToEngine) => void): void {
  if (electronPort) electronPort.on('message', (e) => listener(e.data));
  else process.on('message', (m) => listener(m as ToEngine));
}

const engine = new Engine({ providers: ['cpu'] });
const controllers = new Map<string, AbortController>();
const taesd = new TaesdPreview(() => ({ providers: engine.providers }));
let queue: Promise<void> = Promise.resolve();

function fail(id: string, err: unknown): void {
  if (err instanceof EngineError) {
    const message: FromEngine = { t: 'error', id, kind: err.kind, message: err.message };
    if (err.file) message.file = err.file;
    send(message);
  } else {
    send({ t: 'error', id, kind: 'runtime', message: err instanceof Error ? err.message : String(err) });
  }
}

/** Jobs run strictly one after another; a failure never stops the next. */
function enqueue(id: string, work: () => Promise<void>): void {
  queue = queue.then(() => work().catch((err: unknown) => fail(id, err)));
}

onMessage((message) => {
  switch (message.t) {
    case 'configure':
      engine.setProviders(message.providers);
      return;
    case 'cancel':
      controllers.get(message.id)?.abort();
      return;
    case 'generate': {
      const controller = new AbortController();
      controllers.set(message.id, controller);
      enqueue(message.id, async () => {
        try {
          if (controller.signal.aborted) throw new EngineError('cancelled', 'The job was cancelled.');
          const loras = message.loras ?? [];
          const embeddings = message.embeddings ?? [];
          if (engine.current?.dir !== message.modelDir || loras.length || embeddings.length)
            send({ t: 'loading', id: message.id, modelDir: message.modelDir });
          const t0 = performance.now();
          const loaded = await engine.load(message.modelDir, loras, embeddings);
          const loadMs = performance.now() - t0;
          const result = await engine.generate(
            message.modelDir,
            message.request,
            {
              signal: controller.signal,
              onStep: async ({ step, total, latents, latentWidth, latentHeight }) => {
                const every = message.previewEvery;
                if (!(every > 0 && (step % every === 0 || step === total))) {
                  send({ t: 'step', id: message.id, step, total });
                  return;
                }
                const sdxl = loaded.probe.family.startsWith('sdxl');
                const decoder = sdxl ? message.previewDecoders?.sdxl : message.previewDecoders?.sd;
                const preview =
                  (decoder ? await taesd.decode(decoder, latents, latentWidth, latentHeight) : null) ??
                  latentPreview(latents, 0, latentWidth, latentHeight, sdxl);
                send({ t: 'step', id: message.id, step, total, preview });
              },
            },
            loras,
            embeddings,
          );
          const done: FromEngine = {
            t: 'result',
            id: message.id,
            images: result.images,
            provider: result.model.provider,
            probe: result.model.probe,
            timings: { loadMs, ...result.timings },
            loras: result.model.loras,
            info: result.info,
          };
          if (message.wantLatents) done.latents = result.latents;
          send(done);
        } finally {
          controllers.delete(message.id);
        }
      });
      return;
    }
    case 'probe':
      enqueue(message.id, async () => {
        const loaded = await engine.load(message.modelDir);
        const report: ProbeReport = {
          probe: loaded.probe,
          provider: loaded.provider,
          marker: loaded.folder.marker,
          parts: loaded.sessions.map((s) => ({
            name: s.file.split(/[\\/]/).slice(-2, -1)[0] ?? s.file,
            bytes: Object.values(loaded.folder.parts).find((p) => p.file === s.file)?.bytes ?? 0,
            inputs: [...s.inputs.values()].map((i) => ({ name: i.name, dtype: i.dtype, shape: [...i.shape] })),
            outputs: [...s.outputs.values()].map((o) => ({ name: o.name, dtype: o.dtype, shape: [...o.shape] })),
          })),
        };
        send({ t: 'probed', id: message.id, report });
      });
      return;
    case 'tokenize':
      enqueue(message.id, async () => {
        const loaded = await engine.load(message.modelDir);
        send({ t: 'tokens', id: message.id, ids: loaded.tokenizer.encodeWithSpecials(message.text) });
      });
      return;
    case 'unload':
      enqueue(message.id, async () => {
        await engine.unload();
        send({ t: 'unloaded', id: message.id });
      });
      return;
  }
});

process.on('uncaughtException', (err) => {
  console.error('[engine] uncaught', err);
  process.exit(70);
});

const providers: ProviderName[] = availableProviders();
send({ t: 'ready', pid: process.pid, ortVersion: onnxRuntimeVersion, providers });
