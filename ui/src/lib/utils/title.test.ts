import { describe, expect, it } from 'vitest';
import { cleanTitle, fallbackTitle, TITLE_INSTRUCTION } from './title';

const PROMPT = 'How do I make a fruit salad for twelve people on a budget?';

describe('chat titles from the model answer', () => {
  it('keeps a clean title as it is', () => {
    expect(cleanTitle('Budget Fruit Salad', PROMPT)).toBe('Budget Fruit Salad');
  });

  it('strips quotes, markdown, a Title: prefix and end punctuation', () => {
    expect(cleanTitle('"Fruit Salad Ideas."\nmore', PROMPT)).toBe('Fruit Salad Ideas');
    expect(cleanTitle('Title: **Rust lifetimes**')).toBe('Rust lifetimes');
    expect(cleanTitle('**Title:** Rust lifetimes')).toBe('Rust lifetimes');
    expect(cleanTitle('# “Salad for Twelve”')).toBe('Salad for Twelve');
    expect(cleanTitle('`Fruit salad`!')).toBe('Fruit salad');
    expect(cleanTitle('Is Rust hard?')).toBe('Is Rust hard?');
  });

  it('drops a lead-in, on the same line or the line before', () => {
    expect(cleanTitle('Sure! Here’s a short title: Fruit salad on a budget')).toBe('Fruit salad on a budget');
    expect(cleanTitle('Here is a title:\n\nFruit salad on a budget')).toBe('Fruit salad on a budget');
  });

  it('drops thinking, closed or cut off', () => {
    expect(cleanTitle('<think>hmm</think>\nNice Title')).toBe('Nice Title');
    expect(cleanTitle('<think>the title should be', PROMPT)).toBe('How do I make a fruit…');
  });

  it('never shows the echoed request: the first words of the prompt instead', () => {
    const fallback = 'How do I make a fruit…';
    expect(cleanTitle(TITLE_INSTRUCTION, PROMPT)).toBe(fallback);
    expect(cleanTitle(`${TITLE_INSTRUCTION}\n\nFruit salad`, PROMPT)).toBe(fallback);
    expect(cleanTitle('Write a short title (at most 6 words) for this', PROMPT)).toBe(fallback);
    expect(cleanTitle(`User: ${PROMPT}\n\nAssistant: Cut the fruit`, PROMPT)).toBe(fallback);
    expect(cleanTitle('Title only, no quotes', PROMPT)).toBe(fallback);
  });

  it('falls back on junk: nothing, only punctuation, or a whole paragraph', () => {
    const fallback = 'How do I make a fruit…';
    expect(cleanTitle('', PROMPT)).toBe(fallback);
    expect(cleanTitle('   \n ', PROMPT)).toBe(fallback);
    expect(cleanTitle('***', PROMPT)).toBe(fallback);
    expect(cleanTitle('Cut the apples and the pears into small pieces, then add the grapes and some lemon juice', PROMPT)).toBe(fallback);
    expect(cleanTitle('   ')).toBeNull();
  });

  it('limits the length', () => {
    const long = 'Supercalifragilisticexpialidocious antidisestablishmentarianism floccinaucinihilipilification';
    const title = cleanTitle(long, PROMPT)!;
    expect(title.length).toBeLessThanOrEqual(60);
    expect(title.endsWith('…')).toBe(true);
  });
});

describe('the first words of the prompt', () => {
  it('takes six words, without markdown, and no more than 48 characters', () => {
    expect(fallbackTitle('Hello there')).toBe('Hello there');
    expect(fallbackTitle('  **Explain**   `git rebase`\n please ')).toBe('Explain git rebase please');
    expect(fallbackTitle('one two three four five six seven')).toBe('one two three four five six…');
    expect(fallbackTitle('x'.repeat(100))!.length).toBeLessThanOrEqual(48);
    expect(fallbackTitle(' \n ')).toBeNull();
  });
});
