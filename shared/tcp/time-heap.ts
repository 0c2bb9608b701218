// A binary min-heap of (deadline, connection): one clock for all connections, as in
// smoltcp's single poll_at. Entries are never removed early: a connection whose
// deadline moved leaves a stale entry behind, recognised on pop because the deadline
// no longer matches the one the connection recorded (TcpConnection.scheduledAt).

export interface Timed {
  scheduledAt: number | undefined;
}

interface Entry<T> {
  t: number;
  c: T;
}

export class TimeHeap<T extends Timed> {
  #a: Entry<T>[] = [];

  get size(): number {
    return this.#a.length;
  }

  /** Make sure `c` is polled no later than `t`. An earlier entry already held is kept:
   *  it fires early, finds nothing due, and the connection is scheduled again. */
  schedule(c: T, t: number | undefined): void {
    if (t === undefined) {
      c.scheduledAt = undefined;
      return;
    }
    if (c.scheduledAt !== undefined && c.scheduledAt <= t) return;
    c.scheduledAt = t;
    this.#push({ t, c });
  }

  /** Earliest live deadline, dropping stale entries on the way. */
  peek(): number | undefined {
    const a = this.#a;
    while (a.length > 0) {
      const top = a[0]!;
      if (top.c.scheduledAt === top.t) return top.t;
      this.#pop();
    }
    return undefined;
  }

  /** Remove and return every connection whose deadline is at or before `now`. */
  popDue(now: number, into: (c: T) => void): void {
    const a = this.#a;
    while (a.length > 0 && a[0]!.t <= now) {
      const e = this.#pop();
      if (e.c.scheduledAt === e.t) {
        e.c.scheduledAt = undefined;
        into(e.c);
      }
    }
  }

  /** Rebuild from live entries only (when stale ones pile up). */
  compact(): void {
    const live = this.#a.filter((e) => e.c.scheduledAt === e.t);
    this.#a = [];
    for (const e of live) this.#push(e);
  }

  #push(e: Entry<T>): void {
    const a = this.#a;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]!.t <= e.t) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = e;
  }

  #pop(): Entry<T> {
    const a = this.#a;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      let i = 0;
      const n = a.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const m = r < n && a[r]!.t < a[l]!.t ? r : l;
        if (a[m]!.t >= last.t) break;
        a[i] = a[m]!;
        i = m;
      }
      a[i] = last;
    }
    return top;
  }
}
