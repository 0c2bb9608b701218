// One run of the failover simulation: a client (the test-only active opener of the
// engine), a primary (engine + Mirror + the server app) and a backup (ReplicaStore,
// then at takeover a fresh engine rebuilt from it), on a virtual clock.
//
//   client  <-- seeded lossy, reordering, duplicating link -->  VIP (primary, later backup)
//   primary --> SimChannel (codec, in order, delayed) --> ReplicaStore; CONFIRMs back
//
// The primary's steps are counted: a segment it receives, a segment it emits (each
// one of a batch), a replication message the store applies, a confirmation it
// receives, a timer of its app. `killAfter: k` kills the primary right after its k-th
// step (0: before any): it never runs
// again, what it had emitted is still on the wire, a seeded prefix of its unapplied
// replication messages still arrives. `detectMs` later the backup takes over as
// backup-daemon/takeover.ts does: rebuildSnapshot -> restore -> app from its last
// checkpoint -> kick, and segments for the VIP now reach it. The run goes on until both
// ends closed, then the client's streams and the rules (checks.ts) are checked.
//
// The mirror coalesces control-block updates with setImmediate: after each of the
// primary's steps the run yields one macrotask turn, as the real event loop would,
// so every update is sent at a deterministic point.

import { TcpStack, type StackOptions } from '../../../shared/tcp/stack.js';
import type { TcpConnection } from '../../../shared/tcp/connection.js';
import type { Datagram } from '../../../shared/tcp/segment.js';
import { Mirror } from '../../../primary/replication/mirror.js';
import { ReplicaStore } from '../../../backup-daemon/store.js';
import { rebuildSnapshot } from '../../../backup-daemon/rebuild.js';
import { kick } from '../../../backup-daemon/takeover.js';
import { seeded } from '../../tcp/harness.js';
import { splitGso } from '../../tcp/sim.js';
import { Agenda } from './queue.js';
import { SimChannel, type ChannelTiming } from './channel.js';
import { RuleChecker } from './checks.js';
import { ServerApp, type AppState, type ServerAppOptions } from './server-app.js';
import { ClientApp, type Workload } from './client-app.js';

export const CLIENT = 0xc000020a; // 192.0.2.10
export const VIP = 0xc0000264; // 192.0.2.100
export const PORT = 80;
export const CPORT = 40000;

export interface LinkOptions {
  loss: number;
  dup: number;
  /** One-way delay, ms, plus up to `jitter` ms (so segments reorder). */
  delay: number;
  jitter: number;
}

export interface Scenario {
  name: string;
  workload: Workload;
  /** The server app checkpoints after every this many requests; 0: never. */
  checkpointEvery: number;
  link: LinkOptions;
  repl: ChannelTiming;
  /** The backup's bound per connection (rule 7). */
  bytesPerConnection: number;
  /** Engine options of all three stacks. */
  stack: StackOptions;
  /** Start the ISNs just below 2^32 so sequence numbers wrap mid-run. */
  issNearWrap?: boolean;
  /** From the kill to the takeover, ms (detection). */
  detectMs: number;
  /** Virtual time by which the run must be over. */
  deadlineMs: number;
  /** The server app writes its trailer and closes this long after the client's FIN. */
  finishDelayMs: number;
  /** Concurrent connections (clients on ports CPORT, CPORT+1, ...), each with the
   *  workload; the n-th opens `stagger` * n ms after the first. Default 1. */
  clients?: number;
  stagger?: number;
  /** The backup arrives this late (ms): the connection runs unprotected until then,
   *  and is put under protection at the app's next checkpoint (Mirror.resync). */
  protectAfterMs?: number;
  /** Output replay (primary/replication/mirror.ts) with this window, bytes; the app's
   *  replies are a pure function of its input and checkpoint, as replay requires. */
  replayWindow?: number;
}

export interface RunResult {
  /** The primary's steps in this run (for a run without a kill: the kill points). */
  steps: number;
  killed: boolean;
  /** What the primary's connection looked like when it died. */
  atKill: string;
  /** Its state then ('none': no connection yet, or already gone). */
  stateAtKill: string;
  tookOver: boolean;
  /** Connections the backup rebuilt from the store. */
  restored: number;
  /** The first step after which the store held a complete replica of every
   *  connection that was resynchronised (protectAfterMs), or undefined. */
  resyncedAtStep: number | undefined;
  /** Output replay: ACKs that told the backup's engine the client held more than it
   *  had sent (StackStats.replayCatchUps). */
  replayCatchUps: number;
  endedAt: number;
  failures: string[];
}

