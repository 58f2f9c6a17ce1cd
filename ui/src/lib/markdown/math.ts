/**
 * LaTeX via KaTeX, loaded lazily (dynamic import) the first time math shows up,
 * so it does not weigh on the initial bundle. Until it loads, math renders as
 * its escaped source in a placeholder, and the caller re-renders afterwards.
 */
import type { TokenizerAndRendererExtension } from 'marked';
import { escapeHtml } from './highlight';

type Katex = typeof import('katex').default;
let katex: Katex | null = null;
let loading: Promise<Katex> | null = null;

export function katexReady(): boolean {
  return katex !== null;
}

export function loadKatex(): Promise<Katex> {
  if (!loading) {
    loading = Promise.all([import('katex'), import('katex/dist/katex.min.css')]).then(([module]) => {
      katex = module.default;
      return katex;
    });
    loading.catch(() => {
      loading = null;
    });
  }
  return loading;
}

/** Set by the renderer around each parse: did this block need KaTeX that was not loaded? */
export const mathState = { pending: false, used: false };

export function renderTex(tex: string, display: boolean): string {
  mathState.used = true;
  if (katex) {
    try {
      return katex.renderToString(tex, { displayMode: display, throwOnError: false, output: 'htmlAndMathml' });
    } catch {
      /* fall through to the source */
    }
  } else {
    mathState.pending = true;
    void loadKatex().catch(() => {});
  }
  const tag = display ? 'div' : 'span';
  return `<${tag} class="math-source${display ? ' math-display' : ''}">${escapeHtml(tex)}</${tag}>`;
}

interface MathToken {
  type: string;
  raw: string;
  text: string;
  display: boolean;
}

export const mathBlock: TokenizerAndRendererExtension = {
  name: 'mathBlock',
  level: 'block',
  start(src: string) {
    const match = src.match(/^ {0,3}(\$\$|\\\[)/m);
    return match?.index;
  },
  tokenizer(src: string) {
    const match =
      /^ {0,3}\$\$([\s\S]+?)\$\$[ \t]*(?:\n|$)/.exec(src) ?? /^ {0,3}\\\[([\s\S]+?)\\\][ \t]*(?:\n|$)/.exec(src);
    if (match) return { type: 'mathBlock', raw: match[0], text: match[1].trim(), display: true } as MathToken;
    return undefined;
  },
  renderer(token) {
    return `${renderTex((token as unknown as MathToken).text, true)}\n`;
  },
};

export const mathInline: TokenizerAndRendererExtension = {
  name: 'mathInline',
  level: 'inline',
  start(src: string) {
    const match = src.match(/\$|\\\(/);
    return match?.index;
  },
  tokenizer(src: string) {
    let match = /^\$\$([^$]+?)\$\$/.exec(src);
    if (match) return { type: 'mathInline', raw: match[0], text: match[1].trim(), display: true } as MathToken;
    match = /^\\\(([\s\S]+?)\\\)/.exec(src);
    if (match) return { type: 'mathInline', raw: match[0], text: match[1].trim(), display: false } as MathToken;
    match = /^\$(?![\s$])((?:\\.|[^\\\n$])+?)(?<![\s\\])\$(?![\d$])/.exec(src);
    if (match) return { type: 'mathInline', raw: match[0], text: match[1], display: false } as MathToken;
    return undefined;
  },
  renderer(token) {
    const math = token as unknown as MathToken;
    return renderTex(math.text, math.display);
  },
};
