import { afterEach, describe, expect, it, vi } from 'vitest';
import { applyPullLine, modelKey, models, pullTotals, type PullState } from './models.svelte';

function state(): PullState {
  return { model: 'm', status: '', layers: [], error: null, retryable: true, done: false, cancelled: false, startedAt: 0 };
}

afterEach(() => vi.unstubAllGlobals());

describe('pull progress', () => {
  it('tracks layers, speed and ETA', () => {
    const pull = state();
    applyPullLine(pull, { status: 'pulling manifest' }, 0);
    applyPullLine(pull, { status: 'pulling aaa', digest: 'sha256:aaa', total: 1000, completed: 0 }, 0);
    applyPullLine(pull, { status: 'pulling bbb', digest: 'sha256:bbb', total: 100, completed: 100 }, 0);
    applyPullLine(pull, { status: 'pulling aaa', digest: 'sha256:aaa', total: 1000, completed: 500 }, 1000);
    const totals = pullTotals(pull);
    expect(pull.layers).toHaveLength(2);
    expect(totals.total).toBe(1100);
    expect(totals.completed).toBe(600);
    expect(totals.speed).toBeCloseTo(500);
    expect(totals.eta).toBeCloseTo(1);
    expect(pull.status).toBe('pulling aaa');
  });

  it('follows a pull to success and refreshes the list', async () => {
    const lines = [
      { status: 'pulling manifest' },
      { status: 'pulling abc', digest: 'sha256:abc', total: 10, completed: 5 },
      { status: 'pulling abc', digest: 'sha256:abc', total: 10, completed: 10 },
      { status: 'success' },
    ];
    const fetch = vi.fn(async (url: string) => {
      if (url.endsWith('/pull')) return new Response(lines.map((line) => JSON.stringify(line)).join('\n') + '\n');
      if (url.endsWith('/tags')) return new Response(JSON.stringify({ models: [{ name: 'tiny:1', model: 'tiny:1', size: 10, digest: 'd', modified_at: '' }] }));
      return new Response(JSON.stringify({ models: [] }));
    });
    vi.stubGlobal('fetch', fetch);
    await models.pull('tiny:1');
    const pull = models.pulls.find((entry) => entry.model === 'tiny:1')!;
    expect(pull.done).toBe(true);
    expect(pull.error).toBeNull();
    expect(pullTotals(pull).completed).toBe(10);
    expect(models.installed.map((m) => m.name)).toEqual(['tiny:1']);
  });

  it('reports a pull error line in words', async () => {
    vi.stubGlobal('fetch', async () => new Response('{"status":"pulling manifest"}\n{"error":"write failed: no space left on device"}\n'));
    await models.pull('big:70b');
    const pull = models.pulls.find((entry) => entry.model === 'big:70b')!;
    expect(pull.error).toMatch(/disk is full/);
  });

  it('keeps a failed pull until it is resumed, and the resume replaces its card', async () => {
    let attempt = 0;
    vi.stubGlobal('fetch', async (url: string) => {
      if (url.endsWith('/pull')) {
        attempt += 1;
        if (attempt === 1) return new Response('{"status":"pulling manifest"}\n{"error":"max retries exceeded: connection reset"}\n');
        return new Response('{"status":"pulling abc","digest":"sha256:abc","total":4,"completed":4}\n{"status":"success"}\n');
      }
      return new Response(JSON.stringify({ models: [] }));
    });
    vi.useFakeTimers();
    try {
      await models.pull('flaky:1');
      vi.advanceTimersByTime(60_000);
      const failed = models.pulls.filter((entry) => entry.model === 'flaky:1');
      expect(failed).toHaveLength(1);
      expect(failed[0].error).toMatch(/offline/);
      await models.resume('flaky:1');
    } finally {
      vi.useRealTimers();
    }
    const cards = models.pulls.filter((entry) => entry.model === 'flaky:1');
    expect(cards).toHaveLength(1);
    expect(cards[0].error).toBeNull();
    expect(cards[0].status).toBe('success');
    expect(attempt).toBe(2);
  });

  it('treats a missing /pulls endpoint as no pulls', async () => {
    vi.stubGlobal('fetch', async () => new Response('{"error":"not found"}', { status: 404 }));
    const { listPulls } = await import('../services/models');
    expect(await listPulls()).toEqual([]);
  });
});

describe('model names', () => {
  it('gives one key to every spelling of a model, as Ollama matches them', () => {
    expect(modelKey('Gemma3')).toBe('gemma3:latest');
    expect(modelKey('gemma3:latest')).toBe('gemma3:latest');
    expect(modelKey('registry.ollama.ai/library/gemma3')).toBe('gemma3:latest');
    expect(modelKey('library/gemma3:270m')).toBe('gemma3:270m');
    expect(modelKey('127.0.0.1:5000/team/model')).toBe('127.0.0.1:5000/team/model:latest');
    expect(modelKey('hf.co/User/Repo:Q4_K_M')).toBe('hf.co/user/repo:q4_k_m');
  });

  it('does not start a second card when the server lists a pull under another spelling', async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const fetch = vi.fn(async (url: string) => {
      if (url.endsWith('/pulls')) {
        return new Response(JSON.stringify({ pulls: [{ model: 'gemma3:latest', name: 'registry.ollama.ai/library/gemma3:latest' }] }));
      }
      if (url.endsWith('/pull')) {
        await held;
        return new Response(JSON.stringify({ status: 'success' }) + '\n');
      }
      return new Response(JSON.stringify({ models: [] }));
    });
    vi.stubGlobal('fetch', fetch);
    const started = models.pull('Gemma3');
    await models.pickUp();
    const cards = models.pulls.filter((pull) => modelKey(pull.model) === 'gemma3:latest' && !pull.done);
    expect(cards).toHaveLength(1);
    release();
    await started;
  });
});
