/**
 * The saved presets, loaded once when first needed and kept in step with every
 * change made here (the chat settings panel, the empty chat's picker and the
 * Settings page all read this one list).
 */
import * as api from '../services/presets';
import type { Preset, PresetFields } from '../services/presets';

/** Options worth keeping in a preset: the set ones (an empty field means "the default"). */
export function presetOptions(options: Record<string, unknown>): Preset['options'] {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined || value === null || value === '' || (typeof value === 'number' && Number.isNaN(value))) continue;
    out[key] = value;
  }
  return out as Preset['options'];
}

class PresetStore {
  items = $state<Preset[]>([]);
  loaded = $state(false);
  /** The server has no presets API (an older Hearth): the UI offers none. */
  missing = $state(false);
  /** Raised each time a chat takes a preset's settings: open settings panels re-read them. */
  applied = $state(0);
  private loading: Promise<void> | null = null;

  /** Load the list (once; `force` to read it again). */
  load(force = false): Promise<void> {
    if (this.loading && !force) return this.loading;
    this.loading = api
      .listPresets()
      .then((items) => {
        this.items = items;
        this.missing = false;
      })
      .catch((error: { status?: number }) => {
        if (error?.status === 404) this.missing = true;
        else throw error;
      })
      .finally(() => {
        this.loaded = true;
      });
    return this.loading;
  }

  async create(fields: PresetFields): Promise<Preset> {
    const preset = await api.createPreset(fields);
    this.items = sorted([...this.items, preset]);
    return preset;
  }

  async update(id: string, patch: Partial<PresetFields>): Promise<Preset> {
    const preset = await api.updatePreset(id, patch);
    this.items = sorted(this.items.map((item) => (item.id === id ? preset : item)));
    return preset;
  }

  async remove(id: string): Promise<void> {
    await api.deletePreset(id);
    this.items = this.items.filter((item) => item.id !== id);
  }
}

/** By name without regard to case, as the server lists them. */
function sorted(items: Preset[]): Preset[] {
  return items.sort((a, b) => a.name.localeCompare(b.name, undefined, { sensitivity: 'base' }));
}

export const presets = new PresetStore();
