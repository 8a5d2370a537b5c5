/**
 * What a `.safetensors` file in the library is, from its tensor names alone: a textual-inversion
 * embedding (A1111 `emb_params`, the older `string_to_param.*`, SDXL `clip_l` / `clip_g`) or a LoRA.
 * A file with any LoRA-looking key is a LoRA, so a LoRA that happens to carry an embedding
 * (kohya's "bundled embeddings") stays a LoRA.
 */
export type SafetensorsKind = 'lora' | 'embedding';

const EMBEDDING_KEY = /^(emb_params|string_to_param(\..*)?|clip_l|clip_g)$/;
const LORA_KEY = /(^|[._])lora([._]|$)|^lora_|lora_(down|up|A|B)\b/i;

export function safetensorsKind(tensorNames: Iterable<string>): SafetensorsKind {
  let embedding = false;
  for (const name of tensorNames) {
    if (LORA_KEY.test(name)) return 'lora';
    if (EMBEDDING_KEY.test(name)) embedding = true;
  }
  return embedding ? 'embedding' : 'lora';
}
