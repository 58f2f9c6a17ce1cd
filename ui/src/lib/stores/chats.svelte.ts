/** The sidebar's chat list: server-side search, pin, rename, delete with undo. */
import { ApiError, humanError } from '../services/http';
import { apiChatRepository, type ChatRepository } from '../services/chatRepository';
import type { ChatRecord, ChatSummary } from '../services/types';
import { apiState, notices } from './notices.svelte';

export class ChatList {
  /** where the chats are kept (tests give it an in-memory one) */
  repository: ChatRepository = apiChatRepository;
  items = $state<ChatSummary[]>([]);
  query = $state('');
  loading = $state(false);
  total = $state<number | undefined>(undefined);
  /** chats kept in memory when /api/v1 is missing */
  local = new Map<string, ChatRecord>();
  /** Deletions waiting for their undo window to close (see flushDeletes). */
  private pendingDeletes = new Set<() => Promise<void>>();
  private seq = 0;

  async load(q = this.query): Promise<void> {
    this.query = q;
    const seq = ++this.seq;
    if (apiState.v1 === 'missing') {
      this.items = this.filterLocal(q);
      return;
    }
    this.loading = true;
    try {
      const result = await this.repository.listChats({ limit: 200, q: q || undefined });
      if (seq !== this.seq) return;
      apiState.v1 = 'ok';
      this.items = result.chats.filter((chat) => !chat.archived);
      this.total = result.total;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        apiState.v1 = 'missing';
        this.items = this.filterLocal(q);
      } else if (seq === this.seq) {
        notices.error(`Could not load chats: ${humanError(error).title}`);
      }
    } finally {
      if (seq === this.seq) this.loading = false;
    }
  }

  private filterLocal(q: string): ChatSummary[] {
    const needle = q.trim().toLowerCase();
    return [...this.local.values()]
      .filter(
        (chat) =>
          !needle ||
          chat.title.toLowerCase().includes(needle) ||
          (chat.messages ?? []).some((message) => message.content.toLowerCase().includes(needle)),
      )
      .sort((a, b) => String(b.updated_at).localeCompare(String(a.updated_at)));
  }

  /** Insert or update one chat in the list (newest first). */
  upsert(chat: ChatSummary): void {
    const index = this.items.findIndex((item) => String(item.id) === String(chat.id));
    const summary: ChatSummary = {
      id: chat.id,
      title: chat.title,
      model: chat.model,
      pinned: chat.pinned,
      archived: chat.archived,
      folder: chat.folder,
      created_at: chat.created_at,
      updated_at: chat.updated_at,
    };
    if (index >= 0) {
      this.items[index] = { ...this.items[index], ...summary };
      if (index > 0 && !summary.pinned) {
        const [item] = this.items.splice(index, 1);
        this.items.unshift(item);
      }
    } else if (!this.query) {
      this.items.unshift(summary);
    }
  }

  async rename(id: string | number, title: string): Promise<void> {
    title = title.trim();
    if (!title) return;
    this.patchLocal(id, { title });
    await this.save(() => this.repository.rename(id, title));
  }

  async togglePin(id: string | number): Promise<void> {
    const item = this.items.find((chat) => String(chat.id) === String(id));
    const pinned = !item?.pinned;
    this.patchLocal(id, { pinned });
    await this.save(() => this.repository.updateChat(id, { pinned }));
  }

  /** Remove now, delete on the server after the undo window closes. */
  remove(id: string | number, onRemoved?: () => void): void {
    const index = this.items.findIndex((chat) => String(chat.id) === String(id));
    if (index < 0) return;
    const [item] = this.items.splice(index, 1);
    let undone = false;
    const commit = async (): Promise<void> => {
      if (undone || !this.pendingDeletes.delete(commit)) return;
      clearTimeout(timer);
      this.local.delete(String(id));
      if (apiState.v1 === 'missing') return;
      try {
        await this.repository.deleteChat(id);
      } catch (error) {
        notices.error(`Could not delete the chat: ${humanError(error).title}`);
        void this.load();
      }
    };
    const timer = setTimeout(commit, 5000);
    this.pendingDeletes.add(commit);
    onRemoved?.();
    notices.info(
      `Deleted “${item.title}”`,
      {
        label: 'Undo',
        run: () => {
          undone = true;
          clearTimeout(timer);
          this.pendingDeletes.delete(commit);
          this.items.splice(Math.min(index, this.items.length), 0, item);
        },
      },
      5000,
    );
  }

  /**
   * Delete now what waits for its undo window to close: the page is going (reload, a
   * closed tab, the app quitting), and a chat the user deleted must not come back.
   */
  flushDeletes(): void {
    for (const commit of [...this.pendingDeletes]) void commit();
  }

  private patchLocal(id: string | number, patch: Partial<ChatSummary>): void {
    const item = this.items.find((chat) => String(chat.id) === String(id));
    if (item) Object.assign(item, patch);
    const local = this.local.get(String(id));
    if (local) Object.assign(local, patch);
  }

  private async save(write: () => Promise<unknown>): Promise<void> {
    if (apiState.v1 === 'missing') return;
    try {
      await write();
    } catch (error) {
      notices.error(`Could not save the chat: ${humanError(error).title}`);
    }
  }
}

export const chatList = new ChatList();
