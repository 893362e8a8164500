import { StringDecoder } from 'node:string_decoder';

/**
 * The lines of a byte stream, decoded as UTF-8, without their ending (`\n` or `\r\n`). A
 * character split across chunks is decoded whole; a last line without a newline is still
 * given; no empty line is made up after a final newline. Stopping the iteration early stops
 * (and so destroys) the source.
 */
export async function* outputLines(source: AsyncIterable<Buffer | string>): AsyncGenerator<string, void, undefined> {
  const decoder = new StringDecoder('utf8');
  let partial = '';
  for await (const chunk of source) {
    const text = partial + (typeof chunk === 'string' ? chunk : decoder.write(chunk));
    let start = 0;
    for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', start)) {
      const end = newline > start && text.charCodeAt(newline - 1) === 0x0d ? newline - 1 : newline;
      yield text.slice(start, end);
      start = newline + 1;
    }
    partial = text.slice(start);
  }
  const rest = partial + decoder.end();
  if (rest !== '') yield rest.endsWith('\r') ? rest.slice(0, -1) : rest;
}
