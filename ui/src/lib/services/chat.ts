/** Streaming chat against /ollama/api/chat. */
import { ApiError, getJson, humanError, request, type HumanError } from './http';
import { isAbort, readNdjson } from './ndjson';
import { tokensPerSecond } from '../utils/format';
import { cleanTitle, TITLE_INSTRUCTION } from '../utils/title';
import type { ChatChunk, ChatOptions, MessageStats, Metrics, Role } from './types';

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

/** The metrics a finished chunk carries. */
export function metricsOf(chunk: ChatChunk): Metrics {
  return {
    total_duration: chunk.total_duration,
    load_duration: chunk.load_duration,
    prompt_eval_count: chunk.prompt_eval_count,
    prompt_eval_duration: chunk.prompt_eval_duration,
    eval_count: chunk.eval_count,
    eval_duration: chunk.eval_duration,
  };
}

/** What a streamed answer grows: its words and its thinking. */
export interface AnswerText {
  content: string;
  thinking?: string;
}

/** How a stream ended: the stats to keep, and the error when it failed (not when stopped). */
export interface StreamOutcome {
  stats: MessageStats;
  error?: HumanError;
}

/**
 * Stream an answer from /ollama/api/chat into `into` (words and thinking as
 * they come), calling `onChunk` after each chunk. Never throws: a stop
 * (`signal` aborted) and a failure end it too, with what arrived kept in `into`.
 */
export async function streamAnswer(
  body: ChatRequest,
  into: AnswerText,
  signal: AbortSignal,
  onChunk?: () => void,
): Promise<StreamOutcome> {
  const started = performance.now();
  let ttft: number | undefined;
  let stats: MessageStats = {};
  try {
    for await (const chunk of streamChat(body, signal)) {
      const piece = chunk.message;
      if (piece && (piece.content || piece.thinking)) {
        if (ttft === undefined) ttft = performance.now() - started;
        if (piece.thinking) into.thinking = (into.thinking ?? '') + piece.thinking;
        if (piece.content) into.content += piece.content;
      }
      if (chunk.done) stats = { done_reason: chunk.done_reason, ...metricsOf(chunk) };
      onChunk?.();
    }
    return { stats: { ...stats, ttft_ms: ttft, tokens_per_s: tokensPerSecond(stats.eval_count, stats.eval_duration) } };
  } catch (error) {
    if (isAbort(error)) return { stats: { ...stats, ttft_ms: ttft, stopped: true, done_reason: 'stopped' } };
    const failure = humanError(error, body.model);
    // a crash keeps its words (read back by humanError on reload); others their server text
    const saved = failure.crash ? failure.title : (failure.detail ?? failure.title);
    return { stats: { ...stats, ttft_ms: ttft, error: saved }, error: failure };
  }
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
