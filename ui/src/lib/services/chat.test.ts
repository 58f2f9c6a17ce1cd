import { describe, expect, it } from 'vitest';
import { titleRequest } from './chat';

describe('the title request', () => {
  it("sends the chat's load options and keep_alive, so the chat's runner answers it", () => {
    const body = titleRequest('gemma3:270m', 'Hi', 'Hello!', {
      options: { num_ctx: 3072, num_gpu: 0, num_thread: 2, use_mmap: false, temperature: 1.3, seed: 7, stop: [] },
      keep_alive: '30m',
    });
    expect(body.model).toBe('gemma3:270m');
    expect(body.keep_alive).toBe('30m');
    // load options as the chat's; sampling its own (short, steady), not the chat's
    expect(body.options).toEqual({ num_predict: 16, temperature: 0.2, num_ctx: 3072, num_gpu: 0, num_thread: 2, use_mmap: false });
    expect(body.stream).toBe(false);
  });

  it('adds nothing the chat did not set', () => {
    const body = titleRequest('m', 'Hi', 'Hello!');
    expect(body.options).toEqual({ num_predict: 16, temperature: 0.2 });
    expect('keep_alive' in body).toBe(false);
  });
});
