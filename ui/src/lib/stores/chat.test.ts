import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fakeServer, until } from './fakeServer';
import { ChatStore } from './chat.svelte';
import { chatList } from './chats.svelte';
import { apiState, notices } from './notices.svelte';

let server: ReturnType<typeof fakeServer>;

function use(options: Parameters<typeof fakeServer>[0] = {}) {
  server = fakeServer(options);
  vi.stubGlobal('fetch', server.fetch);
  return server;
}

function newStore(): ChatStore {
  const store = new ChatStore();
  store.model = 'gemma3:270m';
  store.saveEveryMs = 5;
  return store;
}

beforeEach(() => {
  apiState.v1 = 'unknown';
  chatList.items = [];
  chatList.local.clear();
});
afterEach(() => vi.unstubAllGlobals());

describe('chat store', () => {
  it('sends, streams, saves and titles', async () => {
    use({ title: '"Greeting A Friend."' });
    const store = newStore();
    await store.send('  Hi!  ');
    expect(store.messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'Hi!'],
      ['assistant', 'Hello there, friend.'],
    ]);
    const answer = store.messages[1];
    expect(answer.done).toBe(true);
    expect(answer.streaming).toBe(false);
    expect(answer.stats?.eval_count).toBe(5);
    expect(answer.stats?.tokens_per_s).toBeCloseTo(10);
    expect(answer.stats?.ttft_ms).toBeGreaterThan(0);
    // saved on the server
    const saved = server.repo.tree(store.id!);
    expect(saved.map((m) => [m.role, m.content, m.done])).toEqual([
      ['user', 'Hi!', true],
      ['assistant', 'Hello there, friend.', true],
    ]);
    // the request carried the history and the options
    const body = server.lastChatBodies.find((entry) => entry.stream === true)!;
    expect(body.messages).toEqual([{ role: 'user', content: 'Hi!' }]);
    // background title
    await store.settled();
    expect(store.title).toBe('Greeting A Friend');
    expect((await server.repo.getChat(store.id!)).title).toBe('Greeting A Friend');
    const titleBody = server.lastChatBodies.find((entry) => entry.stream === false)!;
    expect((titleBody.options as { num_predict: number }).num_predict).toBe(16);
  });

  it('names a new chat with whole words until the model titles it', async () => {
    // The title request may never answer (the runner crashed): the first title stays.
    const server = use();
    const store = newStore();
    await store.send('Write a very long story about a lighthouse keeper and his cat.');
    const created = server.calls.find((call) => call.method === 'POST' && call.url.split('?')[0] === '/api/v1/chats')!;
    const title = (created.body as { title: string }).title;
    expect(title).toBe('Write a very long story about a lighthouse…');
    expect(title.length).toBeLessThanOrEqual(48);
    await store.settled();
  });

  it('saves the growing answer with done:false while streaming', async () => {
    use({ tokens: Array.from({ length: 20 }, (_, i) => `t${i} `), delayMs: 4 });
    const store = newStore();
    await store.send('Count');
    const patches = server.calls.filter((call) => call.method === 'PATCH' && call.url.includes('/messages/'));
    const partial = patches.filter((call) => (call.body as { done: boolean }).done === false);
    expect(partial.length).toBeGreaterThan(0);
    expect((patches.at(-1)!.body as { done: boolean }).done).toBe(true);
  });

  it('stops mid-answer and keeps what arrived', async () => {
    use({ tokens: Array.from({ length: 200 }, (_, i) => `w${i} `), delayMs: 3 });
    const store = newStore();
    const sending = store.send('Long answer please');
    await until(() => (store.messages[1]?.content.length ?? 0) > 10);
    expect(store.streaming).toBe(true);
    store.stop();
    await sending;
    const answer = store.messages[1];
    expect(store.streaming).toBe(false);
    expect(answer.stats?.stopped).toBe(true);
    expect(answer.content.length).toBeGreaterThan(10);
    expect(answer.content.split(' ').length).toBeLessThan(150);
    const saved = server.repo.tree(store.id!)[1];
    expect(saved.content).toBe(answer.content);
    expect(saved.done).toBe(true);
  });

  it('regenerates: a new answer beside the old one, which stays stored', async () => {
    use();
    const store = newStore();
    await store.send('Hi');
    const [user, first] = store.messages;
    await store.regenerate(first.key);
    expect(store.messages).toHaveLength(2);
    expect(store.messages[1].id).not.toBe(first.id);
    expect(server.calls.some((call) => call.method === 'DELETE')).toBe(false);
    expect(server.chatRequests).toBe(2);
    const saved = server.repo.tree(store.id!);
    expect(saved).toHaveLength(3);
    // the new answer names the prompt as its parent: the server files it as version 2
    expect(saved[2]).toMatchObject({ role: 'assistant', parent_id: user.id });
    expect(saved[1]).toMatchObject({ role: 'assistant', parent_id: user.id });
  });

  it('edits a later prompt as a new version, keeping the old one and its answer', async () => {
    use();
    const store = newStore();
    await store.send('First');
    await store.send('Second');
    const [, answer, second] = store.messages;
    await store.edit(second.key, 'Second, edited');
    expect(store.messages.map((m) => m.content)).toEqual(['First', 'Hello there, friend.', 'Second, edited', 'Hello there, friend.']);
    expect(server.calls.some((call) => call.method === 'DELETE')).toBe(false);
    const saved = server.repo.tree(store.id!);
    expect(saved.map((m) => m.content)).toEqual(['First', 'Hello there, friend.', 'Second', 'Hello there, friend.', 'Second, edited', 'Hello there, friend.']);
    expect(saved[4]).toMatchObject({ role: 'user', parent_id: answer.id });
    expect(saved[5]).toMatchObject({ role: 'assistant', parent_id: saved[4].id });
    const lastRequest = server.lastChatBodies.filter((entry) => entry.stream === true).at(-1)!;
    expect(lastRequest.messages).toEqual([
      { role: 'user', content: 'First' },
      { role: 'assistant', content: 'Hello there, friend.' },
      { role: 'user', content: 'Second, edited' },
    ]);
  });

  it('switches to another version through PATCH current_id', async () => {
    use();
    const store = newStore();
    await store.send('Hi');
    const [user, first] = store.messages;
    server.repo.tree(store.id!)[1].content = 'The first answer';
    await store.regenerate(first.key);
    const second = store.messages[1];
    expect(second.versions).toEqual({ index: 1, count: 2, ids: [String(first.id), String(second.id)] });
    await store.switchVersion(second.key, -1);
    const switches = () => server.calls.filter((call) => call.method === 'PATCH' && (call.body as { current_id?: string }).current_id);
    expect(switches().map((call) => [call.url, call.body])).toEqual([[`/api/v1/chats/${store.id}`, { current_id: String(first.id) }]]);
    expect(store.messages.map((m) => m.content)).toEqual(['Hi', 'The first answer']);
    expect(store.messages[0].key).toBe(user.key); // the prompt is not re-rendered
    expect(store.messages[1].versions).toEqual({ index: 0, count: 2, ids: [String(first.id), String(second.id)] });
    await store.switchVersion(store.messages[1].key, -1); // before the first: nothing
    expect(switches()).toHaveLength(1);
    // the server remembers the version shown
    const fresh = newStore();
    await fresh.open(store.id!);
    expect(fresh.messages.map((m) => m.content)).toEqual(['Hi', 'The first answer']);
  });

  it('edits a user message, truncating after it, and resends (a server without versions)', async () => {
    use({ legacy: true });
    const store = newStore();
    await store.send('First');
    await store.send('Second');
    expect(store.messages).toHaveLength(4);
    await store.edit(store.messages[0].key, 'First, edited');
    expect(store.messages.map((m) => m.content)).toEqual(['First, edited', 'Hello there, friend.']);
    const lastRequest = server.lastChatBodies.filter((entry) => entry.stream === true).at(-1)!;
    expect(lastRequest.messages).toEqual([{ role: 'user', content: 'First, edited' }]);
    const saved = server.repo.tree(store.id!);
    expect(saved.map((m) => m.content)).toEqual(['First, edited', 'Hello there, friend.']);
    expect(server.calls.filter((call) => call.method === 'DELETE')).toHaveLength(3);
  });

  it('deletes a message', async () => {
    use();
    const store = newStore();
    await store.send('Hi');
    await store.remove(store.messages[1].key);
    expect(store.messages).toHaveLength(1);
    expect(server.repo.tree(store.id!)).toHaveLength(1);
  });

  it('reloads an interrupted answer and continues it', async () => {
    use();
    const store = newStore();
    await store.send('Hi');
    const saved = server.repo.tree(store.id!);
    saved[1].done = false;
    saved[1].content = 'Hel';
    const fresh = newStore();
    await fresh.open(store.id!);
    expect(fresh.messages[1].interrupted).toBe(true);
    await fresh.continueAnswer(fresh.messages[1].key);
    expect(fresh.messages[1].content).toBe('HelHello there, friend.');
    const lastRequest = server.lastChatBodies.filter((entry) => entry.stream === true).at(-1)!;
    expect((lastRequest.messages as { role: string }[]).at(-1)).toEqual({ role: 'assistant', content: 'Hel' });
    expect(saved[1].done).toBe(true);
  });

  it('sends the system prompt and options, not empty ones', async () => {
    use();
    const store = newStore();
    store.system = 'Be brief.';
    store.options = { temperature: 0.3, top_p: undefined, seed: 7, keep_alive: '10m', think: false };
    await store.send('Hi');
    const body = server.lastChatBodies.find((entry) => entry.stream === true)!;
    expect(body.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
    ]);
    expect(body.options).toEqual({ temperature: 0.3, seed: 7 });
    expect(body.keep_alive).toBe('10m');
    expect(body.think).toBe(false);
  });

  it('works in memory when /api/v1 is missing', async () => {
    use({ v1: false });
    const store = newStore();
    await store.send('Hi');
    expect(apiState.v1).toBe('missing');
    expect(store.messages[1].content).toBe('Hello there, friend.');
    expect(String(store.id)).toMatch(/^chat-/);
    expect(chatList.local.get(String(store.id))?.messages).toHaveLength(2);
    await store.regenerate(store.messages[1].key);
    expect(store.messages).toHaveLength(2);
  });

  it('keeps saving other chats when this one was deleted in another window', async () => {
    use();
    const store = newStore();
    await store.send('Hi');
    await store.settled();
    expect(apiState.v1).toBe('ok');
    await server.repo.deleteChat(store.id!); // another tab deletes it
    const shown = notices.toasts.length;
    await store.send('Still here?');
    // a 404 for one chat is not "no chat history on this server"
    expect(apiState.v1).toBe('ok');
    const said = notices.toasts.slice(shown).map((toast) => toast.text);
    expect(said).toEqual([expect.stringMatching(/chat was deleted/)]);
    const next = newStore();
    await next.send('A new chat');
    expect(String(next.id)).not.toMatch(/^chat-/);
    expect(server.repo.tree(next.id!).map((m) => m.content)).toEqual(['A new chat', 'Hello there, friend.']);
  });

  it('saves a prompt sent while the server was down when its answer is retried', async () => {
    use();
    const store = newStore();
    await store.send('Hi');
    await store.settled();
    vi.stubGlobal('fetch', () => Promise.reject(new TypeError('Failed to fetch')));
    await store.send('Are you there?');
    const [prompt, answer] = store.messages.slice(2);
    expect(prompt.id).toBeUndefined();
    expect(answer.error).toBeTruthy();
    vi.stubGlobal('fetch', server.fetch); // the server is back
    await store.regenerate(answer.key);
    expect(server.repo.tree(store.id!).map((m) => [m.role, m.content])).toEqual([
      ['user', 'Hi'],
      ['assistant', 'Hello there, friend.'],
      ['user', 'Are you there?'],
      ['assistant', 'Hello there, friend.'],
    ]);
  });

  it('leaves an answer cut by the page going as interrupted, not done', async () => {
    use({ tokens: Array.from({ length: 200 }, (_, i) => `w${i} `), delayMs: 3 });
    const store = newStore();
    const sending = store.send('Long answer please');
    await until(() => (store.messages[1]?.content.length ?? 0) > 10);
    await until(() => (server.repo.tree(store.id!)[1]?.content.length ?? 0) > 0); // a periodic save
    store.leaving = true; // pagehide: a reload, the tab closed
    store.stop(); // what the unload does to the stream
    await sending;
    const saved = server.repo.tree(store.id!)[1];
    expect(saved.done).toBe(false);
    expect(saved.stats ?? null).toBeNull();
  });

  it('shows a human error when the model is missing', async () => {
    use({ failChatWith: { status: 404, error: "model 'nope' not found" } });
    const store = newStore();
    store.model = 'nope';
    await store.send('Hi');
    expect(store.messages[1].error?.title).toMatch(/not installed/);
    expect(store.streaming).toBe(false);
  });

  it('keeps the log tail when llama-server fails to start', async () => {
    use({ failChatWith: { status: 500, error: 'llama-server failed to start: exit 1\nerror: out of cheese' } });
    const store = newStore();
    await store.send('Hi');
    expect(store.messages[1].error?.title).toBe('The model could not be started.');
    expect(store.messages[1].error?.detail).toContain('out of cheese');
  });
});
