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

  it("knows an offline registry in Hearth's Go words (what the server sends now)", () => {
    // app/models/network_words.py: the DNS failure of a machine with no network
    const dns = humanError(
      new ApiError(
        500,
        'pull model manifest: Get "https://registry.ollama.ai/v2/library/llama3.2/manifests/latest":' +
          ' dial tcp: lookup registry.ollama.ai: no such host',
      ),
    );
    expect(dns.title).toMatch(/Are you offline/);
    expect(dns.detail).toContain('no such host');
    for (const cause of [
      'dial tcp 10.0.0.1:443: connect: network is unreachable',
      'dial tcp 10.0.0.1:443: connect: no route to host',
      'dial tcp 10.0.0.1:443: i/o timeout',
      'net/http: timeout awaiting response headers',
    ]) {
      const said = humanError(new ApiError(500, `pull model manifest: Get "https://r.example/v2/x": ${cause}`));
      expect(said.title, cause).toMatch(/Are you offline/);
    }
  });

  it('tells a missing chat from a missing model', () => {
    // GET /api/v1/chats/<id> of a deleted chat (an old link, a bookmark)
    const chat = humanError(new ApiError(404, "chat 'cced6dee8cf9' not found"));
    expect(chat.title).toBe('This chat does not exist (any more).');
    expect(chat.title).not.toMatch(/model/i);
    const model = humanError(new ApiError(404, "model 'nope:latest' not found"), 'nope');
    expect(model.title).toBe('The model "nope" is not installed. Pull it on the Models page.');
    // a 404 that names neither is said as it is, not guessed to be a model
    const other = humanError(new ApiError(404, 'The requested URL was not found on the server.'));
    expect(other.title).toBe('The requested URL was not found on the server.');
  });

  it('names a full disk, before and during a pull', () => {
    const before = 'not enough disk space in /data/models: the pull needs 4.7 GB, 1.2 GB is free';
    expect(humanError(new ApiError(507, before)).title).toMatch(/disk is full/);
    expect(humanError(new Error('no space left on device while saving progress')).title).toMatch(/disk is full/);
  });

  it('says in words how a crashed runner ended, never a class name or a page of log', () => {
    const killed = humanError(
      new Error(
        'model runner has unexpectedly stopped: llama-server exited with signal 9 (SIGKILL) while answering.' +
          ' It is started again for the next request; its log may say why.',
      ),
    );
    expect(killed.title).toBe('The model stopped unexpectedly (llama-server exited with signal 9, SIGKILL).');
    expect(killed.detail).toBeUndefined();
    expect(killed.runnerLog).toBe(true);
    expect(killed.crash).toBe(true);
    expect(killed.final).toBeUndefined(); // Retry is offered

    const assert = humanError(
      new Error(
        'model runner has unexpectedly stopped: llama-server exited with signal 6 (SIGABRT) while answering.' +
          ' It is started again for the next request; its log says: GGML_ASSERT(n > 0) failed.',
      ),
    );
    expect(assert.title).toContain('signal 6, SIGABRT');
    expect(assert.title).not.toContain('GGML_ASSERT');
    expect(assert.detail).toBe('GGML_ASSERT(n > 0) failed');

    const status = humanError(new Error('model runner has unexpectedly stopped: llama-server exited with status 1 while answering.'));
    expect(status.title).toBe('The model stopped unexpectedly (llama-server exited with status 1).');
    const hung = humanError(new Error('model runner stopped responding: the connection to llama-server broke'));
    expect(hung.title).toBe('The model stopped unexpectedly (llama-server stopped responding).');
    // an older server's words: no class name or log lines reach the title
    const old = humanError(new Error('model runner has unexpectedly stopped (ChunkedEncodingError); last log lines:\nxyz'));
    expect(old.title).toBe('The model stopped unexpectedly.');
    // a saved chat keeps the title alone; read back, it is a crash again (Retry and the log)
    const reread = humanError(new Error(killed.title));
    expect(reread).toEqual({ title: killed.title, runnerLog: true, crash: true });
  });

  it('keeps a model that will not start apart', () => {
    const failed = humanError(new ApiError(500, 'llama-server failed to start: cannot load x: not enough memory'));
    expect(failed.title).toBe('The model could not be started.');
    expect(failed.runnerLog).toBe(true);
    const killed = humanError(
      new ApiError(
        500,
        'llama-server failed to start: llama-server exited with signal 9 (SIGKILL) while loading the model\n' +
          '--- llama-server log (last lines) ---\nload_tensors: loading model tensors',
      ),
    );
    expect(killed.title).toBe('The model could not be started (llama-server exited with signal 9, SIGKILL).');
    expect(killed.detail).toBe('llama-server failed to start: llama-server exited with signal 9 (SIGKILL) while loading the model');
    expect(killed.final).toBeUndefined(); // Retry is offered
    expect(humanError(new ApiError(0, 'x')).runnerLog).toBeUndefined();
  });
});
