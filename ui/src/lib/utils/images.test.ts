import { describe, expect, it } from 'vitest';
import { imageDataUrl, isImageFile, readImage, stripDataUrl, visionRefusal } from './images';

describe('images', () => {
  it('tells images from documents', () => {
    expect(isImageFile({ type: 'image/png', name: 'a' })).toBe(true);
    expect(isImageFile({ type: '', name: 'photo.JPG' })).toBe(true);
    expect(isImageFile({ type: 'text/plain', name: 'notes.txt' })).toBe(false);
  });

  it('guesses the MIME type from the base64 bytes', () => {
    expect(imageDataUrl('iVBORw0KGgoAAA')).toBe('data:image/png;base64,iVBORw0KGgoAAA');
    expect(imageDataUrl('/9j/4AAQ')).toMatch(/^data:image\/jpeg;/);
    expect(imageDataUrl('AAAA')).toMatch(/^data:image\/png;/);
  });

  it('strips data: URLs to bare base64', () => {
    expect(stripDataUrl('data:image/png;base64,QUJD')).toBe('QUJD');
    expect(stripDataUrl('QUJD')).toBe('QUJD');
  });

  it('reads a file as bare base64', async () => {
    const file = new File([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], 'x.png', { type: 'image/png' });
    expect(await readImage(file)).toBe('iVBORw==');
  });

  it('refuses in words only for a model known to lack vision', () => {
    expect(visionRefusal('gemma3:270m', ['completion'])).toMatch(/gemma3:270m cannot see images/);
    expect(visionRefusal('llava:7b', ['completion', 'vision'])).toBeNull();
    expect(visionRefusal('x:1', undefined)).toBeNull();
    expect(visionRefusal('', ['completion'])).toBeNull();
  });
});
