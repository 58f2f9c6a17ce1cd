/** App settings from /api/v1/settings (in-memory defaults when that API is missing) and the theme. */
import { ApiError } from '../services/http';
import * as api from '../services/chats';
import type { ChatOptions, Settings } from '../services/types';
import { apiState } from './notices.svelte';

export const DEFAULT_SETTINGS: Required<Pick<Settings, 'theme' | 'default_options'>> & Settings = {
  theme: 'system',
  default_model: null,
  default_system_prompt: '',
  default_options: {},
  keep_alive: '5m',
};

class SettingsStore {
  value = $state<Settings>({ ...DEFAULT_SETTINGS, theme: storedTheme() });
  loaded = $state(false);

  async load(): Promise<void> {
    try {
      const settings = await api.getSettings();
      this.value = { ...DEFAULT_SETTINGS, ...settings };
      if (apiState.v1 === 'unknown') apiState.v1 = 'ok';
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) apiState.v1 = 'missing';
    } finally {
      this.loaded = true;
      this.applyTheme();
    }
  }

  async update(patch: Partial<Settings>): Promise<void> {
    this.value = { ...this.value, ...patch };
    this.applyTheme();
    if (apiState.v1 === 'missing') return;
    try {
      const saved = await api.updateSettings(patch);
      if (saved && typeof saved === 'object') this.value = { ...this.value, ...saved };
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) apiState.v1 = 'missing';
      else throw error;
    }
  }

  get defaultOptions(): ChatOptions {
    return { ...(this.value.default_options ?? {}) };
  }

  applyTheme(): void {
    if (typeof document === 'undefined') return;
    const theme = this.value.theme ?? 'system';
    try {
      localStorage.setItem('hearth.theme', theme);
    } catch {
      /* private mode */
    }
    const dark =
      theme === 'dark' || (theme === 'system' && typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: dark)').matches);
    document.documentElement.dataset.theme = dark ? 'dark' : 'light';
  }
}

function storedTheme(): 'light' | 'dark' | 'system' {
  try {
    const theme = localStorage.getItem('hearth.theme');
    if (theme === 'light' || theme === 'dark' || theme === 'system') return theme;
  } catch {
    /* ignore */
  }
  return 'system';
}

export const settings = new SettingsStore();

if (typeof window !== 'undefined' && typeof matchMedia === 'function') {
  matchMedia('(prefers-color-scheme: dark)').addEventListener?.('change', () => settings.applyTheme());
}