type StepKind = 'in' | 'emit' | 'apply' | 'confirm' | 'app';

const yieldTurn = () => new Promise<void>((r) => setImmediate(r));

export async function runOnce(sc: Scenario, seed: number, killAfter?: number): Promise<RunResult> {
  return new World(sc, seed, killAfter).run();
}

class World {
  now = 0;
  readonly agenda = new Agenda();
  readonly rand: () => number;
  readonly peer: TcpStack;
  readonly primary: TcpStack;
  backup: TcpStack | undefined;
  readonly store: ReplicaStore;
  readonly channel: SimChannel;
  readonly mirror: Mirror;
  readonly checker: RuleChecker;
  readonly clients: ClientApp[] = [];
  readonly primaryApps: ServerApp[] = [];
  readonly backupApps: ServerApp[] = [];
  primaryAlive = true;
  steps = 0;
  counted: StepKind | undefined;
  atKill = '';
  stateAtKill = '';
  restored = 0;
  resyncedAtStep: number | undefined;
  /** The mirror observes the primary's engine (from the start, or protectAfterMs on). */
  protecting = true;
  /** Client ports of connections opened before the mirror observed the engine (each
   *  poll of the primary before then notes them). */
  readonly unprotectedPorts = new Set<number>();

  constructor(readonly sc: Scenario, readonly seed: number, readonly killAfter: number | undefined) {
    this.rand = seeded(seed * 7919 + 1);
    const wrap = (k: number) => (sc.issNearWrap ? { iss: () => (0xffffffff - 200 - k * 1000) >>> 0 } : {});
    this.peer = new TcpStack({ ...sc.stack, ...wrap(1), random: seeded(seed * 7919 + 2) });
    this.primary = new TcpStack({ ...sc.stack, ...wrap(2), random: seeded(seed * 7919 + 3) });
    this.store = new ReplicaStore({ bytesPerConnection: sc.bytesPerConnection, clock: () => this.now });
    this.checker = new RuleChecker(() => `seed ${seed} kill after step ${killAfter ?? '-'} (t=${this.now.toFixed(2)})`);
    this.channel = new SimChannel(this.agenda, this.store, sc.repl, {
      count: (k) => {
        this.counted = k;
      },
      now: () => this.now,
      rand: this.rand,
      primaryAlive: () => this.primaryAlive,
      violation: (w) => this.checker.violation(w),
    });
    this.mirror = new Mirror({
      channel: this.channel, bytesPerConnection: sc.bytesPerConnection, wake: () => undefined,
      replays: () => sc.replayWindow !== undefined, replayWindow: sc.replayWindow,
    });
    if (sc.protectAfterMs === undefined) {
      this.primary.observer = this.mirror;
    } else {
      this.protecting = false;
      this.agenda.schedule(sc.protectAfterMs, () => {
        this.protecting = true;
        this.primary.observer = this.mirror;
      });
    }
    this.primary.listen(PORT).onConnection = (c) => {
      this.primaryApps.push(new ServerApp(c, {
        ...this.appOptions('primary'),
        protection: this.mirror.protectionFor(c),
        resync: (state, consumed, produced) =>
          this.protecting && this.mirror.resync(c, state, consumed, produced) ? this.mirror.protectionFor(c) : undefined,
      }));
    };
    for (let i = 0; i < (sc.clients ?? 1); i++) {
      const open = () => {
        const cc = this.peer.connect({ localAddr: CLIENT, localPort: CPORT + i, remoteAddr: VIP, remotePort: PORT }, this.now);
        const later = (fn: () => void, ms: number) => void this.agenda.schedule(this.now + ms, fn);
        this.clients.push(new ClientApp(cc, sc.workload, seeded(seed * 7919 + 4 + 100 * i), later));
      };
      if (i === 0) open();
      else this.agenda.schedule(i * (sc.stagger ?? 0), open);
    }
    if (killAfter === 0) this.kill();
  }

