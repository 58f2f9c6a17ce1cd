import { describe, expect, it } from 'vitest';
import { modelDefaults, parseParameters } from './modelDefaults';

describe('model defaults', () => {
  it('parses Ollama parameters text', () => {
    expect(parseParameters('temperature                    0.7\nstop                           "<end_of_turn>"\nstop "User:"')).toEqual({
      temperature: 0.7,
      stop: ['<end_of_turn>', 'User:'],
    });
  });

  it('prefers the Modelfile, then Hearth, and caps the context at the trained length', () => {
    const system = { defaults: { options: { temperature: 0.8, top_p: 0.9 }, num_ctx: 4096 } };
    expect(modelDefaults({ parameters: 'temperature 0.6', model_info: { 'gemma3.context_length': 2048 } }, system)).toEqual({
      temperature: 0.6,
      top_p: 0.9,
      num_ctx: 2048,
      context_max: 2048,
      num_predict: undefined,
      stop: undefined,
    });
    expect(modelDefaults(null, null).temperature).toBeUndefined();
  });
});
