/**
 * Incremental markdown for streaming answers.
 *
 * The text only grows while a model streams. We scan each new complete line
 * once, find block boundaries (a blank line outside code fences and math
 * blocks, not followed by an indented or list continuation; or the end of a
 * top-level code fence / display-math block), render each finished block once
 * and cache its HTML. Only the last, open block (the "tail") is re-rendered on
 * each update, so the cost per token is bounded by the size of that block,
 * not of the whole answer.
 */
import { renderMarkdown } from './render';

export interface Block {
  id: number;
  src: string;
  html: string;
  mathPending: boolean;
}

const LIST_ITEM = /^(?:[*+-]|\d{1,9}[.)])(?:[ \t]|$)/;
const FENCE = /^(\s*)(`{3,}|~{3,})(.*)$/;

export class IncrementalMarkdown {
  blocks: Block[] = [];
  tailHtml = '';
  tailMathPending = false;
  /** finished blocks rendered (each once unless text was rewritten or KaTeX arrived) */
  blockRenders = 0;
  tailRenders = 0;

  private src = '';
  private committed = 0;
  private scanPos = 0;
  private candidate = -1;
  private blockIsList = false;
  private fence: { char: string; len: number; top: boolean } | null = null;
  private math: { close: string; top: boolean } | null = null;
  private nextId = 0;
  private lastTail: string | null = null;

  /** Feed the full text so far; returns true when the visible HTML changed. */
  update(text: string): boolean {
    if (text.length < this.src.length || !text.startsWith(this.src)) this.reset();
    if (text === this.src && this.lastTail !== null) return false;
    this.src = text;
    let newline: number;
    while ((newline = text.indexOf('\n', this.scanPos)) >= 0) {
      this.line(text.slice(this.scanPos, newline), this.scanPos, newline + 1);
      this.scanPos = newline + 1;
    }
    const tail = text.slice(this.committed);
    if (tail !== this.lastTail) {
      this.lastTail = tail;
      if (tail.trim()) {
        const rendered = renderMarkdown(tail);
        this.tailHtml = rendered.html;
        this.tailMathPending = rendered.mathPending;
        this.tailRenders++;
      } else {
        this.tailHtml = '';
        this.tailMathPending = false;
      }
    }
    return true;
  }

  get mathPending(): boolean {
    return this.tailMathPending || this.blocks.some((block) => block.mathPending);
  }

  /** KaTeX has loaded: re-render the blocks that showed math as source. */
  refreshMath(): void {
    this.blocks = this.blocks.map((block) =>
      block.mathPending ? { ...block, ...renderMarkdown(block.src), id: this.nextId++ } : block,
    );
    this.lastTail = null;
    this.update(this.src);
  }

  reset(): void {
    this.blocks = [];
    this.tailHtml = '';
    this.tailMathPending = false;
    this.src = '';
    this.committed = 0;
    this.scanPos = 0;
    this.candidate = -1;
    this.blockIsList = false;
    this.fence = null;
    this.math = null;
    this.lastTail = null;
  }

  private line(line: string, start: number, next: number): void {
    if (this.fence) {
      const trimmed = line.trim();
      const fence = this.fence;
      if (trimmed.length >= fence.len && trimmed === fence.char.repeat(trimmed.length)) {
        this.fence = null;
        if (fence.top) this.commit(next);
      }
      return;
    }
    if (this.math) {
      const math = this.math;
      if (line.trimEnd().endsWith(math.close)) {
        this.math = null;
        if (math.top) this.commit(next);
      }
      return;
    }
    const blank = line.trim() === '';
    if (blank) {
      this.candidate = next;
      return;
    }
    if (this.candidate >= 0) {
      const continues = /^[ \t]/.test(line) || (this.blockIsList && LIST_ITEM.test(line));
      if (continues) this.candidate = -1;
      else this.commit(this.candidate);
    }
    if (start === this.committed) this.blockIsList = LIST_ITEM.test(line);

    const fence = FENCE.exec(line);
    if (fence && !(fence[2][0] === '`' && fence[3].includes('`'))) {
      this.fence = { char: fence[2][0], len: fence[2].length, top: fence[1].length === 0 };
      return;
    }
    const trimmed = line.trim();
    for (const [open, close] of [
      ['$$', '$$'],
      ['\\[', '\\]'],
    ]) {
      if (trimmed.startsWith(open) && !trimmed.slice(open.length).includes(close)) {
        this.math = { close, top: !/^\s/.test(line) };
        return;
      }
    }
  }

  private commit(end: number): void {
    const src = this.src.slice(this.committed, end);
    this.committed = end;
    this.candidate = -1;
    if (!src.trim()) return;
    const rendered = renderMarkdown(src);
    this.blocks.push({ id: this.nextId++, src, ...rendered });
    this.blockRenders++;
  }
}
