// Frames captured on this machine from Linux (kernel TCP/ARP/ICMP) between two network
// namespaces over veth, with `ethtool -K <veth> tx off` so every checksum is filled in
// (an AF_PACKET socket on the receiving side, python3, 2025-11). Client 192.0.2.10 at
// c2:52:9e:20:58:a1, server 192.0.2.100 at ea:e2:90:fd:b3:5e, server listening on 8080.
// Golden bytes for the parsers, and for emitters that must say what Linux says.

function hex(s: string): Buffer {
  return Buffer.from(s, 'hex');
}

export const CLIENT_MAC = hex('c2529e2058a1');
export const SERVER_MAC = hex('eae290fdb35e');
export const CLIENT_IP = 0xc000020a; // 192.0.2.10
export const SERVER_IP = 0xc0000264; // 192.0.2.100

/** who-has 192.0.2.100 tell 192.0.2.10 (42 bytes: Linux does not pad on veth). */
export const ARP_REQUEST = hex('ffffffffffffc2529e2058a108060001080006040001c2529e2058a1c000020a000000000000c0000264');
/** Linux's reply: 192.0.2.100 is-at ea:e2:90:fd:b3:5e. */
export const ARP_REPLY = hex('c2529e2058a1eae290fdb35e08060001080006040002eae290fdb35ec0000264c2529e2058a1c000020a');
/** ping -s 16 -p 6162: echo request id 0x2341 seq 1. */
export const ICMP_ECHO_REQUEST = hex('eae290fdb35ec2529e2058a108004500002c1df840004001986ac000020ac000026408006e74234100013191026b00000000294d090000000000');
/** Linux's echo reply (IP id 0xd99c, DF clear). */
export const ICMP_ECHO_REPLY = hex('c2529e2058a1eae290fdb35e08004500002cd99c000040011cc6c0000264c000020a00007674234100013191026b00000000294d090000000000');
/** SYN: MSS 1460, SACK-permitted, TS val 0x440c7516 ecr 0, NOP, WS 10. */
export const SYN = hex('eae290fdb35ec2529e2058a108004500003c84ac4000400631a1c000020ac0000264de161f904ea5ee4d00000000a002faf0d4e00000020405b40402080a440c7516000000000103030a');
/** SYN-ACK from Linux: MSS 1460, SACK-permitted+TS, NOP WS 10; IP id 0. */
export const SYN_ACK = hex('c2529e2058a1eae290fdb35e08004500003c000040004006b64dc0000264c000020a1f90de16ce7134c74ea5ee4ea012fe88d3fd0000020405b40402080adb701e90440c75160103030a');
/** ACK completing the handshake: NOP NOP TS. */
export const ACK = hex('eae290fdb35ec2529e2058a108004500003484ad4000400631a8c000020ac0000264de161f904ea5ee4ece7134c88010003f011600000101080a440c7517db701e90');
/** PSH|ACK carrying "hello". */
export const DATA_HELLO = hex('eae290fdb35ec2529e2058a108004500003984ae4000400631a2c000020ac0000264de161f904ea5ee4ece7134c88018003fbd3600000101080a440c7517db701e9068656c6c6f');
/** FIN|ACK from the client. */
export const FIN_ACK = hex('eae290fdb35ec2529e2058a108004500003484af4000400631a6c000020ac0000264de161f904ea5ee53ce7134c88011003f011000000101080a440c7517db701e90');

export const ALL_TCP = [SYN, SYN_ACK, ACK, DATA_HELLO, FIN_ACK];
