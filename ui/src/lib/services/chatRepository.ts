/**
 * Where chats and their messages are kept, as the stores see it: a stateless
 * service beneath them (as llama.cpp's webui keeps its stores over a database
 * service). `apiChatRepository` is Hearth's /api/v1 (services/chats.ts, the
 * same requests as ever); `memoryChatRepository` keeps them in memory, with
 * the server's rules for versions, for unit tests.
 *
 * Both fail with an ApiError: 404 for a chat or message that is not there.
 */
import * as api from './chats';
import { ApiError } from './http';
import type { ChatRecord, ChatSummary, StoredMessage } from './types';
import type { ChatList } from './chats';

export type ChatId = string | number;

export interface ChatRepository {
  /** The chats, newest first (the server filters by `q`). */
  listChats(params?: { limit?: number; offset?: number; q?: string }): Promise<ChatList>;
  /** One chat with the branch it shows as `messages`, each with its `versions`. */
  getChat(id: ChatId): Promise<ChatRecord>;
  createChat(body: Partial<ChatRecord>): Promise<ChatRecord>;
  /** Change some fields (model, system, options, pinned…); the chat as it is now. */
  updateChat(id: ChatId, patch: Partial<ChatRecord>): Promise<ChatRecord>;
  rename(id: ChatId, title: string): Promise<void>;
  /** Show the branch through `messageId` (another version); the chat as it is now. */
  setCurrent(id: ChatId, messageId: string): Promise<ChatRecord>;
  deleteChat(id: ChatId): Promise<void>;
  /**
   * Add a message after `parent_id` when given (a new version beside that
   * message's other children), else after the last one shown; it comes back
   * with its id, `parent_id` and `versions`.
   */
  addMessage(chatId: ChatId, message: Partial<StoredMessage>): Promise<StoredMessage>;
  updateMessage(chatId: ChatId, messageId: ChatId, patch: Partial<StoredMessage>): Promise<void>;
  /** Remove one message; what followed it moves up to its parent. */
  deleteMessage(chatId: ChatId, messageId: ChatId): Promise<void>;
}

export const apiChatRepository: ChatRepository = {
  listChats: (params) => api.listChats(params),
  getChat: (id) => api.getChat(id),
  createChat: (body) => api.createChat(body),
  updateChat: (id, patch) => api.updateChat(id, patch),
  rename: async (id, title) => {
    await api.updateChat(id, { title });
  },
  setCurrent: (id, messageId) => api.updateChat(id, { current_id: messageId }),
  deleteChat: (id) => api.deleteChat(id),
  addMessage: (chatId, message) => api.addMessage(chatId, message),
  updateMessage: (chatId, messageId, patch) => api.updateMessage(chatId, messageId, patch),
  deleteMessage: (chatId, messageId) => api.deleteMessage(chatId, messageId),
};

// ------------------------------------------------------------------ in memory

type Operation = keyof ChatRepository;

interface MemoryChat {
  record: ChatRecord;
  /** every message, oldest first, each with its `parent_id` */
  tree: StoredMessage[];
  /** when each message last joined the branch shown (the server's `seen`) */
  seen: Map<string, number>;
  currentId: string | null;
}

export interface MemoryChatRepository extends ChatRepository {
  /** Every message of a chat, all versions, oldest first (the stored objects: tests may change them). */
  tree(chatId: ChatId): StoredMessage[];
  /** Make the next call of `operation` fail with `error` (once). */
  failNext(operation: Operation, error: Error): void;
  /** The operations called, in order, with the chat they named. */
  readonly log: { operation: Operation; chatId?: string }[];
}

/**
 * Chats in memory, following app/chats/tree.py: Regenerate and Edit add a
 * sibling, `current_id` names the branch shown (down to the continuation seen
 * last), deleting a message moves its children up.
 */
