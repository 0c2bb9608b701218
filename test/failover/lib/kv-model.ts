// The kv session of the kill tests and its model: command i is a pure function of i,
// and so is its reply. Every fourth command is INCR c, whose reply must count 1, 2, 3...
// exactly: a command applied twice across a takeover shows as a skipped number, a lost
// reply as a short session, a reordered one as a mismatch. Values vary in length so
// replies and commands end at every offset of a segment over the session.

export interface KvCommand {
  line: string;
}

function value(j: number): string {
  return `v${j}.` + 'x'.repeat((j * 7919) % 53);
}

export function kvCommand(i: number): KvCommand {
  const j = Math.floor(i / 4);
  switch (i % 4) {
    case 0:
      return { line: 'INCR c' };
    case 1:
      return { line: `SET k${j} ${value(j)}` };
    case 2:
      return { line: `GET k${j}` };
    default:
      // An older key: the state restored from a checkpoint must hold it too.
      return { line: `GET k${Math.floor(j / 2)}` };
  }
}

/** The reply line (without newline) the kv app must give to command i. */
export function kvReply(i: number): string {
  const j = Math.floor(i / 4);
  switch (i % 4) {
    case 0:
      return String(j + 1);
    case 1:
      return 'OK';
    case 2:
      return value(j);
    default:
      return value(Math.floor(j / 2));
  }
}

export function expectedReplies(n: number): string[] {
  return Array.from({ length: n }, (_, i) => kvReply(i));
}
