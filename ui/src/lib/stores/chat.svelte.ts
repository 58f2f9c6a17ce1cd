/**
 * The open conversation: send, stream, stop, regenerate, edit and resend,
 * continue an interrupted answer, delete. Saves through its ChatRepository
 * (/api/v1 unless told otherwise) as it goes (a streaming answer every
 * `saveEveryMs`, and at the end), or keeps the chat in memory when that API
 * does not exist.
 */
import { streamAnswer, suggestTitle, type ChatRequest } from '../services/chat';
import { apiChatRepository, type ChatId, type ChatRepository } from '../services/chatRepository';
import { titleText } from '../services/documents';
import { ApiError, humanError, type HumanError } from '../services/http';
import type { ChatOptions, ChatRecord, StoredMessage } from '../services/types';
import { uid } from '../utils/format';
import { provisionalTitle } from '../utils/title';
import { appendParent, hasVersions, keepKeys, readParent, readVersions, versionParent, versionStep } from '../utils/tree';
import { chatList } from './chats.svelte';
import { AnswerSaver, answerPatch, fromStored, toStored, type UiMessage } from './messages';
import { apiState, notices } from './notices.svelte';
import { settings } from './settings.svelte';

export type { UiMessage };

export interface ChatSettings extends ChatOptions {
  keep_alive?: string | number;
  think?: boolean | null;
}

const NEW_TITLE = 'New chat';
/** A 404 for a chat while the chats API answers: the chat was deleted (another window, or the API). */
const GONE = 'This chat was deleted, perhaps in another window: what you add to it here is not saved.';

export class ChatStore {
  id = $state<ChatId | null>(null);
  title = $state(NEW_TITLE);
  model = $state('');
  system = $state('');
  options = $state<ChatSettings>({});
  messages = $state<UiMessage[]>([]);
  streaming = $state(false);
  loading = $state(false);
  error = $state<HumanError | null>(null);
  saveEveryMs = 500;
  private controller: AbortController | null = null;
  private pending: Promise<unknown> = Promise.resolve();
  /** chats whose title was already asked for (or that were opened with history) */
  private titled = new Set<string>();

  /** `repository`: where chats are kept (the default: /api/v1; tests: memoryChatRepository). */
  constructor(readonly repository: ChatRepository = apiChatRepository) {}

  /** Start an empty chat with the defaults from settings. */
  reset(model?: string): void {
    this.stop();
    this.id = null;
    this.title = NEW_TITLE;
    this.messages = [];
    this.error = null;
    this.system = settings.value.default_system_prompt ?? '';
    this.options = { ...settings.defaultOptions, keep_alive: settings.value.keep_alive ?? undefined };
    if (model !== undefined) this.model = model;
    else if (settings.value.default_model) this.model = settings.value.default_model;
  }

  async open(id: ChatId): Promise<void> {
    if (this.id !== null && String(this.id) === String(id)) return;
    this.stop();
    this.loading = true;
    this.error = null;
    try {
      let chat: ChatRecord | undefined;
      if (apiState.v1 === 'missing') chat = chatList.local.get(String(id));
      else chat = await this.repository.getChat(id);
      if (!chat) throw new ApiError(404, 'This chat does not exist (any more).');
      this.apply(chat);
    } catch (error) {
      this.reset();
      this.error = humanError(error);
      throw error;
    } finally {
      this.loading = false;
    }
  }

  private apply(chat: ChatRecord): void {
    this.id = chat.id;
    this.title = chat.title || NEW_TITLE;
    if (chat.model) this.model = chat.model;
    this.system = chat.system ?? '';
    this.options = { ...(chat.options ?? {}) };
    const shown = (chat.messages ?? [])
      .filter((message) => message.role !== 'system')
      .map((message) => fromStored(message));
    this.messages = keepKeys(this.messages, shown);
    if (this.messages.length > 1) this.titled.add(String(chat.id));
  }

  get persisted(): boolean {
    return apiState.v1 !== 'missing';
  }

  // ---------------------------------------------------------------- actions
  async send(text: string, images: string[] = []): Promise<void> {
    const content = text.trim();
    if ((!content && !images.length) || this.streaming) return;
    if (!this.model) {
      notices.error('Pick a model first (or pull one on the Models page).');
      return;
    }
    this.error = null;
    await this.ensureChat(content);
    const parent = appendParent(this.messages);
    const user = this.push({ key: uid('m'), role: 'user', content, done: true, ...(images.length ? { images } : {}) });
    await this.store(user, parent);
    await this.generate(undefined, user.id === undefined ? undefined : String(user.id));
  }

