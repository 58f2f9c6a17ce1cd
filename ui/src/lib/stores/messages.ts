/**
 * The chat's messages as the page shows them (`UiMessage`), read from and
 * written to their stored form (`StoredMessage`); and `AnswerSaver`, which
 * paces the saves of an answer while it streams.
 */
import { humanError, type HumanError } from '../services/http';
import type { MessageStats, Role, StoredMessage } from '../services/types';
import { uid } from '../utils/format';
import { readParent, readVersions, type Versions } from '../utils/tree';

export interface UiMessage {
  key: string;
  id?: string | number;
  role: Role;
  content: string;
  /** attached images as bare base64 (Ollama's `images`), kept with the message */
  images?: string[];
  thinking?: string;
  stats?: MessageStats;
  done: boolean;
  /** loaded from storage with done:false: the answer was cut off (reload, crash) */
  interrupted?: boolean;
  streaming?: boolean;
  error?: HumanError;
  model?: string;
  /** the message this one follows on the server; null: a first message; undefined: unknown */
  parentId?: string | null;
  /** this message and its other versions (Regenerate, Edit), when the server keeps them */
  versions?: Versions;
}

function readImages(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.length && value.every((item) => typeof item === 'string') ? value : undefined;
}

export function fromStored(message: StoredMessage): UiMessage {
  const stats = message.stats ?? undefined;
  const interrupted = message.role === 'assistant' && message.done === false;
  return {
    key: uid('m'),
    id: message.id,
    role: message.role,
    content: message.content ?? '',
    images: readImages(message.images),
    thinking: message.thinking ?? undefined,
    stats,
    done: true,
    interrupted,
    model: message.model ?? undefined,
    error: stats?.error ? humanError(new Error(stats.error), message.model ?? undefined) : undefined,
    parentId: readParent(message.parent_id),
    versions: readVersions(message.versions),
  };
}

export function toStored(message: UiMessage, withId = true): StoredMessage {
  const stored: StoredMessage = {
    id: withId ? (message.id ?? message.key) : (undefined as unknown as string),
    role: message.role,
    content: message.content,
    done: message.done,
  };
  if (!withId) delete (stored as Partial<StoredMessage>).id;
  if (message.images?.length) stored.images = message.images;
  if (message.thinking) stored.thinking = message.thinking;
  if (message.stats) stored.stats = message.stats;
  if (message.model) stored.model = message.model;
  return stored;
}

/** What saving a streaming answer writes: its text so far; when final, also done and its stats. */
export function answerPatch(message: UiMessage, final: boolean): Partial<StoredMessage> {
  return {
    content: message.content,
    thinking: message.thinking ?? null,
    done: final,
    ...(final ? { stats: message.stats ?? null } : {}),
  };
}

/**
 * Saves a streaming answer through `write`: at most every `everyMs` while it
 * grows (never two at once), and once more at the end, after the last one.
 */
export class AnswerSaver {
  private last = performance.now();
  private saving: Promise<void> | null = null;

  constructor(
    private readonly write: (final: boolean) => Promise<void>,
    private readonly everyMs: number,
  ) {}

  /** After each chunk: save now if the last save is old enough and done. */
  tick(): void {
    const now = performance.now();
    if (now - this.last < this.everyMs || this.saving) return;
    this.last = now;
    this.saving = this.write(false).finally(() => {
      this.saving = null;
    });
  }

  /** The final save, after any save still on its way. */
  async finish(): Promise<void> {
    if (this.saving) await this.saving;
    await this.write(true);
  }
}
