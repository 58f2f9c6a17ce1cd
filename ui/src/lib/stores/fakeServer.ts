/**
 * A fake Hearth for unit tests only: /api/v1 chats and messages served from a
 * memoryChatRepository (so the store's API repository sends its real requests
 * to the same rules as the in-memory one), and /ollama/api/chat streaming
 * NDJSON (thinking, then tokens) with a delay, honouring abort.
 */
import { memoryChatRepository, type MemoryChatRepository } from '../services/chatRepository';
import { ApiError } from '../services/http';

export interface FakeCall {
  method: string;
  url: string;
  body: unknown;
}

export interface FakeOptions {
  v1?: boolean;
  /** an older /api/v1: messages come back without `parent_id` and `versions` */
  legacy?: boolean;
  tokens?: string[];
  /** thinking tokens, streamed before the answer's */
  thinking?: string[];
  delayMs?: number;
  title?: string;
  failChatWith?: { status: number; error: string };
  /** the chats behind /api/v1 (a fresh one if not given) */
  repository?: MemoryChatRepository;
}

/**
 * Resolves once `check()` holds, polling every 2 ms; throws after `ms`. The store
 * saves and streams on timers, so the suites that drive it wait for an outcome
 * rather than a fixed time.
 */
export async function until(check: () => boolean, ms = 2000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

export function fakeServer(options: FakeOptions = {}) {
  const v1 = options.v1 ?? true;
  const repo = options.repository ?? memoryChatRepository();
  const calls: FakeCall[] = [];
  let chatRequests = 0;
  const lastChatBodies: Record<string, unknown>[] = [];

  const json = (data: unknown, status = 200) =>
    new Response(JSON.stringify(data), { status, headers: { 'Content-Type': 'application/json' } });
  const plain = (message: Record<string, unknown>) => {
    if (!options.legacy) return message;
    const { parent_id: _parent, versions: _versions, ...rest } = message;
    return rest;
  };
  const plainChat = (chat: Record<string, unknown> & { messages?: Record<string, unknown>[] }) =>
    options.legacy ? { ...chat, messages: chat.messages?.map(plain) } : chat;

  function streamTokens(signal: AbortSignal | null | undefined): Response {
    const tokens = options.tokens ?? ['Hello', ' there', ',', ' friend', '.'];
    const pieces = [
      ...(options.thinking ?? []).map((thinking) => ({ role: 'assistant', content: '', thinking })),
      ...tokens.map((content) => ({ role: 'assistant', content })),
    ];
    const delay = options.delayMs ?? 2;
    const encoder = new TextEncoder();
    const line = (data: unknown) => encoder.encode(`${JSON.stringify(data)}\n`);
    const stream = new ReadableStream<Uint8Array>({
      async start(controller) {
        for (const message of pieces) {
          await new Promise((resolve) => setTimeout(resolve, delay));
          if (signal?.aborted) return;
          controller.enqueue(line({ message, done: false }));
        }
        controller.enqueue(
          line({ message: { role: 'assistant', content: '' }, done: true, done_reason: 'stop', eval_count: tokens.length, eval_duration: 500_000_000, prompt_eval_count: 12, prompt_eval_duration: 1_000_000, total_duration: 600_000_000, load_duration: 1 }),
        );
        controller.close();
      },
    });
    return new Response(stream, { status: 200, headers: { 'Content-Type': 'application/x-ndjson' } });
  }

  /** /api/v1/chats… onto the repository; its ApiErrors become the server's error answers. */
  async function chatsApi(method: string, parts: string[], query: URLSearchParams, body: Record<string, unknown>): Promise<Response> {
    const [, chatId, sub, messageId] = parts;
    if (parts.length === 1 && method === 'GET') {
      const limit = query.get('limit');
      return json(await repo.listChats({ q: query.get('q') ?? undefined, limit: limit === null ? undefined : Number(limit) }));
    }
    if (parts.length === 1 && method === 'POST') return json(await repo.createChat(body));
    if (parts.length === 2 && method === 'GET') return json(plainChat(await repo.getChat(chatId)));
    if (parts.length === 2 && method === 'PATCH') return json(plainChat(await repo.updateChat(chatId, body)));
    if (parts.length === 2 && method === 'DELETE') return json(await repo.deleteChat(chatId).then(() => ({})));
    if (sub === 'messages' && parts.length === 3 && method === 'POST') return json(plain(await repo.addMessage(chatId, body)));
    if (sub === 'messages' && parts.length === 4 && method === 'PATCH') {
      await repo.updateMessage(chatId, messageId, body);
      return json({});
    }
    if (sub === 'messages' && parts.length === 4 && method === 'DELETE') {
      await repo.deleteMessage(chatId, messageId);
      return json({});
    }
    return json({ error: 'not found' }, 404);
  }

  async function fetch(input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> {
    const url = typeof input === 'string' ? input : input.toString();
    const method = (init.method ?? 'GET').toUpperCase();
    const body = typeof init.body === 'string' ? JSON.parse(init.body) : undefined;
    calls.push({ method, url, body });
    const [path, search = ''] = url.split('?');

    if (path === '/ollama/api/chat') {
      lastChatBodies.push(body);
      if (body.stream === false) return json({ message: { role: 'assistant', content: options.title ?? 'A Fine Title' }, done: true });
      chatRequests++;
      if (options.failChatWith) return json({ error: options.failChatWith.error }, options.failChatWith.status);
      return streamTokens(init.signal);
    }

    if (path.startsWith('/api/v1')) {
      if (!v1) return json({ error: 'not found' }, 404);
      const parts = path.replace('/api/v1/', '').split('/').map(decodeURIComponent);
      if (parts[0] === 'settings') return json({ theme: 'system', default_options: { temperature: 0.5 } });
      if (parts[0] === 'chats') {
        try {
          return await chatsApi(method, parts, new URLSearchParams(search), body ?? {});
        } catch (error) {
          if (error instanceof ApiError) return json({ error: error.message }, error.status);
          throw error;
        }
      }
    }
    return json({ error: 'not found' }, 404);
  }

  return {
    fetch,
    calls,
    /** the chats behind /api/v1 */
    repo,
    get chatRequests() {
      return chatRequests;
    },
    lastChatBodies,
  };
}
