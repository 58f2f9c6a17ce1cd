import { describe, expect, it } from 'vitest';
import { contextUsage, estimateTokens } from './context';

describe('contextUsage', () => {
  it('counts the last answer and estimates the rest', () => {
    const usage = contextUsage(
      [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'hello', stats: { prompt_eval_count: 30, eval_count: 12 } },
        { role: 'user', content: 'abcdefgh' },
      ],
      'abcd',
      4096,
    );
    expect(usage.used).toBe(42 + 2 + 1);
    expect(usage.estimated).toBe(true);
    expect(usage.basis).toContain('42 counted');
  });
  it('is zero for an empty chat', () => {
    expect(contextUsage([], '', 2048)).toMatchObject({ used: 0, estimated: false });
    expect(estimateTokens('abcde')).toBe(2);
  });
});
