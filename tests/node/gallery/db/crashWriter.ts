/**
 * The crash test's victim, run as its own process: `node --import tsx crashWriter.ts <file> <count>`.
 * Prints `ready` once the database is open, then inserts <count> generations with one image each,
 * each in its own transaction, printing `committed <generationId>` after every commit. The parent
 * kills it with SIGKILL somewhere in the middle.
 */
import { GalleryRepository } from '../../../../src/main/services/gallery/db/GalleryRepository';
import { generation, image, openOk } from './galleryHarness';

const [file, countText] = process.argv.slice(2);
if (!file || !countText) throw new Error('usage: crashWriter.ts <file> <count>');

const db = await openOk(file);
const repo = new GalleryRepository(db);
const latest = db.read.prepare('SELECT max(id) FROM images').pluck().get() as number | null;
let parent = latest;
process.stdout.write('ready\n');
for (let k = 0; k < Number(countText); k++) {
  const n = Date.now() * 1000 + k;
  const { generationId, imageIds } = repo.insertGeneration(
    generation({
      prompt: `crash test ${n} ${'long prompt text '.repeat(k % 40)}`,
      createdAt: Date.now(),
      parentImageId: parent,
    }),
    [image(n, { file: `${n}.png` })],
  );
  parent = imageIds[0] ?? parent;
  process.stdout.write(`committed ${generationId}\n`);
}
db.close();
process.stdout.write('done\n');
