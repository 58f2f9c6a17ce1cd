/** Streaming chat against /ollama/api/chat. */
import { ApiError, getJson, request } from './http';
import { readNdjson } from './ndjson';
import { cleanTitle, TITLE_INSTRUCTION } from '../utils/title';
import type { ChatChunk, ChatOptions, Role } from './types';

export interface ChatRequest {
  model: string;
  messages: { role: Role; content: string; images?: string[] }[];
  options?: ChatOptions;
  keep_alive?: string | number;
  think?: boolean;
}

export async function* streamChat(body: ChatRequest, signal?: AbortSignal): AsyncGenerator<ChatChunk> {
  const response = await request('/ollama/api/chat', {
    method: 'POST',
    json: { ...body, stream: true },
    signal,
  });
  if (!response.body) throw new ApiError(500, 'The server sent an empty answer.');
  yield* readNdjson<ChatChunk>(response.body, signal);
}

/**
 * Options that decide how llama-server is started (app/runner/scheduler.launch_config):
 * the title request must send the chat's own, or the scheduler would reload the model
 * with other ones (evicting the chat's runner) just for a title.
 */
export const LOAD_OPTIONS = ['num_ctx', 'num_batch', 'num_gpu', 'main_gpu', 'num_thread', 'use_mmap'] as const;

/** The chat's request settings the title request shares: its load options and keep_alive. */
export interface TitleBasis {
  options?: ChatOptions;
  keep_alive?: string | number;
}

/** The title request's body: the chat's model, load options and keep_alive; few tokens. */
export function titleRequest(model: string, user: string, assistant: string, basis: TitleBasis = {}): Record<string, unknown> {
  const options: ChatOptions = { num_predict: 16, temperature: 0.2 };
  for (const key of LOAD_OPTIONS) {
    const value: unknown = basis.options?.[key];
    if (value !== undefined && value !== null) (options as Record<string, unknown>)[key] = value;
  }
  return {
    model,
    stream: false,
    think: false,
    options,
    ...(basis.keep_alive !== undefined ? { keep_alive: basis.keep_alive } : {}),
    messages: [
      {
        role: 'user',
        content: `${TITLE_INSTRUCTION}\n\nUser: ${user.slice(0, 800)}\n\nAssistant: ${assistant.slice(0, 800)}`,
      },
    ],
  };
}

/**
 * Ask the model for a short title: cleaned of echoes and markdown, the first words of `user`
 * when the model gave none (utils/title). Never throws (null when the request failed).
 */
export async function suggestTitle(
  model: string,
  user: string,
  assistant: string,
  basis: TitleBasis = {},
  signal?: AbortSignal,
): Promise<string | null> {
  try {
    const data = await getJson<ChatChunk>('/ollama/api/chat', {
      method: 'POST',
      signal,
      json: titleRequest(model, user, assistant, basis),
    });
    return cleanTitle(data.message?.content ?? '', user);
  } catch {
    return null;
  }
}

export { cleanTitle };
