/**
 * The chat store over the in-memory repository: what it saves, and when,
 * without /api/v1 (fakeServer answers only /ollama/api/chat here).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { apiChatRepository, memoryChatRepository, type MemoryChatRepository } from '../services/chatRepository';
import { ApiError } from '../services/http';
import type { StoredMessage } from '../services/types';
import { fakeServer, until } from './fakeServer';
import { ChatStore } from './chat.svelte';
import { chatList } from './chats.svelte';
import { apiState, notices } from './notices.svelte';

let server: ReturnType<typeof fakeServer>;
let repo: MemoryChatRepository;

function setup(options: Parameters<typeof fakeServer>[0] = {}): ChatStore {
  server = fakeServer(options);
  vi.stubGlobal('fetch', server.fetch);
  repo = memoryChatRepository();
  chatList.repository = repo;
  const store = new ChatStore(repo);
  store.model = 'gemma3:270m';
  store.saveEveryMs = 5;
  return store;
}

/** Record each updateMessage patch, with what the page showed when it was sent. */
function recordPatches(store: ChatStore) {
  const patches: { patch: Partial<StoredMessage>; shownDone: boolean; streaming: boolean }[] = [];
  const update = repo.updateMessage.bind(repo);
  repo.updateMessage = (chatId, messageId, patch) => {
    const answer = store.messages.find((message) => String(message.id) === String(messageId));
    patches.push({ patch: JSON.parse(JSON.stringify(patch)), shownDone: !!answer?.done, streaming: store.streaming });
    return update(chatId, messageId, patch);
  };
  return patches;
}

const v1Calls = () => server.calls.filter((call) => call.url.startsWith('/api/v1'));
const errors = () => notices.toasts.filter((toast) => toast.kind === 'error').map((toast) => toast.text);

beforeEach(() => {
  apiState.v1 = 'unknown';
  chatList.items = [];
  chatList.local.clear();
  notices.toasts = [];
});
afterEach(() => {
  chatList.repository = apiChatRepository;
  vi.unstubAllGlobals();
});

