/** Saved presets under /api/v1/presets: a system prompt, options and a model a new chat starts from. */
import { getJson, request } from './http';
import type { ChatOptions } from './types';

const BASE = '/api/v1/presets';

export interface Preset {
  id: string;
  name: string;
  model: string | null;
  system: string;
  options: ChatOptions & { keep_alive?: string | number; think?: boolean | null };
  created_at?: string;
  updated_at?: string;
}

export type PresetFields = Pick<Preset, 'name'> & Partial<Omit<Preset, 'id' | 'name' | 'created_at' | 'updated_at'>>;

export async function listPresets(): Promise<Preset[]> {
  const data = await getJson<{ presets?: Preset[] }>(BASE);
  return data.presets ?? [];
}

export function createPreset(fields: PresetFields): Promise<Preset> {
  return getJson<Preset>(BASE, { method: 'POST', json: fields });
}

export function updatePreset(id: string, patch: Partial<PresetFields>): Promise<Preset> {
  return getJson<Preset>(`${BASE}/${encodeURIComponent(id)}`, { method: 'PATCH', json: patch });
}

export async function deletePreset(id: string): Promise<void> {
  await request(`${BASE}/${encodeURIComponent(id)}`, { method: 'DELETE' });
}