  async run(): Promise<RunResult> {
    const sc = this.sc;
    let guard = 0;
    for (; guard < 3_000_000; guard++) {
      if (this.done()) break;
      if (this.primaryAlive && (this.primary.pollAt() ?? Infinity) <= this.now) {
        await this.pollPrimary();
        continue;
      }
      if (this.backup !== undefined && (this.backup.pollAt() ?? Infinity) <= this.now) {
        this.pollBackup();
        continue;
      }
      if ((this.peer.pollAt() ?? Infinity) <= this.now) {
        this.transmit(this.peer.poll(this.now), 'peer');
        continue;
      }
      let next = this.agenda.peek()?.at ?? Infinity;
      for (const s of [this.primaryAlive ? this.primary : undefined, this.backup, this.peer]) {
        const p = s?.pollAt();
        if (p !== undefined && p < next) next = p;
      }
      if (next > sc.deadlineMs) break;
      this.now = Math.max(this.now, next);
      const ev = this.agenda.peek();
      if (ev === undefined || ev.at > this.now) continue;
      this.agenda.pop();
      if (ev.cancelled) continue;
      this.counted = undefined;
      ev.run();
      if (this.counted !== undefined) await this.step();
    }
    const failures = [...this.checker.violations];
    if (guard >= 3_000_000) failures.push('the simulation did not settle (livelock?)');
    this.verify(failures);
    return {
      steps: this.steps,
      killed: !this.primaryAlive,
      atKill: this.atKill,
      stateAtKill: this.stateAtKill,
      tookOver: this.backup !== undefined,
      restored: this.restored,
      resyncedAtStep: this.resyncedAtStep,
      replayCatchUps: this.backup?.stats.replayCatchUps ?? 0,
      endedAt: this.now,
      failures,
    };
  }

  /** The server app's options on either host; its timers are agenda events, and on the
   *  primary each one is a step (it dies with the primary). */
  appOptions(host: 'primary' | 'backup'): ServerAppOptions {
    return {
      checkpointEvery: this.sc.checkpointEvery,
      finishDelayMs: this.sc.finishDelayMs,
      later: (fn, ms) => {
        this.agenda.schedule(this.now + ms, () => {
          if (host === 'backup') {
            fn();
          } else if (this.primaryAlive) {
            fn();
            this.counted = 'app';
          }
        });
      },
    };
  }

  // ---- the primary's steps ----

  /** The step just taken by the primary is over (its deferred work included): count it
   *  and die if this is the one. */
  async step(): Promise<void> {
    if (this.counted !== 'apply') await yieldTurn();
    this.countStep();
  }

  countStep(): void {
    this.steps++;
    if (this.resyncedAtStep === undefined && this.sc.protectAfterMs !== undefined && this.primaryApps.some((a) => a.resynced > 0) &&
        this.store.replicas.size > 0 && [...this.store.replicas.values()].every((r) => !r.resyncing && r.checkpoint !== undefined)) {
      this.resyncedAtStep = this.steps;
    }
    if (this.steps === this.killAfter) this.kill();
  }

  async pollPrimary(): Promise<void> {
    if (!this.protecting) for (const c of this.primary.connections()) this.unprotectedPorts.add(c.remotePort);
    const out = this.primary.poll(this.now);
    for (const d of out) {
      this.checker.primaryEmits(d, this.store, this.unprotected(d));
      this.transmit([d], 'primary');
      this.countStep();
      if (!this.primaryAlive) return;
    }
    await yieldTurn();
  }

  /** In the resync scenario: the window scale of `d`'s connection while its app has
   *  not resynchronised it (the checker's exemption); otherwise undefined. */
  unprotected(d: Datagram): { rcvWndShift: number } | undefined {
    if (this.protecting && this.unprotectedPorts.size === 0) return undefined;
    for (const c of this.primary.connections()) {
      if (c.remotePort === d.seg.dstPort && this.unprotectedPorts.has(c.remotePort)) return { rcvWndShift: c.rcvWndShift };
    }
    return undefined;
  }

  kill(): void {
    this.primaryAlive = false;
    const conns = [...this.primary.connections()];
    this.stateAtKill = conns.map((c) => c.state).join('+') || 'none';
    this.atKill = conns.length === 0
      ? `no connection (clients ${this.clients.map((cl) => cl.c.state).join(', ')})`
      : conns.map((c) => `${c.state} rcv ${c.bytesConsumed + c.recvQueued()} snd ${c.bytesWritten}`).join('; ') +
        ` (clients ${this.clients.map((cl) => cl.c.state).join(', ')})`;
    const inFlight = this.channel.inFlight.length;
    this.channel.cut(Math.floor(this.rand() * (inFlight + 1)));
    this.agenda.schedule(this.now + this.sc.detectMs, () => this.takeover());
  }

  // ---- the backup ----

