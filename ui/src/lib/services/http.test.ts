import { describe, expect, it } from 'vitest';
import { ApiError, humanError } from './http';

/** The messages Hearth's server really sends (app/models/pull_errors.py, app/runner/generation.py). */
describe('errors in words a person understands', () => {
  it('says when Hearth itself is unreachable', () => {
    expect(humanError(new TypeError('Failed to fetch')).title).toMatch(/Can't reach Hearth's server/);
  });

  it('tells a name the registry does not have from being offline', () => {
    const missing = humanError(new ApiError(500, 'pull model manifest: file does not exist'));
    expect(missing.title).toMatch(/No model by that name/);
    const offline = humanError(
      new ApiError(500, "pull model manifest: HTTPSConnectionPool(host='registry.ollama.ai', port=443): Max retries exceeded"),
    );
    expect(offline.title).toMatch(/Are you offline/);
    expect(offline.detail).toContain('registry.ollama.ai');
  });

  it('names a full disk, before and during a pull', () => {
    const before = 'not enough disk space in /data/models: the pull needs 4.7 GB, 1.2 GB is free';
    expect(humanError(new ApiError(507, before)).title).toMatch(/disk is full/);
    expect(humanError(new Error('no space left on device while saving progress')).title).toMatch(/disk is full/);
  });

  it('says a crashed runner crashed, with its log lines as the detail', () => {
    const crash = 'model runner has unexpectedly stopped (ConnectionError); last log lines:\nGGML_ASSERT failed';
    const shown = humanError(new Error(crash));
    expect(shown.title).toMatch(/stopped while answering/);
    expect(shown.title).not.toContain('GGML_ASSERT');
    expect(shown.detail).toContain('GGML_ASSERT');
    expect(shown.runnerLog).toBe(true);
  });

  it('keeps a model that will not start apart', () => {
    const failed = humanError(new ApiError(500, 'llama-server failed to start: llama-server exited with status 1'));
    expect(failed.title).toBe('The model could not be started.');
    expect(failed.runnerLog).toBe(true);
    expect(humanError(new ApiError(0, 'x')).runnerLog).toBeUndefined();
  });
});