describe('chat store over the in-memory repository', () => {
  it('streams an answer, then saves it before showing it finished', async () => {
    const store = setup({ thinking: ['Hm', 'm.'], tokens: Array.from({ length: 20 }, (_, i) => `t${i} `), delayMs: 3 });
    const patches = recordPatches(store);
    await store.send('Count');
    const answer = store.messages[1];
    expect(answer.content).toBe(Array.from({ length: 20 }, (_, i) => `t${i} `).join(''));
    expect(answer.thinking).toBe('Hmm.');
    expect(answer.done).toBe(true);
    expect(answer.stats).toMatchObject({ done_reason: 'stop', eval_count: 20, prompt_eval_count: 12, tokens_per_s: 40 });
    // saved as it grew (done:false, no stats), then once finished, before the page showed it so
    expect(patches.length).toBeGreaterThan(1);
    for (const { patch } of patches.slice(0, -1)) {
      expect(patch.done).toBe(false);
      expect('stats' in patch).toBe(false);
    }
    const last = patches.at(-1)!;
    expect(last.patch).toMatchObject({ done: true, content: answer.content, thinking: 'Hmm.' });
    expect(last.patch.stats).toEqual(answer.stats);
    expect(last.shownDone).toBe(false);
    expect(last.streaming).toBe(true);
    // in the repository: the branch as shown, nothing through /api/v1
    const saved = await repo.getChat(store.id!);
    expect(saved.messages!.map((m) => [m.role, m.content, m.done, m.parent_id])).toEqual([
      ['user', 'Count', true, null],
      ['assistant', answer.content, true, String(store.messages[0].id)],
    ]);
    expect(repo.log.slice(0, 3).map((entry) => entry.operation)).toEqual(['createChat', 'addMessage', 'addMessage']);
    await store.settled();
    expect(v1Calls()).toEqual([]);
    expect(saved.title).toBe('Count');
    expect((await repo.getChat(store.id!)).title).toBe('A Fine Title');
  });

  it('a stop mid-stream saves what arrived, marked stopped', async () => {
    const store = setup({ tokens: Array.from({ length: 200 }, (_, i) => `w${i} `), delayMs: 3 });
    const sending = store.send('Long answer please');
    await until(() => (store.messages[1]?.content.length ?? 0) > 10);
    store.stop();
    await sending;
    const answer = store.messages[1];
    expect(answer.content.split(' ').length).toBeLessThan(150);
    expect(answer.error).toBeUndefined();
    const saved = repo.tree(store.id!)[1];
    expect(saved.content).toBe(answer.content);
    expect(saved.done).toBe(true);
    expect(saved.stats).toMatchObject({ stopped: true, done_reason: 'stopped' });
    expect(saved.stats?.ttft_ms).toBeGreaterThan(0);
    await store.settled();
  });

  it('a failed answer saves its error with what arrived', async () => {
    const store = setup({ failChatWith: { status: 500, error: 'llama-server failed to start: exit 1\nerror: out of cheese' } });
    await store.send('Hi');
    const saved = repo.tree(store.id!)[1];
    expect(saved.done).toBe(true);
    expect(saved.content).toBe('');
    expect(saved.stats?.error).toContain('out of cheese');
    expect(store.messages[1].error?.title).toBe('The model could not be started.');
  });

  it('reports a message that could not be saved, and still answers', async () => {
    const store = setup();
    repo.failNext('addMessage', new ApiError(500, 'database is locked'));
    await store.send('Hi');
    expect(errors()).toEqual(['Could not save the message: database is locked']);
    const [user, answer] = store.messages;
    expect(user.id).toBeUndefined();
    expect(answer.content).toBe('Hello there, friend.');
    // the answer is saved; the prompt is not
    expect(repo.tree(store.id!).map((m) => [m.role, m.content, m.done])).toEqual([['assistant', 'Hello there, friend.', true]]);
  });

  it('reports an answer whose final save failed, and still shows it', async () => {
    const store = setup({ tokens: ['Saved ', 'or ', 'not.'] });
    const update = repo.updateMessage.bind(repo);
    repo.updateMessage = (chatId, messageId, patch) =>
      patch.done ? Promise.reject(new ApiError(507, 'the disk is full')) : update(chatId, messageId, patch);
    await store.send('Hi');
    expect(store.messages[1].content).toBe('Saved or not.');
    expect(store.messages[1].done).toBe(true);
    expect(errors()).toEqual(['Could not save the answer: the disk is full']);
    await store.settled();
  });

  it('reports a chat that could not be created, and keeps it in memory', async () => {
    const store = setup();
    repo.failNext('createChat', new ApiError(500, 'database is locked'));
    await store.send('Hi');
    expect(errors()[0]).toBe('Could not save the chat: database is locked');
    expect(String(store.id)).toMatch(/^chat-/);
    expect(store.messages[1].content).toBe('Hello there, friend.');
    expect(chatList.local.get(String(store.id))?.messages?.map((m) => m.content)).toEqual(['Hi', 'Hello there, friend.']);
  });

  it('reports a version switch that failed and shows the chat as stored', async () => {
    const store = setup();
    await store.send('Hi');
    await store.regenerate(store.messages[1].key);
    repo.failNext('setCurrent', new ApiError(500, 'database is locked'));
    await store.switchVersion(store.messages[1].key, -1);
    expect(errors()).toEqual(['Could not switch the version: database is locked']);
    expect(store.messages[1].versions).toMatchObject({ index: 1, count: 2 });
  });

  it('regenerates, edits and deletes through the repository', async () => {
    const store = setup();
    await store.send('First');
    await store.regenerate(store.messages[1].key);
    await store.edit(store.messages[0].key, 'First, again');
    expect(store.messages.map((m) => m.content)).toEqual(['First, again', 'Hello there, friend.']);
    expect(store.messages[0].versions).toMatchObject({ index: 1, count: 2 });
    expect(repo.tree(store.id!).map((m) => m.content)).toEqual([
      'First',
      'Hello there, friend.',
      'Hello there, friend.',
      'First, again',
      'Hello there, friend.',
    ]);
    await store.switchVersion(store.messages[0].key, -1);
    // the first prompt, with the answer last shown under it (the regenerated one)
    expect(store.messages.map((m) => m.versions && [m.versions.index, m.versions.count])).toEqual([
      [0, 2],
      [1, 2],
    ]);
    await store.remove(store.messages[1].key);
    expect(store.messages.map((m) => m.content)).toEqual(['First', 'Hello there, friend.']);
    expect(store.messages[1].versions?.count).toBe(1);
    expect(repo.tree(store.id!)).toHaveLength(4);
    expect(v1Calls()).toEqual([]);
  });
});

describe('the in-memory repository', () => {
  it('moves the children of a deleted message up to its parent', async () => {
    const memory = memoryChatRepository();
    const chat = await memory.createChat({ title: 't' });
    const a = await memory.addMessage(chat.id, { role: 'user', content: 'a' });
    const b = await memory.addMessage(chat.id, { role: 'assistant', content: 'b' });
    await memory.addMessage(chat.id, { role: 'user', content: 'c' });
    await memory.deleteMessage(chat.id, b.id);
    const shown = await memory.getChat(chat.id);
    expect(shown.messages!.map((m) => [m.content, m.parent_id])).toEqual([
      ['a', null],
      ['c', a.id],
    ]);
    await expect(memory.deleteMessage(chat.id, b.id)).rejects.toMatchObject({ status: 404 });
    await expect(memory.getChat('nope')).rejects.toMatchObject({ status: 404 });
  });
});
