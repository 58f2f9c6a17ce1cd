/**
 * A 2,000-token answer fed to the incremental renderer one token at a time
 * (the worst case: the component batches tokens per animation frame), against
 * re-rendering the whole answer on every token. Prints ms per token.
 */
import { describe, expect, it } from 'vitest';
import { IncrementalMarkdown } from './incremental';
import { renderMarkdown } from './render';

function answerTokens(count: number): string[] {
  const parts = [
    '## Section\n\n',
    'Here is a paragraph with **bold**, *italic*, `inline code` and a [link](https://example.com). ',
    'It goes on for a while to look like a real answer from a model. ',
    '\n\n- first point about something\n- second point with `code`\n- third point\n\n',
    '```python\ndef fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n```\n\n',
    '| name | value |\n|---|---|\n| alpha | 1 |\n| beta | 2 |\n\n',
    'Math inline $a^2 + b^2 = c^2$ and more text. ',
  ];
  const text = Array.from({ length: 60 }, (_, i) => parts[i % parts.length]).join('');
  const tokens = text.match(/\s*\S+|\s+/g) ?? [];
  const out: string[] = [];
  while (out.length < count) out.push(...tokens);
  return out.slice(0, count);
}

describe('streaming render performance', () => {
  // The figure printed is a measurement for bench/README, not a test: on a busy
  // machine it moves, so nothing here asserts a time. What must hold is that
  // finished blocks are rendered once, never again for later tokens.
  it('renders 2,000 tokens incrementally, each finished block once', { timeout: 120_000 }, () => {
    const tokens = answerTokens(2000);
    const md = new IncrementalMarkdown();
    let text = '';
    const times: number[] = [];
    const start = performance.now();
    for (const token of tokens) {
      text += token;
      const t0 = performance.now();
      md.update(text);
      times.push(performance.now() - t0);
    }
    const total = performance.now() - start;
    times.sort((a, b) => a - b);
    const perToken = total / tokens.length;
    const p95 = times[Math.floor(times.length * 0.95)];
    // Whole-answer re-render per token, for comparison (sampled: every 50th token).
    let naive = 0;
    let samples = 0;
    text = '';
    for (let i = 0; i < tokens.length; i++) {
      text += tokens[i];
      if (i % 50 === 0 || i === tokens.length - 1) {
        const t0 = performance.now();
        renderMarkdown(text);
        naive += performance.now() - t0;
        samples++;
      }
    }
    const naivePerToken = naive / samples;
    console.log(
      `[perf] 2000 tokens, ${text.length} chars, ${md.blocks.length} cached blocks: ` +
        `incremental ${perToken.toFixed(3)} ms/token (p95 ${p95.toFixed(3)} ms, max ${times.at(-1)!.toFixed(2)} ms); ` +
        `full re-render ${naivePerToken.toFixed(3)} ms/token on average`,
    );
    expect(md.blockRenders).toBe(md.blocks.length);
    expect(md.blocks.length).toBeGreaterThan(20);
  });
});
