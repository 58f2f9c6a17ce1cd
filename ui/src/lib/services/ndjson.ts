/**
 * NDJSON stream reader: yields one parsed object per line as bytes arrive.
 * Lines may be split across chunks (and multi-byte characters across chunk
 * boundaries); a trailing line without "\n" is parsed at the end.
 */
export class StreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StreamError';
  }
}

export async function* readNdjson<T = unknown>(
  body: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): AsyncGenerator<T> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const onAbort = () => {
    reader.cancel().catch(() => {});
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      if (signal?.aborted) throw abortError();
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (line) yield parseLine<T>(line);
      }
    }
    if (signal?.aborted) throw abortError();
    buffer += decoder.decode();
    const rest = buffer.trim();
    if (rest) yield parseLine<T>(rest);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    reader.releaseLock?.();
  }
}

function parseLine<T>(line: string): T {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new StreamError(`The server sent a line that is not JSON: ${line.slice(0, 120)}`);
  }
  if (value && typeof value === 'object' && 'error' in value && (value as { error: unknown }).error) {
    throw new StreamError(String((value as { error: unknown }).error));
  }
  return value as T;
}

export function abortError(): DOMException {
  return new DOMException('The operation was aborted.', 'AbortError');
}

export function isAbort(error: unknown): boolean {
  return error instanceof DOMException
    ? error.name === 'AbortError'
    : !!error && typeof error === 'object' && (error as { name?: string }).name === 'AbortError';
}