export function memoryChatRepository(): MemoryChatRepository {
  const chats = new Map<string, MemoryChat>();
  const failures = new Map<Operation, Error>();
  const log: { operation: Operation; chatId?: string }[] = [];
  let next = 1;
  let clock = 0;
  const stamp = () => new Date(Date.UTC(2026, 0, 1, 0, 0, 0, clock++)).toISOString();

  const enter = (operation: Operation, chatId?: ChatId) => {
    log.push({ operation, chatId: chatId === undefined ? undefined : String(chatId) });
    const error = failures.get(operation);
    if (error) {
      failures.delete(operation);
      throw error;
    }
  };
  const find = (id: ChatId): MemoryChat => {
    const chat = chats.get(String(id));
    if (!chat) throw new ApiError(404, `chat '${id}' not found`);
    return chat;
  };
  const children = (chat: MemoryChat, parent: string | null) =>
    chat.tree.filter((message) => (message.parent_id ?? null) === parent).map((message) => String(message.id));
  /** the child shown last (highest seen; the newest among equals) */
  const preferred = (chat: MemoryChat, parent: string | null): string | null => {
    let best: string | null = null;
    for (const id of children(chat, parent)) {
      if (best === null || (chat.seen.get(id) ?? 0) >= (chat.seen.get(best) ?? 0)) best = id;
    }
    return best;
  };
  const leafOf = (chat: MemoryChat, start: string | null): string | null => {
    let current = start;
    for (let child = preferred(chat, current); child !== null; child = preferred(chat, current)) current = child;
    return current;
  };
  const parentOf = (chat: MemoryChat, id: string): string | null =>
    (chat.tree.find((message) => String(message.id) === id)?.parent_id as string | null | undefined) ?? null;
  const branch = (chat: MemoryChat, leaf: string | null): string[] => {
    const path: string[] = [];
    for (let id = leaf; id !== null; id = parentOf(chat, id)) path.unshift(id);
    return path;
  };
  const resolve = (chat: MemoryChat): string | null => {
    if (chat.currentId !== null && chat.tree.some((message) => String(message.id) === chat.currentId)) {
      return leafOf(chat, chat.currentId);
    }
    const last = chat.tree.at(-1);
    return last ? leafOf(chat, String(last.id)) : null;
  };
  /** the branch through `leaf` becomes the one shown: its messages are seen now */
  const show = (chat: MemoryChat, leaf: string | null) => {
    for (const id of branch(chat, leaf)) if (preferred(chat, parentOf(chat, id)) !== id) chat.seen.set(id, ++clock);
    chat.currentId = leaf;
  };
  const versions = (chat: MemoryChat, id: string) => {
    const ids = children(chat, parentOf(chat, id));
    return { index: ids.indexOf(id), count: ids.length, ids };
  };
  const view = (chat: MemoryChat): ChatRecord => {
    const current = resolve(chat);
    const byId = new Map(chat.tree.map((message) => [String(message.id), message]));
    const messages = branch(chat, current).map((id) => clone({ ...byId.get(id)!, versions: versions(chat, id) }));
    return { ...clone(chat.record), current_id: current, messages };
  };

  const update = (chat: MemoryChat, patch: Partial<ChatRecord>): ChatRecord => {
    const { current_id: currentId, messages: _messages, ...fields } = clone(patch);
    if (currentId !== undefined) {
      const wanted = String(currentId);
      if (!chat.tree.some((message) => String(message.id) === wanted)) {
        throw new ApiError(400, `current_id '${wanted}' is no message of this chat`);
      }
      show(chat, leafOf(chat, wanted));
    }
    Object.assign(chat.record, fields);
    return view(chat);
  };

  return {
    log,
    tree: (chatId) => find(chatId).tree,
    failNext: (operation, error) => void failures.set(operation, error),

    async listChats(params = {}) {
      enter('listChats');
      const needle = params.q?.toLowerCase();
      const all = [...chats.values()]
        .map((chat) => clone(chat.record) as ChatSummary)
        .filter((chat) => !needle || chat.title.toLowerCase().includes(needle))
        .sort((a, b) => String(b.updated_at).localeCompare(String(a.updated_at)));
      const offset = params.offset ?? 0;
      return { chats: all.slice(offset, params.limit === undefined ? undefined : offset + params.limit), total: all.length };
    },
    async getChat(id) {
      enter('getChat', id);
      return view(find(id));
    },
    async createChat(body) {
      enter('createChat');
      const id = String(next++);
      const now = stamp();
      const { messages: _messages, ...fields } = clone(body);
      chats.set(id, {
        record: { title: '', ...fields, id, created_at: now, updated_at: now },
        tree: [],
        seen: new Map(),
        currentId: null,
      });
      return view(find(id));
    },
    async updateChat(id, patch) {
      enter('updateChat', id);
      return update(find(id), patch);
    },
    async rename(id, title) {
      enter('rename', id);
      update(find(id), { title });
    },
    async setCurrent(id, messageId) {
      enter('setCurrent', id);
      return update(find(id), { current_id: messageId });
    },
    async deleteChat(id) {
      enter('deleteChat', id);
      find(id);
      chats.delete(String(id));
    },
    async addMessage(chatId, message) {
      enter('addMessage', chatId);
      const chat = find(chatId);
      let parent: string | null;
      if ('parent_id' in message) {
        parent = message.parent_id === null || message.parent_id === undefined ? null : String(message.parent_id);
        if (parent !== null && !chat.tree.some((entry) => String(entry.id) === parent)) {
          throw new ApiError(400, `parent_id '${parent}' is no message of this chat`);
        }
      } else {
        parent = resolve(chat);
      }
      const id = `m${next++}`;
      const stored = { ...clone(message), id, parent_id: parent, created_at: stamp() } as StoredMessage;
      chat.tree.push(stored);
      show(chat, id);
      chat.record.updated_at = stamp();
      return clone({ ...stored, versions: versions(chat, id) });
    },
    async updateMessage(chatId, messageId, patch) {
      enter('updateMessage', chatId);
      const chat = find(chatId);
      const message = chat.tree.find((entry) => String(entry.id) === String(messageId));
      if (!message) throw new ApiError(404, `message '${messageId}' not found`);
      Object.assign(message, clone(patch));
      if (patch.done === true) chat.record.updated_at = stamp();
    },
    async deleteMessage(chatId, messageId) {
      enter('deleteMessage', chatId);
      const chat = find(chatId);
      const id = String(messageId);
      const index = chat.tree.findIndex((entry) => String(entry.id) === id);
      if (index < 0) throw new ApiError(404, `message '${messageId}' not found`);
      const parent = parentOf(chat, id);
      for (const entry of chat.tree) if (entry.parent_id === id) entry.parent_id = parent;
      chat.tree.splice(index, 1);
      chat.seen.delete(id);
      if (chat.currentId === id) chat.currentId = leafOf(chat, parent);
      chat.record.updated_at = stamp();
    },
  };
}

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
