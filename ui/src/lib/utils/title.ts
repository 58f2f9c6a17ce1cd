/**
 * Chat titles from a model's answer to the title request, cleaned so the sidebar never shows
 * the request itself. Small models often echo the instruction ("Write a short title…"),
 * wrap the title in quotes or markdown, or say "Title:" first; when what is left is
 * the instruction or junk, the title is the first words of the person's own message.
 */

/** What the title request asks; kept here so an echo of it can be recognised. */
export const TITLE_INSTRUCTION =
  'Write a short title (at most 6 words) for this conversation. ' +
  'Reply with the title only, no quotes, no punctuation at the end.';

const MAX_CHARS = 60;
const MAX_WORDS = 10;
const FALLBACK_WORDS = 6;
const FALLBACK_CHARS = 48;

/** Pieces of the instruction (and of the conversation it quotes) that are never a title. */
const ECHOES = [
  'short title',
  'at most 6 words',
  'title only',
  'for this conversation',
  'no quotes',
  'no punctuation',
  'reply with the title',
];
const SPEAKER = /^(user|assistant|system|human|ai|model)\s*:/i;
const LEAD_IN = /^(sure|okay|ok|certainly|of course)?[\s,!.]*(here(['’]s| is)|this is)?\s*(a|the|my)?\s*(short|suggested|possible)?\s*(title|heading)\b[^:]{0,40}:\s*/i;
const PREFIX = /^(chat\s+|conversation\s+)?title\s*[:：\-–]\s*/i;
const EDGE_START = /^[\s#>*_"'`“”‘’«»\-–—•]+/;
const EDGE_END = /[\s*_"'`“”‘’«».,;:!\-–—]+$/;

function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function stripEdges(text: string): string {
  let out = text;
  for (let i = 0; i < 3; i++) {
    const next = out.replace(EDGE_START, '').replace(PREFIX, '').replace(LEAD_IN, '').replace(EDGE_END, '');
    if (next === out) break;
    out = next;
  }
  return collapse(out);
}

function shorten(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const cut = text.slice(0, limit - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space > limit / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

function isEcho(line: string): boolean {
  const lower = line.toLowerCase();
  return SPEAKER.test(line) || ECHOES.some((piece) => lower.includes(piece));
}

function isJunk(line: string): boolean {
  return !/[\p{L}\p{N}]/u.test(line) || line.split(' ').length > MAX_WORDS;
}

/**
 * A new chat's first title, before the model's: the message, cut at a word with "…"
 * when it is long. It stays when the title request never answers (a crashed runner),
 * so it must not end mid-word ("…a lighthouse keepe").
 */
export function provisionalTitle(text: string): string {
  return shorten(collapse(text), FALLBACK_CHARS);
}

/** The first words of the person's message: the title when the model gave none. */
export function fallbackTitle(prompt: string): string | null {
  const words = collapse(prompt.replace(/[#*`_>]+/g, ' ')).split(' ').filter(Boolean);
  if (!words.length) return null;
  const title = words.slice(0, FALLBACK_WORDS).join(' ');
  return shorten(words.length > FALLBACK_WORDS ? `${title}…` : title, FALLBACK_CHARS);
}

/**
 * A title from the model's raw answer to the title request; `prompt` (the person's first
 * message) gives the title when the answer is an echo of the request or junk. Null only when
 * neither has words.
 */
export function cleanTitle(raw: string, prompt = ''): string | null {
  const lines = raw
    .replace(/<think>[\s\S]*?(<\/think>|$)/g, '')
    .split('\n')
    .map((line) => collapse(line))
    .filter((line) => line.length > 0);
  for (const line of lines) {
    const title = stripEdges(line);
    if (!title) continue; // a lead-in alone ("Here is a title:"): the title is on the next line
    // the request echoed (or the conversation it quotes), or no title at all
    if (SPEAKER.test(line) || isEcho(title) || isJunk(title)) break;
    return shorten(title, MAX_CHARS);
  }
  return fallbackTitle(prompt);
}
