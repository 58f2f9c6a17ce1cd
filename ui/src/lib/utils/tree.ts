/**
 * Versions of a message (issue 18 item 3): Regenerate and Edit add a sibling
 * on the server instead of deleting, and each shown message carries
 * `versions` — its siblings' ids, oldest first, and where it sits among them.
 * These helpers read that field and pick the version to switch to; the store
 * persists the switch with `PATCH current_id`.
 */

export interface Versions {
  /** 0-based: `ids[index]` is the message itself */
  index: number;
  count: number;
  ids: string[];
}

/** The server's `versions` field, checked; anything else (an older server) is none. */
export function readVersions(value: unknown): Versions | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const { index, ids } = value as { index?: unknown; ids?: unknown };
  if (!Array.isArray(ids) || !ids.length || typeof index !== 'number') return undefined;
  if (!Number.isInteger(index) || index < 0 || index >= ids.length) return undefined;
  return { index, count: ids.length, ids: ids.map((id) => String(id)) };
}

/** A message's parent as the server said it: a string, null (a first message), or unknown. */
export function readParent(value: unknown): string | null | undefined {
  if (value === null) return null;
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  return undefined;
}

/** Worth showing ‹ 1/2 ›: there is more than one version. */
export function hasVersions(versions: Versions | undefined): versions is Versions {
  return !!versions && versions.count > 1;
}

/** The id of the version `delta` steps away, or null past either end. */
export function versionStep(versions: Versions | undefined, delta: number): string | null {
  if (!versions) return null;
  const next = versions.index + delta;
  return next >= 0 && next < versions.ids.length ? versions.ids[next] : null;
}

/** The group's accessible name: "Version 1 of 2". */
export function versionLabel(versions: Versions): string {
  return `Version ${versions.index + 1} of ${versions.count}`;
}

interface Keyed {
  key: string;
  id?: string | number;
}

/**
 * The new list with the keys of the messages it shares (by id) with the old,
 * so switching a version re-renders only the part of the chat that changed.
 */
export function keepKeys<T extends Keyed>(old: readonly Keyed[], next: T[]): T[] {
  const keys = new Map<string, string>();
  for (const message of old) if (message.id !== undefined) keys.set(String(message.id), message.key);
  const used = new Set<string>();
  for (const message of next) {
    const key = message.id !== undefined ? keys.get(String(message.id)) : undefined;
    if (key !== undefined && !used.has(key)) message.key = key;
    used.add(message.key);
  }
  return next;
}

/**
 * The parent for a new version of `message` (Regenerate, Edit): the parent the
 * server gave it, else the id of the message shown before it; undefined when
 * neither is known (the caller then cannot keep the old version).
 */
export function versionParent(
  message: { parentId?: string | null } | undefined,
  before: { id?: string | number } | undefined,
): string | null | undefined {
  if (message && message.parentId !== undefined) return message.parentId;
  if (before && before.id !== undefined) return String(before.id);
  return undefined;
}

/** The parent for a message added after the shown ones: the last one's id, if it has one. */
export function appendParent(shown: readonly { id?: string | number }[]): string | undefined {
  const last = shown[shown.length - 1];
  return last && last.id !== undefined ? String(last.id) : undefined;
}
