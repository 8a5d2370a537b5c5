/**
 * The samplers a user picks, each as the diffusers scheduler class it names, built from a model's
 * scheduler_config.json the way `SchedulerClass.from_config(pipe.scheduler.config)` builds it.
 */
import { DDIMScheduler } from './ddim';
import { DDPMScheduler } from './ddpm';
import { DPMSolverMultistepScheduler } from './dpmSolverMultistep';
import { DPMSolverSDEScheduler } from './dpmSolverSde';
import { EulerAncestralDiscreteScheduler } from './eulerAncestral';
import { EulerDiscreteScheduler } from './eulerDiscrete';
import { HeunDiscreteScheduler } from './heun';
import { LCMScheduler } from './lcm';
import { LMSDiscreteScheduler } from './lms';
import { PNDMScheduler } from './pndm';
import { UniPCMultistepScheduler } from './unipc';
import type { Scheduler, SchedulerName } from './Scheduler';

export { schedulerNames, timestepsForStrength } from './Scheduler';
export type { Scheduler, SchedulerName } from './Scheduler';

/**
 * A scheduler for the sampler `name`, configured from `config` (a scheduler_config.json as loaded:
 * snake_case keys; unknown keys are ignored, missing ones take the class's diffusers default). The
 * DPM++ names fix what their name says (DPM-Solver++, second order, Karras sigmas or not) over the
 * config; everything else comes from the config as `from_config` would take it.
 */
export function createScheduler(name: SchedulerName, config: Readonly<Record<string, unknown>>): Scheduler {
  switch (name) {
    case 'pndm':
      return new PNDMScheduler(name, config);
    case 'ddim':
      return new DDIMScheduler(name, config);
    case 'euler':
      return new EulerDiscreteScheduler(name, config);
    case 'euler_a':
      return new EulerAncestralDiscreteScheduler(name, config);
    case 'dpmpp_2m':
    case 'dpmpp_2m_karras':
      return new DPMSolverMultistepScheduler(name, {
        ...config,
        algorithm_type: 'dpmsolver++',
        solver_order: 2,
        use_karras_sigmas: name === 'dpmpp_2m_karras',
      });
    case 'dpmpp_sde_karras':
      return new DPMSolverSDEScheduler(name, { ...config, use_karras_sigmas: true });
    case 'heun':
      return new HeunDiscreteScheduler(name, config);
    case 'lms':
      return new LMSDiscreteScheduler(name, config);
    case 'ddpm':
      return new DDPMScheduler(name, config);
    case 'lcm':
      return new LCMScheduler(name, config);
    case 'unipc':
      return new UniPCMultistepScheduler(name, config);
  }
}
