// How the primary batches replication (issue 4: what strict output commit costs per
// exchange): the data a turn brought, the app's reply to it and the control-block
// update it caused leave in one batch, and the runtime sends that batch before it polls
// the stack. No root, no sockets: the engine in memory and a channel that records.
import t from 'tap';
import { TcpStack } from '../../shared/tcp/stack.js';
import type { TcpConnection } from '../../shared/tcp/connection.js';
import { ACK, PSH, SYN, type TcpSegment } from '../../shared/tcp/segment.js';
import { Mirror, type MirrorChannel } from '../../primary/replication/mirror.js';
import { MsgType, type Message } from '../../shared/replication/messages.js';
import { openRuntime } from '../../primary/runtime.js';
import type { Link, RxFrame } from '../../shared/link.js';
import { CLIENT, CPORT, SERVER, SPORT } from '../tcp/harness.js';

/** A batching channel as ReplicationChannel is one (flush at the end of the turn, hooks
 *  just before), that records each batch instead of writing it. */
class Batching implements MirrorChannel {
  readonly batches: Message[][] = [];
  #current: Message[] = [];
  #hooks: Array<() => void> = [];
  #confirm: Array<(upTo: number) => void> = [];
  #scheduled = false;
  #sent = 0;
  send(m: Message): number {
    this.#current.push(m);
    this.requestFlush();
    return ++this.#sent;
  }
  on(_e: 'confirm', fn: (upTo: number) => void): this {
    this.#confirm.push(fn);
    return this;
  }
  beforeFlush(fn: () => void): void {
    this.#hooks.push(fn);
  }
  requestFlush(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => this.flush());
  }
  flush(): void {
    for (const h of this.#hooks) h();
    this.#scheduled = false;
    if (this.#current.length === 0) return;
    this.batches.push(this.#current);
    this.#current = [];
  }
  confirmAll(): void {
    for (const fn of this.#confirm) fn(this.#sent);
  }
}

/** Lets every microtask and immediate queued so far run (the mirror's old update flush
 *  was a setImmediate). */
const settle = () => new Promise<void>((r) => setImmediate(() => setImmediate(r)));

function seg(o: Partial<TcpSegment>): TcpSegment {
  return { srcPort: CPORT, dstPort: SPORT, seq: 0, ack: 0, flags: ACK, window: 65535, options: {}, payload: Buffer.alloc(0), ...o };
}

t.test('one batch per turn: the data, the app\'s reply and the coalesced UPDATE together', async (t) => {
  const ch = new Batching();
  const stack = new TcpStack({ random: () => 0.25 });
  stack.observer = new Mirror({ channel: ch, bytesPerConnection: 1 << 20, wake: () => {} });
  stack.listen(SPORT).onConnection = (c: TcpConnection) => {
    c.handler = {
      readable: () => {
        const b = c.recv();
        if (b) c.send(Buffer.from(`re:${b.toString()}`));
      },
      writable: () => {},
      end: () => {},
      closed: () => {},
    };
  };
  const input = (s: Partial<TcpSegment>, now: number) => stack.input({ src: CLIENT, dst: SERVER, seg: seg(s) }, now);

  input({ seq: 7, flags: SYN }, 1);
  await settle();
  ch.confirmAll();
  const iss = stack.poll(1).find((d) => d.seg.flags === (SYN | ACK))!.seg.seq;
  input({ seq: 8, ack: (iss + 1) >>> 0 }, 2);
  input({ seq: 8, ack: (iss + 1) >>> 0, flags: ACK | PSH, payload: Buffer.from('one') }, 2);
  await settle();
  ch.confirmAll();
  const reply = stack.poll(3).find((d) => d.seg.payload.length > 0)!;
  t.equal(reply.seg.payload.toString(), 're:one', 'the first reply left once confirmed');

  const before = ch.batches.length;
  // The next request acknowledges the reply: snd_una moves (an UPDATE is due) in the
  // same turn as the data arrives and the app answers.
  input({ seq: 11, ack: (iss + 1 + 6) >>> 0, flags: ACK | PSH, payload: Buffer.from('two') }, 4);
  await settle();
  t.equal(ch.batches.length, before + 1, 'one batch for the whole turn');
  t.same(ch.batches.at(-1)!.map((m) => m.type), [MsgType.RecvData, MsgType.SendData, MsgType.Update]);
  const update = ch.batches.at(-1)![2]!;
  t.equal(update.type === MsgType.Update && update.sndUna, (iss + 1 + 6) >>> 0, 'the UPDATE carries the new snd_una');
});

t.test('the runtime replicates what a batch of frames brought before it polls the stack', async (t) => {
  let deliver: ((frames: readonly RxFrame[]) => void) | undefined;
  const link: Link = {
    name: 'fake0',
    ifindex: 1,
    mac: Buffer.from([2, 0, 0, 0, 0, 1]),
    mtu: 1500,
    caps: { gso: false, csumOffload: false },
    onFrames: (h) => {
      deliver = h;
    },
    send: (frames) => frames.length,
    stats: () => ({ rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, rxDropped: 0, txErrors: 0 }),
    discardPending: () => 0,
    close: () => {},
  };
  const rt = openRuntime({ link, vip: '192.0.2.100', announce: false });
  t.teardown(() => rt.close());
  const calls: string[] = [];
  rt.mirror = { flush: () => void calls.push('replicate') } as unknown as Mirror;
  const poll = rt.stack.poll.bind(rt.stack);
  rt.stack.poll = (now: number) => {
    calls.push('poll');
    return poll(now);
  };
  deliver!([{ data: Buffer.alloc(60), csum: 'unknown', gso: false }]);
  t.same(calls, ['replicate', 'poll']);
});
