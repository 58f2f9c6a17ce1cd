/**
 * Images attached to a message for a vision model: read as the bare base64
 * Ollama's `images` carries, shown again from it, and refused in words before
 * sending when the chosen model has no projector (the server says the same,
 * but only after a round trip and with the typed text lost to the error).
 */

import { showModel } from '../services/models';

/** Images larger than this are refused: llama-server scales them down anyway. */
export const MAX_IMAGE_BYTES = 20 * 1024 * 1024;

const MAGIC: [string, string][] = [
  ['iVBORw0KGgo', 'image/png'],
  ['/9j/', 'image/jpeg'],
  ['R0lGOD', 'image/gif'],
  ['UklGR', 'image/webp'],
  ['Qk', 'image/bmp'],
];

/** Whether a dropped, pasted or picked file is an image (and not a document to extract). */
export function isImageFile(file: { type: string; name: string }): boolean {
  return file.type.startsWith('image/') || /\.(png|jpe?g|gif|webp|bmp)$/i.test(file.name);
}

/** A `data:` URL for a stored base64 image, its MIME type guessed from the first bytes. */
export function imageDataUrl(base64: string): string {
  const mime = MAGIC.find(([prefix]) => base64.startsWith(prefix))?.[1] ?? 'image/png';
  return `data:${mime};base64,${base64}`;
}

/** The base64 part of a `data:` URL (what FileReader gives), or the text unchanged. */
export function stripDataUrl(url: string): string {
  const comma = url.indexOf(',');
  return url.startsWith('data:') && comma >= 0 ? url.slice(comma + 1) : url;
}

/** Read a file as bare base64; a file too large is refused in words. */
export function readImage(file: Blob & { name?: string }): Promise<string> {
  if (file.size > MAX_IMAGE_BYTES) {
    return Promise.reject(new Error(`${file.name ?? 'The image'} is larger than 20 MB; attach a smaller image.`));
  }
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(stripDataUrl(String(reader.result)));
    reader.onerror = () => reject(new Error(`Could not read ${file.name ?? 'the image'}.`));
    reader.readAsDataURL(file);
  });
}

/** The words shown instead of sending images to a model that cannot see them; null when it can. */
export function visionRefusal(model: string, capabilities: string[] | undefined): string | null {
  if (!model || capabilities === undefined || capabilities.includes('vision')) return null;
  return `${model} cannot see images: it has no vision projector. Remove the images or pick a vision model (marked “vision” in the model picker).`;
}

const cache = new Map<string, Promise<string[] | undefined>>();

/** A model's capabilities from /api/show, asked once per model; undefined when unknown. */
export function modelCapabilities(model: string): Promise<string[] | undefined> {
  let known = cache.get(model);
  if (!known) {
    known = showModel(model).then(
      (show) => show.capabilities,
      () => {
        cache.delete(model);
        return undefined;
      },
    );
    cache.set(model, known);
  }
  return known;
}
