/**
 * What to do with things dropped on the Models page. Electron hands the renderer a dropped file's
 * path (through the preload), so anything imports by path there. A browser gives bytes and never a
 * path: a `.safetensors` file is uploaded in chunks (`models.importFile`), and a folder cannot be
 * imported this way at all, which the page says instead of pretending.
 */
import { MODEL_UPLOAD_CHUNK_BYTES, MODEL_UPLOAD_MAX_BYTES } from '@contract';
import type { StudioClient } from '../../api/client';

export type DropPlan =
  | { kind: 'path'; name: string; path: string }
  | { kind: 'upload'; name: string; file: File }
  | { kind: 'refused'; name: string; reason: string };

const PICKLE = /\.(ckpt|pt|pth|bin|pkl|pickle)$/i;

/**
 * Decides, during the drop event (entries are readable only then), what each dropped thing becomes.
 * `pathForFile` is the preload's, present in Electron only.
 */
export function planDrop(transfer: DataTransfer, pathForFile?: (file: File) => string): DropPlan[] {
  const plans: DropPlan[] = [];
  const items = Array.from(transfer.items ?? []).filter((item) => item.kind === 'file');
  const files = items.length
    ? items.map((item) => ({
        file: item.getAsFile(),
        folder: typeof item.webkitGetAsEntry === 'function' ? (item.webkitGetAsEntry()?.isDirectory ?? false) : false,
      }))
    : Array.from(transfer.files).map((file) => ({ file, folder: false }));
  for (const { file, folder } of files) {
    if (!file) continue;
    const path = pathForFile?.(file) ?? '';
    if (path) plans.push({ kind: 'path', name: file.name, path });
    else if (folder)
      plans.push({
        kind: 'refused',
        name: file.name,
        reason: `${file.name} is a folder, and a browser cannot tell the app where a dropped folder is: type its path (for example /home/you/models/${file.name}) in the import field and press Import.`,
      });
    else if (PICKLE.test(file.name))
      plans.push({
        kind: 'refused',
        name: file.name,
        reason: `${file.name} is a PyTorch pickle; Sumi Studio does not open pickles (they can run code). Convert it to .safetensors first.`,
      });
    else if (!file.name.toLowerCase().endsWith('.safetensors'))
      plans.push({
        kind: 'refused',
        name: file.name,
        reason: `${file.name} is not a .safetensors file; model folders are imported by path.`,
      });
    else if (file.size > MODEL_UPLOAD_MAX_BYTES)
      plans.push({
        kind: 'refused',
        name: file.name,
        reason: `${file.name} is larger than ${MODEL_UPLOAD_MAX_BYTES / 1024 ** 3} GB; import it by path.`,
      });
    else plans.push({ kind: 'upload', name: file.name, file });
  }
  return plans;
}

function base64Of(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      const url = String(reader.result);
      resolve(url.slice(url.indexOf(',') + 1));
    };
    reader.onerror = () => reject(reader.error ?? new Error('the file could not be read'));
    reader.readAsDataURL(blob);
  });
}

/** Uploads a file in `MODEL_UPLOAD_CHUNK_BYTES` chunks; resolves with the import the last chunk started. */
export async function uploadModelFile(
  client: StudioClient,
  file: Blob & { name: string },
  onProgress: (sent: number, total: number) => void,
): Promise<{ importId: string; id: string }> {
  let uploadId: string | undefined;
  let offset = 0;
  onProgress(0, file.size);
  for (;;) {
    const end = Math.min(file.size, offset + MODEL_UPLOAD_CHUNK_BYTES);
    const last = end >= file.size;
    const result = await client.invoke('models.importFile', {
      name: file.name,
      base64: await base64Of(file.slice(offset, end)),
      ...(uploadId ? { uploadId } : {}),
      offset,
      last,
    });
    uploadId = result.uploadId;
    offset = end;
    onProgress(offset, file.size);
    if (last) {
      if (!result.importId || !result.id) throw new Error('The app did not start the import.');
      return { importId: result.importId, id: result.id };
    }
  }
}
