/**
 * Documents attached to a message: the server reads their text (PDF included),
 * the composer shows them as chips, and on send their text goes into the user
 * message as fenced blocks headed by the file name. The message content is the
 * only record: the thread parses the blocks back out and shows chips instead of
 * the text, so no extra storage is needed and an exported chat still reads well.
 */
import { getJson } from './http';

export interface Attachment {
  name: string;
  kind: 'text' | 'markdown' | 'code' | 'pdf';
  language: string;
  text: string;
  chars: number;
  pages?: number;
  tokens: number;
  /** true when `tokens` is the 4-characters-a-token estimate (the model was not loaded) */
  tokens_estimated: boolean;
}

/** A document parsed back out of a sent message. */
export interface SentDocument {
  name: string;
  tokens?: number;
  estimated: boolean;
  language: string;
  text: string;
}

const HEAD = 'Attached document: ';
const HEAD_LINE = /^Attached document: (.+?)(?: \((about )?([\d,]+) tokens?\))?$/;

/** Ask the server for a file's text; ApiError carries its words (413, 415, 400). */
export function extractDocument(file: Blob & { name?: string }, model: string): Promise<Attachment> {
  const query = new URLSearchParams({ name: file.name || 'document' });
  if (model) query.set('model', model);
  return getJson<Attachment>(`/api/v1/documents/extract?${query}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/octet-stream' },
    body: file,
  });
}

/** "1,234 tokens" or "~1,234 tokens" (estimated). */
export function tokenLabel(tokens: number, estimated: boolean): string {
  return `${estimated ? '~' : ''}${tokens.toLocaleString('en-US')} ${tokens === 1 ? 'token' : 'tokens'}`;
}

/** A fence longer than any run of backticks in the text, so the text cannot close it. */
export function fenceFor(text: string): string {
  let longest = 0;
  for (const run of text.match(/`+/g) ?? []) longest = Math.max(longest, run.length);
  return '`'.repeat(Math.max(3, longest + 1));
}

function fenceLanguage(attachment: Pick<Attachment, 'kind' | 'language'>): string {
  if (attachment.kind === 'code') return attachment.language;
  if (attachment.kind === 'markdown') return 'markdown';
  return 'text';
}

/** One document as the model reads it: a head line with the name, then a fenced block. */
export function documentBlock(attachment: Attachment): string {
  const name = attachment.name.replace(/[\r\n]+/g, ' ');
  const count = `${attachment.tokens_estimated ? 'about ' : ''}${attachment.tokens.toLocaleString('en-US')} ${attachment.tokens === 1 ? 'token' : 'tokens'}`;
  const fence = fenceFor(attachment.text);
  const body = attachment.text.replace(/\n+$/, '');
  return `${HEAD}${name} (${count})\n${fence}${fenceLanguage(attachment)}\n${body}\n${fence}`;
}

/** The user message's content: the documents first, then what the person typed. */
export function composeContent(text: string, attachments: Attachment[]): string {
  const blocks = attachments.map(documentBlock);
  const typed = text.trim();
  return [...blocks, ...(typed ? [typed] : [])].join('\n\n');
}

/**
 * Split a message's content into the documents at its start and the typed text.
 * Only leading blocks in exactly the shape `documentBlock` writes count, so a
 * person's own text that mentions "Attached document:" stays text.
 */
export function splitContent(content: string): { documents: SentDocument[]; text: string } {
  const documents: SentDocument[] = [];
  let rest = content;
  for (;;) {
    const headEnd = rest.indexOf('\n');
    if (!rest.startsWith(HEAD) || headEnd < 0) break;
    const head = HEAD_LINE.exec(rest.slice(0, headEnd));
    const open = /^(`{3,})([^`\n]*)\n/.exec(rest.slice(headEnd + 1));
    if (!head || !open) break;
    const fence = open[1];
    const bodyStart = headEnd + 1 + open[0].length;
    // The text holds no run of backticks this long, so the first one on its own line closes it.
    let close = -1;
    for (let at = rest.indexOf(`\n${fence}`, bodyStart - 1); at >= 0; at = rest.indexOf(`\n${fence}`, at + 1)) {
      const after = at + 1 + fence.length;
      if (after === rest.length || rest[after] === '\n') {
        close = at;
        break;
      }
    }
    if (close < 0) break;
    const text = close >= bodyStart ? rest.slice(bodyStart, close) : '';
    documents.push({
      name: head[1],
      tokens: head[3] ? Number(head[3].replace(/,/g, '')) : undefined,
      estimated: Boolean(head[2]),
      language: open[2],
      text,
    });
    rest = rest.slice(close + 1 + fence.length).replace(/^\n{1,2}/, '');
  }
  return { documents, text: rest };
}

/** The same message with the typed text replaced (editing keeps the documents). */
export function replaceTypedText(content: string, text: string): string {
  const split = splitContent(content);
  if (!split.documents.length) return text;
  const blocks = content.slice(0, content.length - split.text.length).replace(/\n+$/, '');
  return text.trim() ? `${blocks}\n\n${text.trim()}` : blocks;
}

/** A chat title from the first message: the typed text, else the documents' names. */
export function titleText(content: string): string {
  const { documents, text } = splitContent(content);
  return text.trim() || documents.map((document) => document.name).join(', ');
}

/**
 * Why these documents cannot go into this chat, in words, or null when they fit.
 * They must fit in num_ctx beside the typed text (older turns are dropped first
 * by the server, so only this message has to fit). numCtx 0: not known yet.
 */
export function fitProblem(attachments: Attachment[], draftTokens: number, numCtx: number): string | null {
  if (!numCtx || !attachments.length) return null;
  const total = attachments.reduce((sum, attachment) => sum + attachment.tokens, 0);
  if (total + draftTokens <= numCtx) return null;
  const about = attachments.some((attachment) => attachment.tokens_estimated) ? 'about ' : '';
  const what =
    attachments.length === 1
      ? `${attachments[0].name} is ${about}${attachments[0].tokens.toLocaleString('en-US')} tokens`
      : `These ${attachments.length} documents are ${about}${total.toLocaleString('en-US')} tokens`;
  return `${what}; this chat's context holds ${numCtx.toLocaleString('en-US')}. Raise num_ctx in the chat settings or attach a shorter part.`;
}
