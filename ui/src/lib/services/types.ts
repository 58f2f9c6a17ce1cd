export type Role = 'system' | 'user' | 'assistant' | 'tool';

export interface ModelDetails {
  format?: string;
  family?: string;
  families?: string[] | null;
  parameter_size?: string;
  quantization_level?: string;
  parent_model?: string;
  [key: string]: unknown;
}

export interface InstalledModel {
  name: string;
  model: string;
  size: number;
  digest: string;
  modified_at: string;
  details?: ModelDetails;
}

export interface RunningModel {
  name: string;
  model?: string;
  size?: number;
  size_vram?: number;
  expires_at?: string;
  context_length?: number;
}

export interface ShowResponse {
  details?: ModelDetails;
  model_info?: Record<string, unknown>;
  parameters?: string;
  template?: string;
  license?: string;
  system?: string;
  capabilities?: string[];
  modified_at?: string;
  [key: string]: unknown;
}

export interface PullLine {
  status: string;
  digest?: string;
  total?: number;
  completed?: number;
}

export interface PullSummary {
  model: string;
  name?: string;
  status?: string;
  digest?: string | null;
  total?: number;
  completed?: number;
  started_at?: number | string;
  cancelling?: boolean;
}

export interface ChatOptions {
  temperature?: number;
  top_p?: number;
  num_ctx?: number;
  seed?: number;
  num_predict?: number;
  [key: string]: unknown;
}

/**
 * Ollama's timings and token counts for one answer, as the last chunk of
 * /api/chat carries them (durations in nanoseconds).
 */
export interface Metrics {
  total_duration?: number;
  load_duration?: number;
  prompt_eval_count?: number;
  prompt_eval_duration?: number;
  eval_count?: number;
  eval_duration?: number;
}

export interface ChatChunk extends Metrics {
  model?: string;
  created_at?: string;
  message?: { role: string; content?: string; thinking?: string };
  done: boolean;
  done_reason?: string;
}

/** What a saved answer keeps about how it went: the server's metrics and the page's own. */
export interface MessageStats extends Metrics {
  done_reason?: string;
  /** client-measured: ms from sending the request to the first token */
  ttft_ms?: number;
  tokens_per_s?: number;
  stopped?: boolean;
  error?: string;
}

export interface StoredMessage {
  id: string | number;
  role: Role;
  content: string;
  thinking?: string | null;
  stats?: MessageStats | null;
  done?: boolean | null;
  model?: string | null;
  error?: string | null;
  created_at?: string;
  [key: string]: unknown;
}

export interface ChatSummary {
  id: string | number;
  title: string;
  model?: string | null;
  pinned?: boolean;
  archived?: boolean;
  folder?: string | null;
  created_at?: string;
  updated_at?: string;
  [key: string]: unknown;
}

export interface ChatRecord extends ChatSummary {
  system?: string | null;
  options?: ChatOptions & { keep_alive?: string | number; think?: boolean | null };
  messages?: StoredMessage[];
}

export interface Settings {
  theme?: 'light' | 'dark' | 'system';
  default_model?: string | null;
  default_system_prompt?: string | null;
  default_options?: ChatOptions;
  keep_alive?: string | number | null;
  /** `hearth worker` addresses (host:port); null: those given by --workers / HEARTH_WORKERS. */
  workers?: string[] | null;
  /** host[:port] the Discover list pulls library models from; null: registry.ollama.ai. */
  catalogue_registry?: string | null;
  [key: string]: unknown;
}
