/**
 * A fake Hearth for unit tests only: /api/v1 chats and messages in memory, and
 * /ollama/api/chat streaming NDJSON tokens with a delay, honouring abort.
 */
export interface FakeCall {
  method: string;
  url: string;
  body: unknown;
}

export interface FakeOptions {
  v1?: boolean;
  tokens?: string[];
  delayMs?: number;
  title?: string;
  failChatWith?: { status: number; error: string };
}

export function fakeServer(options: FakeOptions = {}) {
  const v1 = options.v1 ?? true;
  const calls: FakeCall[] = [];
  const chats = new Map<string, Record<string, unknown> & { messages: Record<string, unknown>[] }>();
  let nextId = 1;
  let chatRequests = 0;
  const lastChatBodies: Record<string, unknown>[] = [];

  const json = (data: unknown, status = 200) =>
    new Response(JSON.stringify(data), { status, headers: { 'Content-Type': 'application/json' } });

  async function fetch(input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> {
    const url = typeof input === 'string' ? input : input.toString();
    const method = (init.method ?? 'GET').toUpperCase();
    const body = typeof init.body === 'string' ? JSON.parse(init.body) : undefined;
    calls.push({ method, url, body });
    const path = url.split('?')[0];

    if (path === '/ollama/api/chat') {
      lastChatBodies.push(body);
      if (body.stream === false) return json({ message: { role: 'assistant', content: options.title ?? 'A Fine Title' }, done: true });
      chatRequests++;
      if (options.failChatWith) return json({ error: options.failChatWith.error }, options.failChatWith.status);
      const tokens = options.tokens ?? ['Hello', ' there', ',', ' friend', '.'];
      const delay = options.delayMs ?? 2;
      const encoder = new TextEncoder();
      const signal = init.signal;
      const stream = new ReadableStream<Uint8Array>({
        async start(controller) {
          for (const token of tokens) {
            await new Promise((resolve) => setTimeout(resolve, delay));
            if (signal?.aborted) return;
            controller.enqueue(encoder.encode(`${JSON.stringify({ message: { role: 'assistant', content: token }, done: false })}\n`));
          }
          controller.enqueue(
            encoder.encode(
              `${JSON.stringify({ message: { role: 'assistant', content: '' }, done: true, done_reason: 'stop', eval_count: tokens.length, eval_duration: 500_000_000, prompt_eval_count: 12, prompt_eval_duration: 1_000_000, total_duration: 600_000_000, load_duration: 1 })}\n`,
            ),
          );
          controller.close();
        },
      });
      signal?.addEventListener('abort', () => {
        /* the reader sees the abort through readNdjson */
      });
      return new Response(stream, { status: 200, headers: { 'Content-Type': 'application/x-ndjson' } });
    }

    if (path.startsWith('/api/v1')) {
      if (!v1) return json({ error: 'not found' }, 404);
      const parts = path.replace('/api/v1/', '').split('/');
      if (parts[0] === 'settings') return json({ theme: 'system', default_options: { temperature: 0.5 } });
      if (parts[0] === 'chats' && parts.length === 1) {
        if (method === 'POST') {
          const id = String(nextId++);
          const chat = { id, title: body.title, model: body.model, system: body.system, options: body.options, messages: [], created_at: 'now', updated_at: 'now' };
          chats.set(id, chat);
          return json(chat);
        }
        return json({ chats: [...chats.values()].map(({ messages: _m, ...rest }) => rest) });
      }
      const chat = chats.get(parts[1]);
      if (!chat) return json({ error: 'chat not found' }, 404);
      if (parts.length === 2) {
        if (method === 'GET') return json(chat);
        if (method === 'PATCH') return json(Object.assign(chat, body));
        if (method === 'DELETE') {
          chats.delete(parts[1]);
          return json({});
        }
      }
      if (parts[2] === 'messages') {
        if (parts.length === 3 && method === 'POST') {
          const message = { id: `m${nextId++}`, ...body };
          chat.messages.push(message);
          return json(message);
        }
        const index = chat.messages.findIndex((message) => message.id === parts[3]);
        if (index < 0) return json({ error: 'message not found' }, 404);
        if (method === 'PATCH') return json(Object.assign(chat.messages[index], body));
        if (method === 'DELETE') {
          chat.messages.splice(index, 1);
          return json({});
        }
      }
    }
    return json({ error: 'not found' }, 404);
  }

  return {
    fetch,
    calls,
    chats,
    get chatRequests() {
      return chatRequests;
    },
    lastChatBodies,
  };
}
