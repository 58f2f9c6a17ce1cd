/** Streaming chat against /ollama/api/chat. */
import { ApiError, getJson, request } from './http';
import { readNdjson } from './ndjson';
import type { ChatChunk, ChatOptions, Role } from './types';

export interface ChatRequest {
  model: string;
  messages: { role: Role; content: string }[];
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

/** Ask the model for a short title; never throws (returns null instead). */
export async function suggestTitle(
  model: string,
  user: string,
  assistant: string,
  signal?: AbortSignal,
): Promise<string | null> {
  try {
    const data = await getJson<ChatChunk>('/ollama/api/chat', {
      method: 'POST',
      signal,
      json: {
        model,
        stream: false,
        think: false,
        options: { num_predict: 16, temperature: 0.2 },
        messages: [
          {
            role: 'user',
            content:
              'Write a short title (at most 6 words) for this conversation. ' +
              'Reply with the title only, no quotes, no punctuation at the end.\n\n' +
              `User: ${user.slice(0, 800)}\n\nAssistant: ${assistant.slice(0, 800)}`,
          },
        ],
      },
    });
    return cleanTitle(data.message?.content ?? '');
  } catch {
    return null;
  }
}

export function cleanTitle(raw: string): string | null {
  let title = raw
    .replace(/<think>[\s\S]*?<\/think>/g, '')
    .split('\n')
    .map((line) => line.trim())
    .find((line) => line.length > 0);
  if (!title) return null;
  title = title
    .replace(/^(title\s*:\s*)/i, '')
    .replace(/^[#*"'`\s]+|[*"'`\s.]+$/g, '')
    .trim();
  if (!title) return null;
  return title.length > 60 ? `${title.slice(0, 57)}…` : title;
}
