/** Ollama-compatible model API under /ollama/api. */
import { ApiError, getJson, request } from './http';
import { readNdjson } from './ndjson';
import type { InstalledModel, PullLine, PullSummary, RunningModel, ShowResponse } from './types';

const BASE = '/ollama/api';

export async function listModels(): Promise<InstalledModel[]> {
  const data = await getJson<{ models?: InstalledModel[] }>(`${BASE}/tags`);
  return data.models ?? [];
}

export async function listRunning(): Promise<RunningModel[]> {
  const data = await getJson<{ models?: RunningModel[] }>(`${BASE}/ps`);
  return data.models ?? [];
}

export function showModel(model: string): Promise<ShowResponse> {
  return getJson<ShowResponse>(`${BASE}/show`, { method: 'POST', json: { model } });
}

export async function deleteModel(model: string): Promise<void> {
  await request(`${BASE}/delete`, { method: 'DELETE', json: { model } });
}

export async function copyModel(source: string, destination: string): Promise<void> {
  await request(`${BASE}/copy`, { method: 'POST', json: { source, destination } });
}

export async function unloadModel(model: string): Promise<void> {
  await request(`${BASE}/generate`, { method: 'POST', json: { model, keep_alive: 0, stream: false } });
}

/** Start (or join) a pull; yields progress lines; throws on an {error} line. */
export async function* pullModel(model: string, signal?: AbortSignal): AsyncGenerator<PullLine> {
  const response = await request(`${BASE}/pull`, {
    method: 'POST',
    json: { model, stream: true },
    signal,
  });
  if (!response.body) throw new ApiError(500, 'The server sent no pull progress.');
  yield* readNdjson<PullLine>(response.body, signal);
}

/** Pulls running on the server (Hearth's own endpoint); [] when it does not exist. */
export async function listPulls(): Promise<PullSummary[]> {
  try {
    const data = await getJson<{ pulls?: PullSummary[] } | PullSummary[]>(`${BASE}/pulls`);
    const pulls = Array.isArray(data) ? data : (data.pulls ?? []);
    return Array.isArray(pulls) ? pulls : [];
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405)) return [];
    throw error;
  }
}

/** Stop a server-side pull (a pull keeps running when its client goes away). */
export async function cancelPull(model: string): Promise<void> {
  try {
    await request(`${BASE}/pulls`, { method: 'DELETE', json: { model } });
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405)) return;
    throw error;
  }
}
