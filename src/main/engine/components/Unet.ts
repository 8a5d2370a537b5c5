/**
 * The UNet as the pipelines call it: one denoising prediction for a batch of latents. Builds the
 * feeds from the session's own metadata: `timestep` may be float32, float16 or int64, of shape
 * [batch], [1] or a scalar, depending on the exporter.
 */
import type { GraphSession, HostTensor } from '../backend/ort';
import { EngineError } from '../EngineError';

export interface UnetCall {
  sample: Float32Array;
  batch: number;
  channels: number;
  height: number;
  width: number;
  timestep: number;
  encoderHiddenStates: Float32Array;
  sequence: number;
  contextDim: number;
  /** Extra inputs some UNets take (LCM's `timestep_cond`, SDXL's `text_embeds`, `time_ids`). */
  extra?: Record<string, HostTensor>;
}

export class Unet {
  readonly outputName: string;

  constructor(readonly session: GraphSession) {
    const out = session.outputs.keys().next().value;
    if (!out) throw new EngineError('model', `${session.file} has no outputs.`, session.file);
    this.outputName = session.outputs.has('out_sample') ? 'out_sample' : out;
  }

  async predict(call: UnetCall): Promise<Float32Array> {
    const timestepSpec = this.session.inputs.get('timestep');
    const timestepDims = timestepSpec?.shape.length === 0 ? [] : [call.batch];
    const feeds: Record<string, HostTensor> = {
      sample: { data: call.sample, dims: [call.batch, call.channels, call.height, call.width] },
      timestep: {
        data: new Float32Array(Math.max(1, timestepDims.length ? call.batch : 1)).fill(call.timestep),
        dims: timestepDims,
      },
      // The same embeddings go in at every step: converted (e.g. to fp16) once per job.
      encoder_hidden_states: {
        data: call.encoderHiddenStates,
        dims: [call.batch, call.sequence, call.contextDim],
        stable: true,
      },
      ...call.extra,
    };
    const result = await this.session.run(feeds, [this.outputName]);
    const out = result[this.outputName];
    if (!out)
      throw new EngineError('runtime', `${this.session.file} returned no ${this.outputName}.`, this.session.file);
    return out.data as Float32Array;
  }
}
