// Failure detection over several paths, as a pure object: beats and time in,
// verdicts out. The peer is dead only when EVERY path has been silent for the dead
// time (rule 6: one speaker for the VIP; a cut link alone is not a dead primary).

export interface PathState {
  name: string;
  /** Last time (ms) a valid beat arrived on this path; undefined = never. */
  lastHeard: number | undefined;
}

export type Verdict =
  | { kind: 'alive'; at: number }
  | { kind: 'dead'; at: number; silentMs: number; lastHeard: number }
  | { kind: 'path-down'; path: string; at: number }
  | { kind: 'path-up'; path: string; at: number };

/** The first second of a peer's life is judged with a longer dead time: a process that
 *  has just started is busiest (loading and compiling code). A primary that dies within
 *  this window is declared dead after STARTUP_DEAD_MS instead of the dead time.
 *  300 ms at first, from ~90 ms silences measured in an early version. Measured again
 *  (2026-11-22, scratch harness starting the lab pair 28 times, a bulk client at once,
 *  10 of them beside two CPU hogs): the longest gap between the primary's beats seen by
 *  the backup in its first two seconds was 45 ms once, otherwise 11-14 ms (the beat
 *  thread runs at real-time priority). 150 ms keeps more than three times that margin,
 *  and halves what a death in the first second costs the clients. */
export const STARTUP_MS = 1000;
export const STARTUP_DEAD_MS = 150;

export interface DetectorOptions {
  /** For this long after the peer comes alive, silence must last `startupDeadMs` (if
   *  longer than the dead time) to count as death. A process that has just started is
   *  busiest (loading and compiling code); see STARTUP_DEAD_MS. */
  startupMs?: number;
  startupDeadMs?: number;
}

export class Detector {
  readonly paths: PathState[];
  private peerAlive = false;
  private aliveSince = 0;
  private readonly pathUp = new Map<string, boolean>();
  private readonly startupMs: number;
  private readonly startupDeadMs: number;

  constructor(pathNames: readonly string[], readonly deadMs: number, o: DetectorOptions = {}) {
    this.paths = pathNames.map((name) => ({ name, lastHeard: undefined }));
    this.startupMs = o.startupMs ?? 0;
    this.startupDeadMs = Math.max(deadMs, o.startupDeadMs ?? 0);
  }

  get alive(): boolean {
    return this.peerAlive;
  }

  /** A valid beat arrived on `path` at `now`. Evidence may come late and out of order
   *  (the main thread's, read at judgment time): a path's last-heard never goes back. */
  heard(path: string, now: number): Verdict[] {
    const p = this.paths.find((x) => x.name === path);
    if (!p) return [];
    if (p.lastHeard === undefined || now > p.lastHeard) p.lastHeard = now;
    const out: Verdict[] = [];
    if (!this.pathUp.get(path)) {
      this.pathUp.set(path, true);
      out.push({ kind: 'path-up', path, at: now });
    }
    if (!this.peerAlive) {
      this.peerAlive = true;
      this.aliveSince = now;
      out.push({ kind: 'alive', at: now });
    }
    return out;
  }

  /** Judges at `now`. Call it only after pending beats were taken in (see worker). A
   *  peer never heard from is not declared dead: it may not have started yet. */
  check(now: number): Verdict[] {
    const out: Verdict[] = [];
    let newest: number | undefined;
    for (const p of this.paths) {
      if (p.lastHeard === undefined) continue;
      if (newest === undefined || p.lastHeard > newest) newest = p.lastHeard;
      if (this.pathUp.get(p.name) && now - p.lastHeard > this.deadMs) {
        this.pathUp.set(p.name, false);
        out.push({ kind: 'path-down', path: p.name, at: now });
      }
    }
    const dead = now - this.aliveSince < this.startupMs ? this.startupDeadMs : this.deadMs;
    if (this.peerAlive && newest !== undefined && now - newest > dead) {
      this.peerAlive = false;
      out.push({ kind: 'dead', at: now, silentMs: now - newest, lastHeard: newest });
    }
    return out;
  }

  /** The earliest time at which check() could find something new, given what has been
   *  heard so far: a path that is up passing the dead time, or the peer passing its dead
   *  time (during its first second, possibly only when that second ends). Undefined
   *  when nothing is to be judged (nothing heard, or every path down and the peer
   *  dead). The heartbeat thread arms its judgment for this time, so a death is
   *  declared when the silence passes the dead time, not at the next beat's tick. */
  nextCheckAt(): number | undefined {
    let at = Infinity;
    let newest = -Infinity;
    for (const p of this.paths) {
      if (p.lastHeard === undefined) continue;
      if (p.lastHeard > newest) newest = p.lastHeard;
      if (this.pathUp.get(p.name)) at = Math.min(at, p.lastHeard + this.deadMs);
    }
    if (this.peerAlive && newest > -Infinity) {
      const startupEnds = this.aliveSince + this.startupMs;
      // Past its first second the peer dies at newest + deadMs; within it, at newest +
      // startupDeadMs, or when the second ends if the silence is past deadMs by then.
      const death = newest + this.deadMs >= startupEnds ? newest + this.deadMs : Math.min(newest + this.startupDeadMs, startupEnds);
      at = Math.min(at, death);
    }
    return at === Infinity ? undefined : at;
  }
}
