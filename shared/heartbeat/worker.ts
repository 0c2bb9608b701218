// The heartbeat thread. It has an event loop of its own, so a primary whose main
// thread is busy (a long batch, a slow application callback, GC) still beats on time:
// busy is not dead. Beats go out on every path; beats from the peer feed the Detector.
import dgram from 'node:dgram';
import { parentPort, workerData } from 'node:worker_threads';
import { Detector, STARTUP_DEAD_MS, STARTUP_MS, type Verdict } from './detector.js';
import { decodeBeat, encodeBeat, type Role } from './packet.js';
import { HeardBoard, heardClockMs } from './heard.js';
import { setThreadRealtime } from '../../native/index.js';

export interface HeartbeatPath {
  name: string;
  localAddr: string;
  port: number;
  peerAddr: string;
}

export interface HeartbeatWorkerData {
  keyHex: string;
  vip: number;
  role: Role;
  paths: HeartbeatPath[];
  intervalMs: number;
  deadMs: number;
  /** The HeardBoard's memory (HeartbeatPeer makes it): the main thread's evidence. */
  heard?: SharedArrayBuffer;
}

export type WorkerEvent =
  | Verdict
  | { kind: 'refused'; path: string; reason: string }
  | { kind: 'error'; path: string; message: string; code?: string }
  | { kind: 'ready' }
  | { kind: 'info'; realtime: boolean };

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across
 *  processes on one host (the demo measures kill-to-detection with it). */
const wallNow = () => performance.timeOrigin + performance.now();


/** Beats in a row a path may go without while the main thread's traffic speaks for it:
 *  as many as keep its beats at most half the dead time apart (3 at the defaults, 10 ms
 *  and 80 ms; none when the dead time is under four intervals). */
export function skipAtMost(intervalMs: number, deadMs: number): number {
  return Math.max(0, Math.floor(deadMs / (2 * intervalMs)) - 1);
}

/** Whether beat number `seq` goes out on a path whose last mark of traffic from the peer
 *  (HeardBoard, by the main thread) is `markAgeMs` old. Each beat is a wake-up of the
 *  peer's heartbeat thread (~100 µs of CPU each on the lab's VM, where a beat's arrival
 *  wakes a halted CPU). While replication traffic flows both ways, the peer's main
 *  thread marks ours on its own board: the primary marks each CONFIRM, which the backup
 *  sends right after marking the batch it confirms, and the backup marks each batch it
 *  confirms. A mark younger than an interval means the peer heard us that recently, so
 *  the beat adds nothing on that path, and it skips, but never more than `skip` in a
 *  row (skipAtMost): the peer's per-path state and start-up never rest on marks alone
 *  (beats stay at most half the dead time apart), and when the traffic
 *  stops, or either main thread stalls, the marks age and every beat goes out again
 *  within an interval. Only while we hold the peer alive: a peer not yet heard gets
 *  every beat. Paths the main thread never marks (the service LAN) always beat. */
export function beatDue(seq: number, markAgeMs: number, intervalMs: number, peerAlive: boolean, skip: number): boolean {
  if (!peerAlive || !(markAgeMs < intervalMs)) return true;
  return seq % (skip + 1) === 0;
}

