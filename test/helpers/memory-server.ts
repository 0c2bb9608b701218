// An engine listening in memory for the mirror's tests: segments from the client are
// built by field, the accepted connection is kept (with a handler that ignores events,
// the test reads and writes it directly).
import { TcpStack, type StackOptions } from '../../shared/tcp/stack.js';
import type { TcpConnection } from '../../shared/tcp/connection.js';
import { ACK, type TcpSegment } from '../../shared/tcp/segment.js';
import { CLIENT, CPORT, SERVER, SPORT } from '../tcp/harness.js';

/** Two turns of the event loop: the mirror's coalesced updates go out in the first. */
export const settle = (): Promise<void> => new Promise<void>((r) => setImmediate(() => setImmediate(r)));

export function memoryServer(o: StackOptions) {
  const stack = new TcpStack(o);
  let conn: TcpConnection | undefined;
  stack.listen(SPORT).onConnection = (c) => {
    conn = c;
    c.handler = { readable: () => {}, writable: () => {}, end: () => {}, closed: () => {} };
  };
  /** A segment from the client, its fields over a bare ACK. */
  const input = (s: Partial<TcpSegment>, now: number) => stack.input({
    src: CLIENT, dst: SERVER,
    seg: { srcPort: CPORT, dstPort: SPORT, seq: 0, ack: 0, flags: ACK, window: 65535, options: {}, payload: Buffer.alloc(0), ...s },
  }, now);
  /** The accepted connection; throws before there is one. */
  const connection = (): TcpConnection => {
    if (conn === undefined) throw new Error('no accepted connection');
    return conn;
  };
  return { stack, input, connection };
}
