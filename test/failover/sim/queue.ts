// The simulation's agenda: events ordered by virtual time, then by the order they
// were scheduled, so two runs with the same seed take exactly the same steps.

export interface SimEvent {
  at: number;
  order: number;
  run: () => void;
  /** Set when the event must not happen after all (a message lost with its sender). */
  cancelled?: boolean;
}

export class Agenda {
  readonly #heap: SimEvent[] = [];
  #order = 0;

  get size(): number {
    return this.#heap.length;
  }

  schedule(at: number, run: () => void): SimEvent {
    const e: SimEvent = { at, order: this.#order++, run };
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
    return e;
  }

  peek(): SimEvent | undefined {
    return this.#heap[0];
  }

  pop(): SimEvent | undefined {
    const h = this.#heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order);
}
