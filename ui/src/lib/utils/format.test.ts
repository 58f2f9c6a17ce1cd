import { describe, expect, it } from 'vitest';
import { cleanTitle } from '../services/chat';
import { humanError, ApiError } from '../services/http';
import { formatBytes, groupByDate, tokensPerSecond } from './format';

describe('format', () => {
  it('groups chats by date, pinned first', () => {
    const now = new Date(2026, 4, 20, 15, 0, 0);
    const at = (days: number) => new Date(now.getTime() - days * 86_400_000).toISOString();
    const groups = groupByDate(
      [
        { id: 1, updated_at: at(0) },
        { id: 2, updated_at: at(1) },
        { id: 3, updated_at: at(3) },
        { id: 4, updated_at: at(30) },
        { id: 5, updated_at: at(30), pinned: true },
      ],
      now,
    );
    expect(groups.map((group) => [group.label, group.items.map((item) => (item as { id: number }).id)])).toEqual([
      ['Pinned', [5]],
      ['Today', [1]],
      ['Yesterday', [2]],
      ['Previous 7 days', [3]],
      ['Older', [4]],
    ]);
  });

  it('formats sizes and speeds', () => {
    expect(formatBytes(253_113_192)).toBe('253 MB');
    expect(formatBytes(1_500)).toBe('1.5 KB');
    expect(tokensPerSecond(70, 1_000_000_000)).toBe(70);
    expect(tokensPerSecond(0, 0)).toBeUndefined();
  });

  it('cleans model-written titles', () => {
    expect(cleanTitle('"Fruit Salad Ideas."\nmore')).toBe('Fruit Salad Ideas');
    expect(cleanTitle('Title: **Rust lifetimes**')).toBe('Rust lifetimes');
    expect(cleanTitle('<think>hmm</think>\nNice Title')).toBe('Nice Title');
    expect(cleanTitle('   ')).toBeNull();
  });

  it('explains errors', () => {
    expect(humanError(new ApiError(0, 'x')).title).toMatch(/reach Hearth/);
    expect(humanError(new TypeError('Failed to fetch')).title).toMatch(/reach Hearth/);
    expect(humanError(new ApiError(507, 'No space left on device')).title).toMatch(/disk is full/);
  });
});
