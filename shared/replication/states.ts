// TCP states on the replication wire, by index. Append only: the index is the format.
import type { TcpState } from '../tcp/tcb.js';

export const STATES: readonly TcpState[] = [
  'LISTEN', 'SYN-RECEIVED', 'SYN-SENT', 'ESTABLISHED', 'FIN-WAIT-1', 'FIN-WAIT-2',
  'CLOSE-WAIT', 'CLOSING', 'LAST-ACK', 'TIME-WAIT', 'CLOSED',
];

export function stateIndex(s: TcpState): number {
  return STATES.indexOf(s);
}

/** States in which our FIN has been issued (it follows the last data byte). */
export function finIssued(s: TcpState): boolean {
  return s === 'FIN-WAIT-1' || s === 'FIN-WAIT-2' || s === 'CLOSING' || s === 'TIME-WAIT' || s === 'LAST-ACK';
}

/** States in which output replay lets our output run past what the backup holds: open
 *  our way, no FIN of ours issued (it leaves only once the backup holds it and all
 *  before it). The one rule for the mirror (asks for a jump of the backup's send stream),
 *  the store (takes one) and the rebuild (accepts a client's ACK past the replica). */
export function replayRunsAhead(s: TcpState | undefined): boolean {
  return s === 'ESTABLISHED' || s === 'CLOSE-WAIT';
}
