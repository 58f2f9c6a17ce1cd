import { describe, expect, it } from 'vitest';
import { presetOptions } from './presets.svelte';

describe('presetOptions', () => {
  it('keeps the options a chat set and drops the empty ones', () => {
    const options = { temperature: 0, seed: 11, top_p: undefined, num_ctx: null, keep_alive: '', num_predict: Number.NaN, think: false };
    expect(presetOptions(options)).toEqual({ temperature: 0, seed: 11, think: false });
  });

  it('keeps lists and strings as they are', () => {
    expect(presetOptions({ stop: [], keep_alive: '10m' })).toEqual({ stop: [], keep_alive: '10m' });
  });
});