  /** Set while the page is being hidden for good (pagehide), cleared if it comes back. */
  leaving = false;

  stop(): void {
    this.controller?.abort();
  }

  /**
   * Ask again: a new answer beside this one, which the server keeps as a
   * version (‹ 1/2 ›). Without /api/v1 the old answer is dropped.
   */
  async regenerate(key: string): Promise<void> {
    if (this.streaming) return;
    const index = this.messages.findIndex((message) => message.key === key);
    if (index < 0) return;
    const at = this.messages[index].role === 'assistant' ? index : index + 1;
    const prompt = this.messages[at - 1];
    if (this.persisted && this.id !== null && prompt?.role === 'user' && prompt.id === undefined) {
      // Never saved (the server was down when it was sent): save it now, or Retry's answer
      // would hang off the message before it and the prompt be gone after a reload.
      await this.store(prompt, appendParent(this.messages.slice(0, at - 1)) ?? null);
    }
    const parent = versionParent(this.messages[at], prompt);
    if (!this.persisted || this.id === null || parent === undefined) {
      await this.truncate(at);
      await this.generate();
      return;
    }
    this.messages.splice(at); // only from view: the stored versions stay
    await this.generate(undefined, parent);
  }

  /**
   * Change a sent prompt: the new prompt goes beside the old one (the server
   * keeps both, each with its answers) and is answered. Without /api/v1 the
   * old prompt is overwritten and what followed it dropped.
   */
  async edit(key: string, text: string): Promise<void> {
    const content = text.trim();
    if (!content || this.streaming) return;
    const index = this.messages.findIndex((message) => message.key === key);
    if (index < 0 || this.messages[index].role !== 'user') return;
    const message = this.messages[index];
    const parent = versionParent(message, this.messages[index - 1]);
    if (this.persisted && this.id !== null && message.id !== undefined && parent !== undefined) {
      this.messages.splice(index);
      // The new version keeps the images: Edit changes the typed text only.
      const images = message.images?.length ? { images: message.images } : {};
      const user = this.push({ key: uid('m'), role: 'user', content, done: true, ...images });
      await this.store(user, parent);
      await this.generate(undefined, user.id === undefined ? undefined : String(user.id));
      return;
    }
    message.content = content;
    await this.truncate(index + 1);
    if (message.id !== undefined && this.id !== null && this.persisted) {
      await this.call(() => this.repository.updateMessage(this.id!, message.id!, { content }));
    }
    await this.generate();
  }

  /** Carry on an interrupted answer from where it stopped. */
  async continueAnswer(key: string): Promise<void> {
    if (this.streaming) return;
    const message = this.messages.find((entry) => entry.key === key);
    if (!message || message.role !== 'assistant') return;
    message.interrupted = false;
    await this.generate(message);
  }

  /** Show another version of a message (delta -1: the one before); the server remembers it. */
  async switchVersion(key: string, delta: number): Promise<void> {
    const message = this.messages.find((entry) => entry.key === key);
    const target = versionStep(message?.versions, delta);
    if (!target || this.streaming || this.id === null || !this.persisted) return;
    const chatId = this.id;
    try {
      const chat = await this.repository.setCurrent(chatId, target);
      if (this.id !== null && String(this.id) === String(chatId)) this.apply(chat);
    } catch (error) {
      notices.error(`Could not switch the version: ${humanError(error).title}`);
      await this.refresh();
    }
  }

  async remove(key: string): Promise<void> {
    const index = this.messages.findIndex((message) => message.key === key);
    if (index < 0) return;
    if (this.messages[index].streaming) this.stop();
    const branched = this.messages.some((entry) => hasVersions(entry.versions));
    const [message] = this.messages.splice(index, 1);
    if (message.id !== undefined && this.id !== null && this.persisted) {
      await this.call(() => this.repository.deleteMessage(this.id!, message.id!));
      // With versions the server shows another one in its place: show what it shows.
      if (branched && !this.streaming) await this.refresh();
    }
  }

  /** Read the open chat again from the server (after a change that moved its branch). */
  private async refresh(): Promise<void> {
    const chatId = this.id;
    if (chatId === null || !this.persisted) return;
    try {
      const chat = await this.repository.getChat(chatId);
      if (this.id !== null && String(this.id) === String(chatId)) this.apply(chat);
    } catch (error) {
      notices.error(`Could not reload the chat: ${humanError(error).title}`);
    }
  }

