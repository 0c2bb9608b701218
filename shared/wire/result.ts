// Parsers in shared/wire never throw on bad input: they return a ParseError whose
// `reason` is a stable code the caller counts drops by (smoltcp's Error::Malformed,
// split by cause so a counter says which check failed).

export type DropReason =
  | 'short-frame'
  | 'vlan'
  | 'unknown-ethertype'
  | 'not-our-mac'
  | 'bad-arp'
  | 'bad-ip-version'
  | 'bad-ihl'
  | 'bad-ip-length'
  | 'bad-ip-checksum'
  | 'fragment'
  | 'not-for-us'
  | 'unknown-protocol'
  | 'short-icmp'
  | 'bad-icmp-checksum'
  | 'icmp-not-echo'
  | 'short-tcp'
  | 'bad-data-offset'
  | 'bad-option'
  | 'bad-checksum';

export class ParseError {
  constructor(
    readonly reason: DropReason,
    /** Human detail for logs; never branch on it. */
    readonly detail?: string,
  ) {}
}

export function isParseError(v: unknown): v is ParseError {
  return v instanceof ParseError;
}
