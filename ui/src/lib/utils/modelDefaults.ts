/**
 * What a chat gets for each option it leaves empty: the model's Modelfile
 * parameters (/api/show), else Hearth's own defaults (/api/v1/system), with
 * the context length capped at what the model was trained for, as the
 * scheduler does.
 */
export interface ModelDefaults {
  temperature?: number;
  top_p?: number;
  num_ctx?: number;
  /** the model's trained context length, the most num_ctx can be */
  context_max?: number;
  num_predict?: number;
  stop?: string[];
}

/** Ollama's `parameters` text ("temperature 0.7\nstop \"<eot>\"") to values. */
export function parseParameters(text: string | undefined): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const line of (text ?? '').split('\n')) {
    const match = /^\s*(\S+)\s+(.+?)\s*$/.exec(line);
    if (!match) continue;
    const [, key, raw] = match;
    const unquoted = raw.replace(/^"(.*)"$/, '$1');
    const number = Number(unquoted);
    const value = unquoted !== '' && Number.isFinite(number) && !/^".*"$/.test(raw) ? number : unquoted;
    if (key === 'stop') values.stop = [...((values.stop as string[]) ?? []), String(value)];
    else values[key] = value;
  }
  return values;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export function modelDefaults(
  show: { parameters?: string; model_info?: Record<string, unknown> } | null,
  system: Record<string, unknown> | null,
): ModelDefaults {
  const params = parseParameters(show?.parameters);
  const hearth = (system?.defaults ?? {}) as { options?: Record<string, unknown>; num_ctx?: unknown };
  const options = hearth.options ?? {};
  const trained = Object.entries(show?.model_info ?? {}).find(([key]) => key.endsWith('.context_length'))?.[1];
  const contextMax = num(trained);
  let numCtx = num(params.num_ctx) ?? num(hearth.num_ctx);
  if (numCtx !== undefined && contextMax !== undefined) numCtx = Math.min(numCtx, contextMax);
  return {
    temperature: num(params.temperature) ?? num(options.temperature),
    top_p: num(params.top_p) ?? num(options.top_p),
    num_ctx: numCtx,
    context_max: contextMax,
    num_predict: num(params.num_predict),
    stop: params.stop as string[] | undefined,
  };
}
