import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { outputLines } from '../../../src/command/output-lines.js';

async function linesOf(chunks: Array<Buffer | string>): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of outputLines(Readable.from(chunks))) lines.push(line);
  return lines;
}

/** Every way to cut `bytes` in two. */
function everySplit(bytes: Buffer): Buffer[][] {
  return Array.from({ length: bytes.length + 1 }, (_, at) => [bytes.subarray(0, at), bytes.subarray(at)]);
}

describe('output lines', () => {
  it('a UTF-8 character cut anywhere between chunks is decoded whole', async () => {
    const text = 'é€😀\nx😀y\n';
    for (const chunks of everySplit(Buffer.from(text))) {
      expect(await linesOf(chunks)).toEqual(['é€😀', 'x😀y']);
    }
  });

  it('a character cut into one chunk per byte is decoded whole', async () => {
    const bytes = Buffer.from('😀€\n');
    expect(await linesOf([...bytes].map((byte) => Buffer.from([byte])))).toEqual(['😀€']);
  });

  it('\\r\\n endings are removed, also when \\r and \\n arrive in different chunks', async () => {
    for (const chunks of everySplit(Buffer.from('one\r\ntwo\r\n'))) {
      expect(await linesOf(chunks)).toEqual(['one', 'two']);
    }
  });

  it('a \\r inside a line is kept', async () => {
    expect(await linesOf(['progress 1\rprogress 2\n'])).toEqual(['progress 1\rprogress 2']);
  });

  it('a last line without a newline is still given; a final newline makes no empty line', async () => {
    expect(await linesOf(['a\nb'])).toEqual(['a', 'b']);
    expect(await linesOf(['a\nb\n'])).toEqual(['a', 'b']);
    expect(await linesOf(['a\n\n\nb'])).toEqual(['a', '', '', 'b']);
    expect(await linesOf([])).toEqual([]);
  });

  it('stopping early destroys the source', async () => {
    const source = Readable.from(['1\n2\n', '3\n4\n'], { objectMode: false });
    for await (const line of outputLines(source)) if (line === '1') break;
    expect(source.destroyed).toBe(true);
  });
});
