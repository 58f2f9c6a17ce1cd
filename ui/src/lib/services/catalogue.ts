import { getJson } from './http';

/** One tag of a catalogue model, with the server's "fits your memory" hint. */
export interface CatalogueTag {
  tag: string;
  name: string;
  /** The name a pull uses: short for Ollama's registry, host/library/name otherwise. */
  pull: string;
  parameters: string;
  size: number;
  quantization: string;
  memory_needed: number;
  fit: 'fits' | 'tight' | 'too_large' | 'unknown';
  installed: boolean;
}

export interface CatalogueModel {
  name: string;
  description: string;
  capabilities: string[];
  context_length: number;
  tags: CatalogueTag[];
}

export interface Catalogue {
  registry: string;
  memory: { ram: number; vram: number | null; memory: number };
  capabilities: string[];
  models: CatalogueModel[];
}

/** The catalogue shipped with Hearth (works offline), filtered on the server. */
export function getCatalogue(q = '', capability = ''): Promise<Catalogue> {
  const params = new URLSearchParams();
  if (q.trim()) params.set('q', q.trim());
  if (capability) params.set('capability', capability);
  const query = params.toString();
  return getJson<Catalogue>(`/api/v1/catalogue${query ? `?${query}` : ''}`);
}
