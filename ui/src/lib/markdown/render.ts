/** One markdown block → sanitized HTML (marked + highlight.js + KaTeX + DOMPurify). */
import DOMPurify from 'dompurify';
import { Marked, type Tokens } from 'marked';
import { escapeHtml, highlight } from './highlight';
import { mathBlock, mathInline, mathState } from './math';

const marked = new Marked({ gfm: true, breaks: false, async: false });

marked.use({
  extensions: [mathBlock, mathInline],
  renderer: {
    code({ text, lang }: Tokens.Code) {
      const { html, language } = highlight(text.replace(/\n$/, ''), lang ?? '');
      const label = language ? escapeHtml(language) : 'text';
      return (
        `<div class="code-block"><div class="code-head"><span class="code-lang">${label}</span>` +
        `<button type="button" class="copy-code" aria-label="Copy code">Copy</button></div>` +
        `<pre tabindex="0"><code class="hljs${language ? ` language-${escapeHtml(language)}` : ''}">${html}</code></pre></div>\n`
      );
    },
    // Model output is text: raw HTML is shown, never interpreted.
    html({ text }: Tokens.HTML | Tokens.Tag) {
      return escapeHtml(text);
    },
    // No remote images: an image URL in an answer could leak the conversation. Show a link.
    image({ href, text }: Tokens.Image) {
      return `<a class="md-image" href="${escapeHtml(href ?? '')}">[image: ${escapeHtml(text || 'untitled')}]</a>`;
    },
  },
});

let hooked = false;
function purify(html: string): string {
  if (!hooked) {
    DOMPurify.addHook('afterSanitizeAttributes', (node) => {
      if (node.tagName === 'A' && node.hasAttribute('href')) {
        node.setAttribute('target', '_blank');
        node.setAttribute('rel', 'noopener noreferrer nofollow');
      }
    });
    hooked = true;
  }
  return DOMPurify.sanitize(html, {
    ADD_ATTR: ['target'],
    FORBID_TAGS: ['style', 'form', 'input', 'textarea', 'select', 'iframe', 'object', 'embed', 'img', 'video', 'audio'],
    FORBID_ATTR: ['srcset', 'formaction', 'xlink:href'],
  });
}

export interface Rendered {
  html: string;
  /** the block has math that was shown as source because KaTeX was not loaded yet */
  mathPending: boolean;
}

export function renderMarkdown(src: string): Rendered {
  mathState.pending = false;
  mathState.used = false;
  let html: string;
  try {
    html = marked.parse(src) as string;
  } catch {
    html = `<p>${escapeHtml(src)}</p>`;
  }
  return { html: purify(html), mathPending: mathState.pending };
}
