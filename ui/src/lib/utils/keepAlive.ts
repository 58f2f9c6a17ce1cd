/**
 * What the chat settings' "Keep loaded" field takes, as Ollama's `keep_alive` does: whole
 * seconds ("300", "-1" for always), or a Go duration ("5m", "1h30m", "-1s"; "0" unloads at
 * once). Anything else made every answer of the chat fail with the API's
 * "time: invalid duration …", which names no field.
 */
const DURATION = /^[+-]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$/;

/** Why `text` is not a keep-alive value, or null when it is one (empty: the default). */
export function keepAliveError(text: string): string | null {
  const value = text.trim();
  if (value === '' || /^-?\d+$/.test(value) || DURATION.test(value)) return null;
  return 'Use a duration such as 30s, 5m or 1h, a number of seconds, or -1 to keep it loaded.';
}