  /** backup-daemon/takeover.ts, step by step, on the simulation's clock. */
  takeover(): void {
    const sc = this.sc;
    const b = new TcpStack({ ...sc.stack, random: seeded(this.seed * 7919 + 5) });
    this.backup = b;
    const rebuilt: TcpConnection[] = [];
    for (const r of this.store.replicas.values()) {
      if (r.resyncing) continue; // as takeover.ts: its connection was unprotected
      const snap = rebuildSnapshot(r, { rcvMss: b.cfg.mss, rcvBuf: b.cfg.rcvBuf, now: this.now });
      let c: TcpConnection;
      try {
        c = b.restore(snap, this.now);
      } catch (err) {
        this.checker.violation(`restore failed: ${(err as Error).message}`);
        continue;
      }
      const state = r.checkpoint ? (JSON.parse(r.checkpoint.state.toString('utf8')) as AppState) : undefined;
      this.backupApps.push(new ServerApp(c, {
        ...this.appOptions('backup'),
        resume: { consumed: r.rcv.basePos, produced: r.checkpoint?.produced ?? 0, replicatedEnd: r.snd.endPos },
        state,
      }));
      rebuilt.push(c);
    }
    this.restored = rebuilt.length;
    b.listen(PORT).onConnection = (c) => {
      this.backupApps.push(new ServerApp(c, this.appOptions('backup')));
    };
    for (const c of rebuilt) if (c.state !== 'CLOSED') kick(c);
  }

  pollBackup(): void {
    const out = this.backup!.poll(this.now);
    for (const d of out) {
      const pc = this.clients.find((cl) => d.dst === CLIENT && d.seg.dstPort === cl.c.localPort)?.c;
      this.checker.backupEmits(d, pc === undefined ? undefined : { sndMax: pc.sndMax, state: pc.state });
    }
    this.transmit(out, 'backup');
  }

  // ---- the wire ----

  transmit(out: Datagram[], from: 'primary' | 'backup' | 'peer'): void {
    const l = this.sc.link;
    for (const d of out) {
      for (const seg of splitGso(d.seg)) {
        if (this.rand() < l.loss) continue;
        const copies = this.rand() < l.dup ? 2 : 1;
        for (let i = 0; i < copies; i++) {
          const at = this.now + l.delay + this.rand() * l.jitter;
          const dg: Datagram = { src: d.src, dst: d.dst, seg };
          this.agenda.schedule(at, from === 'peer' ? () => this.toVip(dg) : () => this.peer.input(dg, this.now));
        }
      }
    }
  }

  /** Whoever holds the VIP now gets it; nobody does between the kill and the takeover. */
  toVip(d: Datagram): void {
    if (this.primaryAlive) {
      this.primary.input(d, this.now);
      this.counted = 'in';
    } else if (this.backup !== undefined) {
      this.backup.input(d, this.now);
    }
  }

  // ---- the end ----

  done(): boolean {
    if (this.clients.length < (this.sc.clients ?? 1)) return false;
    for (const cl of this.clients) if (!cl.done) return false;
    const live = this.primaryAlive ? this.primary : this.backup;
    if (live === undefined) return false;
    for (const c of live.connections()) if (c.state !== 'TIME-WAIT') return false;
    return true;
  }

  verify(failures: string[]): void {
    if (this.clients.length < (this.sc.clients ?? 1)) failures.push('not every client started');
    for (const cl of this.clients) {
      const who = `client :${cl.c.localPort}`;
      const got = cl.received();
      if (!got.equals(cl.expected)) {
        let i = 0;
        while (i < got.length && i < cl.expected.length && got[i] === cl.expected[i]) i++;
        failures.push(`${who} stream differs at byte ${i}: got ${got.length} bytes, expected ${cl.expected.length}` +
          ` (got ${JSON.stringify(got.subarray(i, i + 24).toString('latin1'))}, expected ${JSON.stringify(cl.expected.subarray(i, i + 24).toString('latin1'))})`);
      }
      if (cl.error !== undefined) failures.push(`${who} connection failed: ${cl.error}`);
      if (!cl.done) failures.push(`${who} not done: state ${cl.c.state}, ended ${cl.ended}, sent ${cl.sent}/${cl.stream.length}`);
    }
    const live = this.primaryAlive ? this.primary : this.backup;
    for (const c of live?.connections() ?? []) {
      if (c.state !== 'TIME-WAIT') failures.push(`server connection left in ${c.state}`);
    }
    for (const a of this.primaryAlive ? this.primaryApps : this.backupApps) {
      if (a.error !== undefined) failures.push(`server app: ${a.error}`);
    }
  }
}

