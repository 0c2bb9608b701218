// The boundary between intact and the wire: something that moves whole Ethernet
// frames. native/ implements it over AF_PACKET; tests use shared/memory-link.ts.
// Everything above this file takes a Link as a parameter and never opens one itself,
// so the whole stack runs without root against an in-memory link.

/** How far the kernel vouches for a received frame's transport checksum. */
export type ChecksumStatus =
  /** Nothing is known: verify the checksum in software (real NICs without offload, tests). */
  | 'unknown'
  /** The kernel (or NIC) verified it (TP_STATUS_CSUM_VALID / VIRTIO_NET_HDR_F_DATA_VALID). */
  | 'valid'
  /** Sent by a local kernel peer over veth and never filled in (CHECKSUM_PARTIAL,
   *  TP_STATUS_CSUMNOTREADY): the field holds only the pseudo-header sum. Trust it. */
  | 'partial';

export interface RxFrame {
  /** The Ethernet frame, from the destination MAC on. May be a view into a buffer the
   *  link reuses after the callback returns: copy what must outlive the callback. */
  readonly data: Buffer;
  readonly csum: ChecksumStatus;
  /** True when the frame is a GSO super-segment (longer than the MTU allows). */
  readonly gso: boolean;
}

/** One frame to send. `data` is the whole Ethernet frame, or its pieces in order
 *  (header, payload...) so payloads are not copied into a new buffer. */
export interface TxFrame {
  readonly data: Buffer | readonly Buffer[];
  /** Ask the kernel to segment this TCP/IPv4 frame into pieces of this many payload
   *  bytes and to fill in the TCP checksums (virtio-net header, PACKET_VNET_HDR).
   *  The frame's TCP checksum field must hold the folded pseudo-header sum, not
   *  inverted, as the kernel expects of CHECKSUM_PARTIAL (shared/wire has the helper).
   *  Only when `link.caps.gso` is true. */
  readonly gsoSize?: number;
  /** Ask the kernel to fill in the TCP checksum only (no segmentation); same rule for
   *  the checksum field as gsoSize. Only when `link.caps.csumOffload` is true. */
  readonly csumOffload?: boolean;
}

export interface LinkCapabilities {
  /** The link accepts TxFrame.gsoSize. */
  readonly gso: boolean;
  /** The link accepts TxFrame.csumOffload. */
  readonly csumOffload: boolean;
}

export interface LinkStats {
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  /** Frames the kernel dropped before we read them (ring full). */
  rxDropped: number;
  /** Frames refused by the kernel on send (ENOBUFS and the like). */
  txErrors: number;
}

export interface Link {
  /** Interface name, e.g. "eth0". */
  readonly name: string;
  readonly ifindex: number;
  /** The interface's MAC address (6 bytes). */
  readonly mac: Buffer;
  /** The interface's MTU (IP packet size, without the Ethernet header). */
  readonly mtu: number;
  readonly caps: LinkCapabilities;
  /** Called with every batch of received frames; one call per wake-up, never per frame. */
  onFrames(handler: (frames: readonly RxFrame[]) => void): void;
  /** Queue frames for sending in one batch; returns how many the kernel took. */
  send(frames: readonly TxFrame[]): number;
  stats(): LinkStats;
  /** Throw away the frames received and not yet handed to onFrames; returns how many.
   *  A backup's link is open, unread, while it is passive: at takeover what waits in it
   *  is old (the old primary's own announcements among it). */
  discardPending(): number;
  /** Stop receiving and release the socket. Idempotent. */
  close(): void;
}
