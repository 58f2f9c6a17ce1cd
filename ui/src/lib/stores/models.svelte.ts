/** Installed models, loaded models (/ps), and pulls with per-layer progress. */
import { ApiError, humanError } from '../services/http';
import * as api from '../services/models';
import { isAbort } from '../services/ndjson';
import type { InstalledModel, PullLine, RunningModel } from '../services/types';
import { notices } from './notices.svelte';

/**
 * One spelling per model, as Ollama matches names: case-insensitive, with the
 * default registry, namespace and tag filled in. "Gemma3" typed in the page and
 * "gemma3:latest" listed by the server are the same pull, so one card.
 */
export function modelKey(name: string): string {
  let key = name.trim().toLowerCase().replace(/^https?:\/\//, '');
  key = key.replace(/^registry\.ollama\.ai\//, '').replace(/^library\//, '');
  if (!key.slice(key.lastIndexOf('/') + 1).includes(':')) key += ':latest';
  return key;
}

export interface LayerProgress {
  digest: string;
  total: number;
  completed: number;
  /** bytes per second, smoothed */
  speed: number;
  lastTime: number;
  lastCompleted: number;
}

export interface PullState {
  model: string;
  status: string;
  layers: LayerProgress[];
  error: string | null;
  /** false when pulling again cannot help (the registry has no such model) */
  retryable: boolean;
  done: boolean;
  cancelled: boolean;
  startedAt: number;
}

export function pullTotals(pull: PullState): { total: number; completed: number; speed: number; eta: number } {
  let total = 0;
  let completed = 0;
  let speed = 0;
  for (const layer of pull.layers) {
    total += layer.total;
    completed += Math.min(layer.completed, layer.total || layer.completed);
    if (layer.completed < layer.total) speed += layer.speed;
  }
  const eta = speed > 0 ? (total - completed) / speed : Number.POSITIVE_INFINITY;
  return { total, completed, speed, eta };
}

/** Apply one progress line to a pull (pure; exported for tests). */
export function applyPullLine(pull: PullState, line: PullLine, now: number): void {
  pull.status = line.status ?? pull.status;
  if (!line.digest || typeof line.total !== 'number') return;
  let layer = pull.layers.find((entry) => entry.digest === line.digest);
  if (!layer) {
    pull.layers.push({
      digest: line.digest,
      total: line.total,
      completed: line.completed ?? 0,
      speed: 0,
      lastTime: now,
      lastCompleted: line.completed ?? 0,
    });
    return;
  }
  layer.total = line.total;
  const completed = line.completed ?? layer.completed;
  const dt = (now - layer.lastTime) / 1000;
  if (dt >= 0.25) {
    const instant = Math.max(0, completed - layer.lastCompleted) / dt;
    layer.speed = layer.speed ? layer.speed * 0.7 + instant * 0.3 : instant;
    layer.lastTime = now;
    layer.lastCompleted = completed;
  }
  layer.completed = completed;
  if (completed >= layer.total) layer.speed = 0;
}

class ModelsStore {
  installed = $state<InstalledModel[]>([]);
  running = $state<RunningModel[]>([]);
  loaded = $state(false);
  error = $state<string | null>(null);
  pulls = $state<PullState[]>([]);
  private controllers = new Map<string, AbortController>();
  private pollTimer: ReturnType<typeof setInterval> | null = null;
  private pullsEndpoint = true;
  /** Called when a pull finishes; may return the ready toast's action (App sets it). */
  onReady: ((model: string) => { label: string; run: () => void } | undefined) | null = null;

  async refresh(): Promise<void> {
    try {
      const [installed, running] = await Promise.all([api.listModels(), api.listRunning().catch(() => [])]);
      this.installed = installed.sort((a, b) => a.name.localeCompare(b.name));
      this.running = running;
      this.error = null;
    } catch (error) {
      this.error = humanError(error).title;
    } finally {
      this.loaded = true;
    }
  }

  async refreshRunning(): Promise<void> {
    try {
      this.running = await api.listRunning();
    } catch {
      /* keep the last list */
    }
  }

  isLoaded(name: string): boolean {
    return this.running.some((entry) => entry.name === name || entry.model === name);
  }

  async remove(name: string): Promise<void> {
    await api.deleteModel(name);
    this.installed = this.installed.filter((model) => model.name !== name);
    await this.refreshRunning();
  }

  async unload(name: string): Promise<void> {
    await api.unloadModel(name);
    await this.refreshRunning();
  }

  activePull(model: string): PullState | undefined {
    const key = modelKey(model);
    return this.pulls.find((pull) => modelKey(pull.model) === key && !pull.done);
  }

  /** Start (or join, after a reload) a pull and follow its progress. */
  async pull(model: string): Promise<void> {
    model = model.trim();
    if (!model || this.activePull(model)) return;
    this.pulls = this.pulls.filter((pull) => modelKey(pull.model) !== modelKey(model));
    this.pulls.push({
      model,
      status: 'starting',
      layers: [],
      error: null,
      retryable: true,
      done: false,
      cancelled: false,
      startedAt: Date.now(),
    });
    const pull = this.pulls[this.pulls.length - 1];
    const controller = new AbortController();
    this.controllers.set(model, controller);
    try {
      for await (const line of api.pullModel(model, controller.signal)) {
        applyPullLine(pull, line, performance.now());
        if (line.status === 'success') break;
      }
      pull.done = true;
      pull.status = 'success';
      await this.refresh();
      const action = this.onReady?.(model);
      notices.push({ kind: 'success', text: `${model} is ready.`, action, timeout: action ? 10_000 : 4_000 });
    } catch (error) {
      pull.done = true;
      if (isAbort(error) || pull.cancelled) {
        pull.cancelled = true;
        pull.status = 'cancelled';
      } else {
        const human = humanError(error, model);
        pull.error = human.title;
        pull.retryable = !human.final;
        pull.status = 'error';
      }
    } finally {
      this.controllers.delete(model);
      // A failed or cancelled pull stays (with its Resume button) until dismissed.
      if (!pull.error && !pull.cancelled) setTimeout(() => this.forget(model), 4_000);
    }
  }

  async cancel(model: string): Promise<void> {
    const pull = this.activePull(model);
    if (pull) pull.cancelled = true;
    this.controllers.get(model)?.abort();
    try {
      await api.cancelPull(model);
    } catch (error) {
      notices.error(humanError(error).title);
    }
  }

  /** Pull again after a failure or a cancel: the server keeps the parts it has, so it resumes. */
  resume(model: string): Promise<void> {
    return this.pull(model);
  }

  forget(model: string): void {
    this.pulls = this.pulls.filter((pull) => pull.model !== model || !pull.done);
  }

  /** Join pulls that the server is running (after a reload, or started from the CLI/menu). */
  async pickUp(): Promise<void> {
    if (!this.pullsEndpoint) return;
    try {
      const running = await api.listPulls();
      for (const entry of running) {
        const name = entry.model || entry.name;
        if (name && !entry.cancelling && !this.activePull(name)) void this.pull(name);
      }
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) this.pullsEndpoint = false;
    }
  }

  startPolling(intervalMs = 5000): void {
    if (this.pollTimer) return;
    void this.pickUp();
    this.pollTimer = setInterval(() => {
      if (!this.pullsEndpoint && this.pollTimer) {
        clearInterval(this.pollTimer);
        this.pollTimer = null;
        return;
      }
      void this.pickUp();
    }, intervalMs);
  }
}

export const models = new ModelsStore();
