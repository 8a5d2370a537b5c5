import type { AppServices } from '../AppServices';
import type { Handlers } from './router';

/** Contract method -> service call. Thin on purpose: inputs are already parsed by the router. */
export function createHandlers(app: AppServices): Handlers {
  return {
    'app.info': () => app.info(),
    'app.dismissNotice': ({ id }) => {
      app.notices.dismiss(id);
      return {};
    },
    'app.openExternal': async ({ url }) => ({ opened: await app.openExternal(url) }),
    'settings.get': () => app.settings.get(),
    'settings.update': (patch) => app.settings.update(patch),
    'settings.reset': () => app.settings.reset(),
    'generate.submit': (request) => app.generation.submit(request),
    'jobs.list': () => app.generation.list(),
    'jobs.cancel': ({ id }) => {
      app.generation.cancel(id);
      return {};
    },
    'engine.unload': async () => {
      await app.generation.idle();
      await app.engine.restart();
      return {};
    },
    'jobs.move': ({ id, toIndex }) => {
      app.generation.move(id, toIndex);
      return {};
    },
  };
}
