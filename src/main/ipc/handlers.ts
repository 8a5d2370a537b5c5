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
    'gallery.page': (query) => app.gallery.page(query),
    'gallery.get': ({ id }) => app.gallery.get(id),
    'gallery.update': ({ ids, favourite, rating, boardId }) => {
      app.gallery.update(ids, { favourite, rating, boardId });
      return {};
    },
    'gallery.trash': ({ ids }) => {
      app.gallery.trash(ids);
      return {};
    },
    'gallery.restore': ({ ids }) => {
      app.gallery.restore(ids);
      return {};
    },
    'gallery.emptyTrash': () => app.gallery.emptyTrash(),
    'gallery.upscale': ({ id, scale, strength }) => {
      const { request, parentImageId } = app.gallery.upscaleRequest(id, scale, strength);
      return app.generation.submit(request, { parentImageId });
    },
    'gallery.rerun': ({ id, newSeed }) => {
      const { request, parentImageId } = app.gallery.rerunRequest(id, newSeed ? -1 : undefined);
      return app.generation.submit(request, { parentImageId });
    },
    'gallery.recall': ({ png }) => app.gallery.recall(Buffer.from(png, 'base64')),
    'gallery.importFolder': ({ folder, board }) => app.gallery.importFolder(folder, board),
    'gallery.export': ({ ids, folder }) => app.gallery.export(ids, folder),
    'models.list': () => app.models.list(),
    'models.check': ({ id }) => app.models.check(id),
    'models.update': ({ id, ...change }) => {
      app.models.update(id, change);
      return {};
    },
    'models.remove': ({ id }) => {
      app.models.remove(id);
      return {};
    },
    'models.import': ({ source, move }) => app.models.import(source, move),
    'models.hash': async ({ id }) => ({ sha256: await app.models.hash(id) }),
    'models.download': ({ url, name }) => app.models.download(url, name),
    'models.cancelImport': ({ importId }) => {
      app.models.cancelImport(importId);
      return {};
    },
    'models.importFile': (chunk) => app.models.importFile(chunk),
    'boards.list': () => app.gallery.repo.listBoards(),
    'boards.create': ({ name }) => app.gallery.repo.createBoard(name),
    'boards.rename': ({ id, name }) => app.gallery.repo.renameBoard(id, name),
    'boards.delete': ({ id }) => {
      app.gallery.repo.deleteBoard(id);
      return {};
    },
    'jobs.move': ({ id, toIndex }) => {
      app.generation.move(id, toIndex);
      return {};
    },
  };
}
