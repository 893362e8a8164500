// SFTP WRITE requests built in a reused buffer (src/ssh/sftp-write-request.ts): the same bytes
// ssh2's own `write` sends, the same request ids and answers, and nothing sent where ssh2 would
// have to hold the request back.
import { createRequire } from 'node:module';
import type { SFTPWrapper } from 'ssh2';
import { describe, expect, it } from 'vitest';
import { sendWriteRequest, writeRequestBytes, writeRequestsFit } from '../../../src/ssh/sftp-write-request.js';

const require = createRequire(import.meta.url);
const { SFTP } = require('ssh2/lib/protocol/SFTP.js') as { SFTP: { prototype: { write: (...args: unknown[]) => void } } };

/** ssh2's client-side SFTP object as far as a write request looks at it; `sent` collects the channel data. */
function fakeSftp(window = 4 * 1024 * 1024) {
  const sent: Buffer[] = [];
  const sftp = {
    server: false,
    _writeReqid: 41,
    _maxWriteLen: 261_120,
    _requests: {} as Record<number, { cb: (error?: Error) => void }>,
    _buffer: [] as unknown[],
    _debug: undefined,
    outgoing: { id: 7, state: 'open', window, packetSize: 32 * 1024 },
    _protocol: { channelData: (_id: number, data: Buffer) => void sent.push(Buffer.from(data)) },
  };
  return { sftp, sent, wrapper: sftp as unknown as SFTPWrapper };
}

const handle = Buffer.from([0, 0, 0, 3]);

describe('SFTP write requests in a reused buffer', () => {
  for (const [size, position] of [[1, 0], [32 * 1024, 5], [64 * 1024, 2 ** 33 + 17], [100_000, 123_456_789]] as const) {
    it(`sends the bytes ssh2's own write sends (${size} bytes at ${position}), in the same packets`, () => {
      const data = Buffer.alloc(size, 0xab);
      const ours = fakeSftp();
      const theirs = fakeSftp();
      expect(sendWriteRequest(ours.wrapper, Buffer.alloc(writeRequestBytes(handle.length, 128 * 1024)), handle, data, position, () => {})).toBe(true);
      SFTP.prototype.write.call(theirs.sftp, handle, data, 0, size, position, () => {});
      expect(ours.sent).toEqual(theirs.sent);
      expect(ours.sftp._writeReqid).toBe(theirs.sftp._writeReqid);
      expect(Object.keys(ours.sftp._requests)).toEqual(Object.keys(theirs.sftp._requests));
      expect(ours.sftp.outgoing.window).toBe(theirs.sftp.outgoing.window);
    });
  }

  it('answers through ssh2\'s request table: success, then a failure with its status', () => {
    const { wrapper, sftp } = fakeSftp();
    const answers: Array<Error | undefined> = [];
    const scratch = Buffer.alloc(70_000);
    sendWriteRequest(wrapper, scratch, handle, Buffer.alloc(10), 0, (error) => answers.push(error));
    sendWriteRequest(wrapper, scratch, handle, Buffer.alloc(10), 10, (error) => answers.push(error));
    const [first, second] = Object.values(sftp._requests);
    first!.cb();
    second!.cb(Object.assign(new Error('Permission denied'), { code: 3 }));
    expect(answers.map((error) => error?.message)).toEqual([undefined, 'Permission denied']);
  });

  it('leaves the buffer free for the next request when it returns', () => {
    const { wrapper, sent } = fakeSftp();
    const scratch = Buffer.alloc(70_000);
    sendWriteRequest(wrapper, scratch, handle, Buffer.alloc(1000, 1), 0, () => {});
    scratch.fill(0xff);
    expect(sent[0]!.subarray(-1000).every((byte) => byte === 1)).toBe(true);
  });

  it('sends nothing where ssh2 would hold the request back or split it: a short window, requests queued, a closed channel, too much data', () => {
    const scratch = Buffer.alloc(70_000);
    const data = Buffer.alloc(1000);
    const narrow = fakeSftp(writeRequestBytes(handle.length, data.length));
    expect(sendWriteRequest(narrow.wrapper, scratch, handle, data, 0, () => {})).toBe(false);
    const queued = fakeSftp();
    queued.sftp._buffer.push(Buffer.alloc(1));
    expect(sendWriteRequest(queued.wrapper, scratch, handle, data, 0, () => {})).toBe(false);
    const closed = fakeSftp();
    closed.sftp.outgoing.state = 'closing';
    expect(sendWriteRequest(closed.wrapper, scratch, handle, data, 0, () => {})).toBe(false);
    const small = fakeSftp();
    small.sftp._maxWriteLen = 500;
    expect(sendWriteRequest(small.wrapper, scratch, handle, data, 0, () => {})).toBe(false);
    expect(sendWriteRequest(fakeSftp().wrapper, Buffer.alloc(100), handle, data, 0, () => {})).toBe(false);
    for (const { sent, sftp } of [narrow, queued, closed, small]) {
      expect(sent).toEqual([]);
      expect(sftp._writeReqid).toBe(41);
    }
  });

  it('fits only a pinned ssh2 release and its client-side SFTP object', () => {
    expect(writeRequestsFit(fakeSftp().wrapper, '1.17.0')).toBe(true);
    expect(writeRequestsFit(fakeSftp().wrapper, '1.16.0')).toBe(false);
    const server = fakeSftp();
    server.sftp.server = true;
    expect(writeRequestsFit(server.wrapper, '1.17.0')).toBe(false);
    const odd = fakeSftp();
    (odd.sftp as { _buffer?: unknown })._buffer = undefined;
    expect(writeRequestsFit(odd.wrapper, '1.17.0')).toBe(false);
  });
});