function run(d: HeartbeatWorkerData): void {
  const port = parentPort!;
  // Real-time, as corosync's threads: on a machine saturated by traffic, a beat that
  // leaves late or a judgment made before pending beats were read is a false takeover.
  const realtime = setThreadRealtime(10);
  const key = Buffer.from(d.keyHex, 'hex');
  const detector = new Detector(d.paths.map((p) => p.name), d.deadMs, { startupMs: STARTUP_MS, startupDeadMs: STARTUP_DEAD_MS });
  const post = (e: WorkerEvent) => port.postMessage(e);
  let seq = 0;
  let silenced = false;
  let bound = 0;

  const sockets = d.paths.map((p) => {
    const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    s.on('error', (e: NodeJS.ErrnoException) => post({ kind: 'error', path: p.name, message: e.message, code: e.code }));
    s.on('message', (msg, rinfo) => {
      if (rinfo.address !== p.peerAddr) return post({ kind: 'refused', path: p.name, reason: `unknown-sender:${rinfo.address}` });
      const b = decodeBeat(key, msg);
      if ('refused' in b) return post({ kind: 'refused', path: p.name, reason: b.refused });
      if (b.role === d.role || b.vip !== d.vip) return post({ kind: 'refused', path: p.name, reason: 'wrong-peer' });
      for (const v of detector.heard(p.name, wallNow())) post(v);
      if (!judgment) armJudgment();
    });
    s.bind(p.port, p.localAddr, () => {
      if (++bound === d.paths.length) post({ kind: 'ready' });
    });
    return { path: p, socket: s };
  });

  // Traffic from the peer seen by the main thread (replication data, confirmations)
  // is evidence of life as good as a beat, once beats have shown the peer alive: it
  // may only prolong a life, never start one (the peer's heartbeat thread may not be
  // running yet, and then it would be declared dead as soon as it goes quiet).
  const board = d.heard ? new HeardBoard(d.heard) : undefined;
  const skip = skipAtMost(d.intervalMs, d.deadMs);

  const beat = () => {
    if (silenced) return;
    const n = seq++;
    const msg = encodeBeat(key, { role: d.role, vip: d.vip, seq: n, sentAt: wallNow() });
    const clock = board ? heardClockMs() : 0;
    for (let i = 0; i < sockets.length; i++) {
      const mark = board?.read(i);
      if (!beatDue(n, mark === undefined ? Infinity : clock - mark, d.intervalMs, detector.alive, skip)) continue;
      const { path, socket } = sockets[i]!;
      socket.send(msg, path.port, path.peerAddr, () => undefined);
    }
  };
  beat();
  const taken = d.paths.map(() => Number.NEGATIVE_INFINITY);
  const takeBoard = () => {
    if (!board || !detector.alive) return;
    const now = wallNow();
    const clock = heardClockMs();
    for (let i = 0; i < d.paths.length; i++) {
      const mark = board.read(i);
      if (mark === undefined || mark <= taken[i]!) continue;
      taken[i] = mark;
      // The mark's time on this thread's wall clock, from its age on the shared one.
      const at = now - (clock - mark);
      // Evidence older than the dead time proves nothing now, and must not bring a path
      // that went down since back up (marks left unread while the peer was dead).
      if (at < now - d.deadMs) continue;
      for (const v of detector.heard(d.paths[i]!.name, at)) post(v);
    }
  };

  // Judge after the poll phase (setImmediate), so beats that already arrived while
  // this thread was held up are counted before silence is declared.
  const check = () => {
    takeBoard();
    for (const v of detector.check(wallNow())) post(v);
    armJudgment();
  };
  // Besides the judgment at each beat's tick, one armed for the instant a silence would
  // pass the dead time (Detector.nextCheckAt): a death is declared then, not up to an
  // interval later. Beats heard meanwhile only move that instant later; the timer then
  // fires early, finds life, and is armed again: about one wake-up per dead time.
  let judgment: NodeJS.Timeout | undefined;
  let judgmentAt = Infinity;
  const judge = () => {
    judgment = undefined;
    judgmentAt = Infinity;
    setImmediate(check);
  };
  const armJudgment = () => {
    const at = detector.nextCheckAt();
    if (at === undefined || at >= judgmentAt) return;
    if (judgment) clearTimeout(judgment);
    judgmentAt = at;
    // check() compares strictly (a silence of exactly the dead time is not yet death),
    // and timers have millisecond granularity: a millisecond late, not one early.
    judgment = setTimeout(judge, Math.max(1, Math.ceil(at - wallNow()) + 1));
  };
  const checkEvery = Math.max(1, Math.min(d.intervalMs, d.deadMs / 4));
  if (checkEvery === d.intervalMs) {
    // The usual case (the defaults): one timer beats and then judges. This thread
    // wakes for its timers and for each beat heard; a second timer of the same period
    // was a quarter of its wake-ups, idle.
    setInterval(() => {
      beat();
      setImmediate(check);
    }, d.intervalMs);
  } else {
    setInterval(beat, d.intervalMs);
    setInterval(() => setImmediate(check), checkEvery);
  }

  port.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'silence') silenced = true;
  });
  post({ kind: 'info', realtime });
}

if (parentPort && workerData) run(workerData as HeartbeatWorkerData);