  async saveSettings(patch: { model?: string; system?: string; options?: ChatSettings }): Promise<void> {
    if (patch.model !== undefined) this.model = patch.model;
    if (patch.system !== undefined) this.system = patch.system;
    if (patch.options !== undefined) this.options = { ...patch.options };
    if (this.id === null) return;
    const local = chatList.local.get(String(this.id));
    if (local) Object.assign(local, patch);
    if (this.persisted) await this.call(() => this.repository.updateChat(this.id!, patch));
  }

  async rename(title: string): Promise<void> {
    this.title = title;
    if (this.id !== null) await chatList.rename(this.id, title);
  }

  /** The conversation as a plain record (for export when /api/v1 is missing). */
  snapshot(): ChatRecord {
    return {
      id: this.id ?? 'unsaved',
      title: this.title,
      model: this.model,
      system: this.system,
      options: { ...this.options },
      messages: this.messages.map((message) => toStored(message)),
    };
  }

  // ---------------------------------------------------------------- internals
  private push(message: UiMessage): UiMessage {
    this.messages.push(message);
    return this.messages[this.messages.length - 1];
  }

  private async ensureChat(firstMessage: string): Promise<void> {
    if (this.id !== null) return;
    const now = new Date().toISOString();
    const title = provisionalTitle(titleText(firstMessage)) || NEW_TITLE;
    const body = { title, model: this.model, system: this.system, options: { ...this.options } };
    this.title = title;
    if (this.persisted) {
      try {
        const chat = await this.repository.createChat(body);
        apiState.v1 = 'ok';
        this.id = chat.id;
        chatList.upsert({ ...chat, title: chat.title || title, created_at: chat.created_at ?? now, updated_at: chat.updated_at ?? now });
        this.onCreated?.(chat.id);
        return;
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) {
          notices.error(`Could not save the chat: ${humanError(error).title}`);
        } else {
          apiState.v1 = 'missing';
        }
      }
    }
    const id = uid('chat');
    this.id = id;
    const record: ChatRecord = { id, ...body, created_at: now, updated_at: now, messages: [] };
    chatList.local.set(id, record);
    chatList.upsert(record);
    this.onCreated?.(id);
  }

  /** Called with the new chat's id (the page uses it to update the address). */
  onCreated?: (id: ChatId) => void;

  /** Save a new message; `parent` (when known) says which message it follows. */
  private async store(message: UiMessage, parent?: string | null): Promise<void> {
    const chatId = this.id;
    if (chatId === null) return;
    const local = chatList.local.get(String(chatId));
    if (local) {
      local.messages = this.messages.map((entry) => toStored(entry));
      local.updated_at = new Date().toISOString();
    }
    if (!this.persisted) return;
    try {
      const body: Partial<StoredMessage> = toStored(message, false);
      if (parent !== undefined) body.parent_id = parent;
      const saved = await this.repository.addMessage(chatId, body);
      if (saved && saved.id !== undefined) message.id = saved.id;
      if (saved) {
        message.parentId = readParent(saved.parent_id);
        message.versions = readVersions(saved.versions);
      }
    } catch (error) {
      if (error instanceof ApiError && error.status === 404 && apiState.v1 !== 'ok') apiState.v1 = 'missing';
      else if (error instanceof ApiError && error.status === 404) notices.error(GONE);
      else notices.error(`Could not save the message: ${humanError(error).title}`);
    }
  }

  private async truncate(from: number): Promise<void> {
    const removed = this.messages.splice(from);
    if (this.id === null || !this.persisted) return;
    const chatId = this.id;
    for (const message of removed) {
      if (message.id !== undefined) await this.call(() => this.repository.deleteMessage(chatId, message.id!));
    }
  }

  private async call(fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (error) {
      if (error instanceof ApiError && error.status === 404 && apiState.v1 !== 'ok') apiState.v1 = 'missing';
      else if (error instanceof ApiError && error.status === 404) notices.error(GONE);
      else notices.error(`Could not save: ${humanError(error).title}`);
    }
  }

  private history(until: UiMessage | null): ChatRequest['messages'] {
    const out: ChatRequest['messages'] = [];
    if (this.system.trim()) out.push({ role: 'system', content: this.system });
    for (const message of this.messages) {
      if (message === until) break;
      if (message.error || (!message.content && !message.images?.length)) continue;
      out.push({ role: message.role, content: message.content, ...(message.images?.length ? { images: message.images } : {}) });
    }
    return out;
  }

  private requestOptions(): { options: ChatOptions; keep_alive?: string | number; think?: boolean } {
    const { keep_alive, think, ...rest } = this.options;
    const options: ChatOptions = {};
    for (const [key, value] of Object.entries(rest)) {
      if (value !== undefined && value !== null && value !== '' && !Number.isNaN(value)) options[key] = value;
    }
    const out: { options: ChatOptions; keep_alive?: string | number; think?: boolean } = { options };
    if (keep_alive !== undefined && keep_alive !== null && keep_alive !== '') out.keep_alive = keep_alive;
    if (typeof think === 'boolean') out.think = think;
    return out;
  }

  /**
   * Answer: stream into a new assistant message after `parent` (or onto
   * `resume`), then save it. Saved before the answer shows as finished: a
   * reload right after it (or closing the window) must find the whole answer,
   * not the last periodic save.
   */
  private async generate(resume?: UiMessage, parent?: string | null): Promise<void> {
    const chatId = this.id;
    const model = this.model;
    // on resume the partial answer is the last message: llama.cpp continues it
    const messages = this.history(null);
    const target = resume ?? (await this.newAnswer(model, parent));
    const controller = this.begin(target, model);
    const saver = new AnswerSaver((final) => this.saveAnswer(chatId, target, final), this.saveEveryMs);
    const request: ChatRequest = { model, messages, ...this.requestOptions() };
    const outcome = await streamAnswer(request, target, controller.signal, () => saver.tick());
    // The page is going (reload, tab closed): its stream broke because of that, not the model.
    // Saving now would store the cut answer as done; left as last saved (done: false) it
    // shows as interrupted, with Continue, when the chat opens again.
    if (this.leaving) return;
    target.stats = outcome.stats;
    if (outcome.error) target.error = outcome.error;
    await saver.finish();
    this.end(target, controller, chatId);
    if (!target.error && !resume) this.maybeTitle(chatId, model);
  }

  /** An empty assistant message after the shown ones, saved (it gets its id). */
  private async newAnswer(model: string, parent?: string | null): Promise<UiMessage> {
    const target = this.push({ key: uid('m'), role: 'assistant', content: '', done: false, model });
    await this.store(target, parent);
    return target;
  }

  /** `target` streams from now on; the controller that stops it. */
  private begin(target: UiMessage, model: string): AbortController {
    const controller = new AbortController();
    this.controller = controller;
    this.streaming = true;
    target.streaming = true;
    target.done = false;
    target.error = undefined;
    target.model = model;
    return controller;
  }

  private end(target: UiMessage, controller: AbortController, chatId: ChatId | null): void {
    target.done = true;
    target.streaming = false;
    if (this.controller === controller) this.controller = null;
    this.streaming = false;
    this.updateLocal(chatId);
  }

  /**
   * Save the streaming answer as it is now (final: done, with its stats).
   * A failed save while it streams is let go (the next one carries it all);
   * a failed final save is said, since a reload would show a cut-off answer.
   */
  private saveAnswer(chatId: ChatId | null, target: UiMessage, final: boolean): Promise<void> {
    if (chatId === null || target.id === undefined || !this.persisted) return Promise.resolve();
    return this.repository.updateMessage(chatId, target.id, answerPatch(target, final)).catch((error) => {
      if (final) notices.error(`Could not save the answer: ${humanError(error).title}`);
    });
  }

  private updateLocal(chatId: ChatId | null): void {
    if (chatId === null) return;
    const now = new Date().toISOString();
    const local = chatList.local.get(String(chatId));
    if (local) {
      local.messages = this.messages.map((entry) => toStored(entry));
      local.updated_at = now;
    }
    const item = chatList.items.find((chat) => String(chat.id) === String(chatId));
    if (item) chatList.upsert({ ...item, updated_at: now });
  }

  /** After the first exchange, ask the model for a title in the background. */
  private maybeTitle(chatId: ChatId | null, model: string): void {
    if (chatId === null || this.messages.length !== 2 || this.titled.has(String(chatId))) return;
    this.titled.add(String(chatId));
    const [user, answer] = this.messages;
    if (user.role !== 'user' || answer.role !== 'assistant' || !answer.content) return;
    const placeholder = this.title;
    // the chat's own load options and keep_alive: the same runner answers, none is reloaded
    this.pending = suggestTitle(model, user.content, answer.content, this.requestOptions()).then(async (title) => {
      if (!title) return;
      const item = chatList.items.find((chat) => String(chat.id) === String(chatId));
      // the person renamed it meanwhile: keep theirs
      if (item && item.title !== placeholder) return;
      if (this.id !== null && String(this.id) === String(chatId)) this.title = title;
      await chatList.rename(chatId, title);
    });
  }

  /** Resolves when background work (titles) has settled; for tests. */
  settled(): Promise<unknown> {
    return this.pending;
  }
}

export const chat = new ChatStore();
