/** Small fetch helpers: JSON in/out, errors carrying status and the server's own message. */

export class ApiError extends Error {
  status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

/** fetch() is looked up at call time so tests can swap globalThis.fetch. */
export async function request(
  url: string,
  init: RequestInit & { json?: unknown } = {},
): Promise<Response> {
  const { json, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (json !== undefined) headers.set('Content-Type', 'application/json');
  let response: Response;
  try {
    response = await globalThis.fetch(url, {
      ...rest,
      headers,
      body: json !== undefined ? JSON.stringify(json) : rest.body,
    });
  } catch (error) {
    if ((error as { name?: string })?.name === 'AbortError') throw error;
    throw new ApiError(0, "Can't reach Hearth's server. Is it still running?");
  }
  if (!response.ok) throw new ApiError(response.status, await errorText(response));
  return response;
}

export async function getJson<T>(url: string, init: RequestInit & { json?: unknown } = {}): Promise<T> {
  const response = await request(url, init);
  const text = await response.text();
  return (text ? JSON.parse(text) : {}) as T;
}

async function errorText(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const data = JSON.parse(text);
    if (data && typeof data.error === 'string') return data.error;
    if (data && typeof data.message === 'string') return data.message;
  } catch {
    /* not JSON */
  }
  return text.trim().slice(0, 500) || `${response.status} ${response.statusText}`;
}

export interface HumanError {
  title: string;
  detail?: string;
  /** the model's llama-server log explains this one: offer to show it */
  runnerLog?: boolean;
  /** trying the same again cannot help (no such model): offer no Resume or Retry */
  final?: boolean;
  /** llama-server died while answering: what was streamed so far is kept */
  crash?: boolean;
}

/** How llama-server ended, from the server's words: "exited with signal 9, SIGKILL" (or undefined). */
function exitHow(message: string): string | undefined {
  const how = /llama-server (exited with (?:signal|status) -?\d+(?: \([A-Z0-9]+\))?)/.exec(message)?.[1];
  return how?.replace(/ \(([A-Z0-9]+)\)$/, ', $1');
}

/**
 * A runner crash in plain words: how llama-server ended ("exited with signal 9 (SIGKILL)"),
 * and as the detail only the one log line the server picked, never a class name or a page of log.
 * Also takes back its own title (a saved chat keeps only the title).
 */
function crashWords(message: string): { title: string; detail?: string } {
  if (message.toLowerCase().startsWith('the model stopped unexpectedly')) return { title: message };
  const how = exitHow(message);
  const said = /its log says: (.*?)\.?$/s.exec(message)?.[1]?.trim();
  const title = how
    ? `The model stopped unexpectedly (llama-server ${how}).`
    : /stopped responding/i.test(message)
      ? 'The model stopped unexpectedly (llama-server stopped responding).'
      : 'The model stopped unexpectedly.';
  return said ? { title, detail: said } : { title };
}

/** Turn any error into words a person can act on. */
export function humanError(error: unknown, model?: string): HumanError {
  const message = error instanceof Error ? error.message : String(error ?? 'Unknown error');
  const status = error instanceof ApiError ? error.status : undefined;
  const lower = message.toLowerCase();
  if (status === 0 || lower.includes('failed to fetch') || lower.includes('networkerror')) {
    return { title: "Can't reach Hearth's server. Is it still running?" };
  }
  if (lower.includes('no space') || lower.includes('disk full') || lower.includes('enospc') || lower.includes('not enough disk space')) {
    return {
      title: 'The disk is full. Free some space (or delete a model) and try again.',
      detail: message,
    };
  }
  if (lower.includes('pull model manifest: file does not exist')) {
    return {
      title: 'No model by that name in the registry. Check the spelling and the tag (for example gemma3:270m).',
      detail: message,
      final: true,
    };
  }
  if (
    // Hearth says network failures as Ollama (Go) does: "dial tcp: lookup HOST: no such host",
    // "connect: network is unreachable", "i/o timeout"; older servers said them Python's way
    /pull model manifest: .*(connection|resolve|max retries|timed out|unreachable|no such host|no route to host|i\/o timeout|timeout awaiting)/.test(
      lower,
    ) ||
    lower.includes('cannot get a registry token') ||
    lower.includes('max retries exceeded')
  ) {
    return {
      title: "Can't reach the model registry. Are you offline? A pull resumes where it stopped once you are back.",
      detail: message,
    };
  }
  if (
    lower.includes('model runner has unexpectedly stopped') ||
    lower.includes('model runner stopped responding') ||
    lower.startsWith('the model stopped unexpectedly')
  ) {
    return { ...crashWords(message), runnerLog: true, crash: true };
  }
  if (lower.includes('llama-server') || lower.includes('failed to start') || lower.includes('failed to load')) {
    const how = exitHow(message);
    return {
      title: how ? `The model could not be started (llama-server ${how}).` : 'The model could not be started.',
      // the log's last lines stay in the log, one click away
      detail: message.split('\n--- llama-server log')[0],
      runnerLog: true,
    };
  }
  if (/^chat .* not found/.test(lower)) {
    // a deleted chat's link, or one from another Hearth: not a missing model
    return { title: 'This chat does not exist (any more).', detail: message, final: true };
  }
  if (/model .* not found/.test(lower)) {
    return {
      title: model
        ? `The model "${model}" is not installed. Pull it on the Models page.`
        : 'That model is not installed. Pull it on the Models page.',
      detail: message,
    };
  }
  if (lower.includes('out of memory') || lower.includes('not enough memory')) {
    return { title: 'Not enough memory for this model. Try a smaller model or context length.', detail: message };
  }
  return { title: message };
}
