import { describe, expect, it } from 'vitest';
import { composeContent, fenceFor, fitProblem, replaceTypedText, splitContent, titleText, type Attachment } from './documents';

const doc = (over: Partial<Attachment> = {}): Attachment => ({
  name: 'notes.txt',
  kind: 'text',
  language: '',
  text: 'The secret word is AUBERGINE.\n',
  chars: 30,
  tokens: 9,
  tokens_estimated: false,
  ...over,
});

describe('documents in a message', () => {
  it('round-trips documents and the typed text', () => {
    const content = composeContent('  What is the secret word?  ', [doc(), doc({ name: 'a.py', kind: 'code', language: 'python', text: 'x = "```"\n', tokens: 1234, tokens_estimated: true })]);
    expect(content).toContain('Attached document: notes.txt (9 tokens)\n```text\nThe secret word is AUBERGINE.\n```');
    expect(content).toContain('Attached document: a.py (about 1,234 tokens)\n````python\nx = "```"\n````');
    const split = splitContent(content);
    expect(split.text).toBe('What is the secret word?');
    expect(split.documents.map((d) => [d.name, d.tokens, d.estimated, d.language])).toEqual([
      ['notes.txt', 9, false, 'text'],
      ['a.py', 1234, true, 'python'],
    ]);
    expect(split.documents[1].text).toBe('x = "```"');
    expect(titleText(content)).toBe('What is the secret word?');
    expect(titleText(composeContent('', [doc()]))).toBe('notes.txt');
  });
  it('keeps plain text and a half-written block as text', () => {
    expect(splitContent('hello')).toEqual({ documents: [], text: 'hello' });
    const broken = 'Attached document: x.txt\n```text\nno closing fence';
    expect(splitContent(broken)).toEqual({ documents: [], text: broken });
    expect(splitContent('I said Attached document: x')).toEqual({ documents: [], text: 'I said Attached document: x' });
  });
  it('edits the typed text and keeps the documents', () => {
    const content = composeContent('old question', [doc()]);
    const edited = replaceTypedText(content, 'new question');
    expect(splitContent(edited).text).toBe('new question');
    expect(splitContent(edited).documents).toHaveLength(1);
    expect(replaceTypedText('plain', 'other')).toBe('other');
  });
  it('picks a fence longer than any backtick run', () => {
    expect(fenceFor('no ticks')).toBe('```');
    expect(fenceFor('a ````` b')).toBe('``````');
  });
  it('refuses documents bigger than the context, in words', () => {
    expect(fitProblem([doc({ name: 'report.pdf', tokens: 41000, tokens_estimated: true })], 0, 8192)).toBe(
      "report.pdf is about 41,000 tokens; this chat's context holds 8,192. Raise num_ctx in the chat settings or attach a shorter part.",
    );
    expect(fitProblem([doc()], 10, 8192)).toBeNull();
    expect(fitProblem([doc({ tokens: 5000 })], 0, 0)).toBeNull();
    expect(fitProblem([doc({ tokens: 5000 }), doc({ tokens: 5000 })], 0, 8192)).toContain('These 2 documents are 10,000 tokens');
  });
});
