import { describe, expect, it } from 'vitest';
import { readNdjson, StreamError } from './ndjson';

function streamOf(chunks: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(typeof chunk === 'string' ? encoder.encode(chunk) : chunk);
      controller.close();
    },
  });
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

describe('readNdjson', () => {
  it('parses lines split across chunks', async () => {
    const lines = await collect(readNdjson(streamOf(['{"a":', '1}\n{"b"', ':2}\n', '\n{"c":3}\n'])));
    expect(lines).toEqual([{ a: 1 }, { b: 2 }, { c: 3 }]);
  });

  it('parses a last line without a newline', async () => {
    expect(await collect(readNdjson(streamOf(['{"a":1}\n{"b":2}'])))).toEqual([{ a: 1 }, { b: 2 }]);
  });

  it('keeps multi-byte characters split between chunks', async () => {
    const bytes = new TextEncoder().encode('{"t":"héllo 🔥"}\n');
    const cut = bytes.indexOf(0xf0) + 2; // in the middle of the emoji
    const lines = await collect(readNdjson<{ t: string }>(streamOf([bytes.slice(0, 5), bytes.slice(5, cut), bytes.slice(cut)])));
    expect(lines).toEqual([{ t: 'héllo 🔥' }]);
  });

  it('one byte at a time', async () => {
    const text = '{"message":{"content":"a\\nb"}}\r\n{"done":true}\n';
    const chunks = [...new TextEncoder().encode(text)].map((byte) => new Uint8Array([byte]));
    expect(await collect(readNdjson(streamOf(chunks)))).toEqual([{ message: { content: 'a\nb' } }, { done: true }]);
  });

  it('throws the server error line after the lines before it', async () => {
    const seen: unknown[] = [];
    await expect(async () => {
      for await (const line of readNdjson(streamOf(['{"a":1}\n{"error":"model failed to load"}\n{"b":2}\n']))) seen.push(line);
    }).rejects.toThrow(new StreamError('model failed to load'));
    expect(seen).toEqual([{ a: 1 }]);
  });

  it('rejects a non-JSON line', async () => {
    await expect(collect(readNdjson(streamOf(['<html>\n'])))).rejects.toThrow(/not JSON/);
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    const encoder = new TextEncoder();
    let pull = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        pull++;
        c.enqueue(encoder.encode(`{"n":${pull}}\n`));
      },
    });
    const seen: unknown[] = [];
    await expect(async () => {
      for await (const line of readNdjson(body, controller.signal)) {
        seen.push(line);
        if (seen.length === 3) controller.abort();
      }
    }).rejects.toThrow(/abort/i);
    expect(seen.length).toBe(3);
  });
});
