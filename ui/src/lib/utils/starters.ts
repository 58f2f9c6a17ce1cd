/** Small models to begin with: the Models page's first-run list and the pull dialog's suggestions. */
export interface Starter {
  name: string;
  note: string;
}

export const STARTERS: Starter[] = [
  { name: 'gemma3:270m', note: 'Google Gemma 3, 270M parameters — tiny and fast (~290 MB)' },
  { name: 'qwen3:0.6b', note: 'Qwen 3, 0.6B — small, with thinking (~520 MB)' },
  { name: 'llama3.2:1b', note: 'Meta Llama 3.2, 1B (~1.3 GB)' },
];

/**
 * How to use a GGUF file already on disk (from LM Studio, Hugging Face…): the page cannot
 * read a path, so the first-run screens say where the import is, offline.
 */
export const GGUF_HINT =
  'Already have a .gguf file? Import it without the network: File › Import GGUF… in the Hearth window, or hearth import FILE NAME in a terminal.';
