import { describe, expect, it } from 'vitest';
import { keepAliveError } from './keepAlive';

describe('keepAliveError', () => {
  it('takes what Ollama takes', () => {
    for (const value of ['', ' ', '300', '-1', '0', '5m', '1h30m', '-1s', '1.5h', '250ms', '+2m']) {
      expect(keepAliveError(value), value).toBeNull();
    }
  });
  it('says what to write instead of the API error', () => {
    for (const value of ['forever', '5 minutes', '5', '1d', 'm', '1.5', '--1m']) {
      const expected = value === '5' ? null : expect.stringMatching(/duration such as/);
      expect(keepAliveError(value), value).toEqual(expected);
    }
  });
});
