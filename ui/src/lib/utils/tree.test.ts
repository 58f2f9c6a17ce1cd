import { describe, expect, it } from 'vitest';
import {
  appendParent,
  hasVersions,
  keepKeys,
  readParent,
  readVersions,
  versionLabel,
  versionParent,
  versionStep,
} from './tree';

describe('readVersions', () => {
  it('reads the server field and counts the ids', () => {
    expect(readVersions({ index: 1, count: 2, ids: ['a', 'b'] })).toEqual({ index: 1, count: 2, ids: ['a', 'b'] });
    expect(readVersions({ index: 0, ids: [7] })).toEqual({ index: 0, count: 1, ids: ['7'] });
  });
  it('ignores what an older server or a broken record sends', () => {
    for (const value of [undefined, null, 'x', {}, { index: 0, ids: [] }, { index: 2, ids: ['a'] }, { index: -1, ids: ['a'] }, { index: 0.5, ids: ['a', 'b'] }]) {
      expect(readVersions(value)).toBeUndefined();
    }
  });
});

describe('readParent', () => {
  it('keeps null (a first message) apart from unknown', () => {
    expect(readParent(null)).toBeNull();
    expect(readParent(undefined)).toBeUndefined();
    expect(readParent('m1')).toBe('m1');
    expect(readParent(3)).toBe('3');
    expect(readParent({})).toBeUndefined();
  });
});

describe('stepping between versions', () => {
  const versions = { index: 1, count: 3, ids: ['a', 'b', 'c'] };
  it('goes one back and one on, and stops at the ends', () => {
    expect(versionStep(versions, -1)).toBe('a');
    expect(versionStep(versions, 1)).toBe('c');
    expect(versionStep({ ...versions, index: 0 }, -1)).toBeNull();
    expect(versionStep({ ...versions, index: 2 }, 1)).toBeNull();
    expect(versionStep(undefined, 1)).toBeNull();
  });
  it('names the version for a screen reader, counting from one', () => {
    expect(versionLabel(versions)).toBe('Version 2 of 3');
  });
  it('shows the arrows only when there is a choice', () => {
    expect(hasVersions(versions)).toBe(true);
    expect(hasVersions({ index: 0, count: 1, ids: ['a'] })).toBe(false);
    expect(hasVersions(undefined)).toBe(false);
  });
});

describe('keepKeys', () => {
  it('reuses the keys of messages with the same id, and only once', () => {
    const old = [
      { key: 'k1', id: 'u1' },
      { key: 'k2', id: 'a1' },
    ];
    const next = keepKeys(old, [
      { key: 'n1', id: 'u1' },
      { key: 'n2', id: 'a2' },
      { key: 'n3', id: 'u1' },
      { key: 'n4' },
    ]);
    expect(next.map((message) => message.key)).toEqual(['k1', 'n2', 'n3', 'n4']);
  });
});

describe('parents of new messages', () => {
  it('a new version sits beside the old one', () => {
    expect(versionParent({ parentId: 'u1' }, { id: 'other' })).toBe('u1');
    expect(versionParent({ parentId: null }, undefined)).toBeNull();
    expect(versionParent({}, { id: 5 })).toBe('5');
    expect(versionParent(undefined, { id: 'u1' })).toBe('u1');
    expect(versionParent({}, {})).toBeUndefined();
  });
  it('a new message follows the last one shown', () => {
    expect(appendParent([{ id: 'u1' }, { id: 'a1' }])).toBe('a1');
    expect(appendParent([{ id: 'u1' }, {}])).toBeUndefined();
    expect(appendParent([])).toBeUndefined();
  });
});
