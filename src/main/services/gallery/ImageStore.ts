/**
 * The image store: PNG files under the output folder with content-addressed names
 * (`ab/ab12…ef.png`, the SHA-256 of the bytes), written file first and atomically (temp file in the
 * same folder, fsync, rename, fsync the folder), and 256-px WebP thumbnails made by sharp on demand.
 * A name from outside never becomes a path without the inside-the-root check.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import sharp from 'sharp';
import { AppError } from '../AppError';
import { syncDir } from './db/galleryBackups';

const NAME = /^[0-9a-f]{2}\/[0-9a-f]{40}\.png$/;
const THUMB_SIZE = 256;

export class ImageStore {
  constructor(
    private readonly root: () => string,
    private readonly thumbsDir: string,
  ) {}

  /** Writes `png` (if not already there) and returns its store name and size. */
  put(png: Buffer): { file: string; bytes: number } {
    const hash = createHash('sha256').update(png).digest('hex').slice(0, 40);
    const file = `${hash.slice(0, 2)}/${hash}.png`;
    const target = this.path(file);
    if (!existsSync(target)) {
      const dir = dirname(target);
      mkdirSync(dir, { recursive: true });
      const temp = join(dir, `.${hash}.${randomBytes(4).toString('hex')}.tmp`);
      const fd = openSync(temp, 'w');
      try {
        writeSync(fd, png);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, target);
      syncDir(dir);
    }
    return { file, bytes: png.length };
  }

  /** The absolute path of a store name; refuses anything that is not one. */
  path(file: string): string {
    if (!NAME.test(file))
      throw new AppError('VALIDATION', `Not an image store name: ${JSON.stringify(file.slice(0, 80))}.`);
    return join(this.root(), ...file.split('/'));
  }

  has(file: string): boolean {
    return existsSync(this.path(file));
  }

  remove(file: string): void {
    rmSync(this.path(file), { force: true });
    rmSync(this.thumbPath(file), { force: true });
  }

  thumbPath(file: string): string {
    this.path(file);
    return join(this.thumbsDir, `${file.slice(3, -4)}.webp`);
  }

  /** The thumbnail's media-relative name, made (or remade, when missing) from the image. */
  async thumbnail(file: string): Promise<string> {
    const thumb = this.thumbPath(file);
    if (!existsSync(thumb)) {
      mkdirSync(this.thumbsDir, { recursive: true });
      const temp = `${thumb}.${randomBytes(4).toString('hex')}.tmp`;
      await sharp(this.path(file), { limitInputPixels: 64 * 1024 * 1024 })
        .resize(THUMB_SIZE, THUMB_SIZE, { fit: 'inside', withoutEnlargement: true })
        .webp({ quality: 80 })
        .toFile(temp);
      renameSync(temp, thumb);
    }
    return relative(this.thumbsDir, thumb).split(sep).join('/');
  }

  /** Every store name on disk, and stray temp files (left by a crash mid-write). */
  scan(): { files: string[]; temps: string[] } {
    const root = this.root();
    const files: string[] = [];
    const temps: string[] = [];
    if (!existsSync(root)) return { files, temps };
    for (const entry of readdirSync(root, { recursive: true })) {
      const rel = String(entry).split(sep).join('/');
      const full = join(root, ...rel.split('/'));
      if (rel.endsWith('.tmp') && statSync(full).isFile()) temps.push(full);
      else if (NAME.test(rel)) files.push(rel);
    }
    return { files, temps };
  }
}
