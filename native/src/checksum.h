// The Internet checksum (RFC 1071), and filling in the IPv4 and TCP/UDP checksums of
// a whole frame. Sums are one's-complement sums of 16-bit big-endian words.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace intact {

// Folded 16-bit one's-complement sum of `len` bytes plus `initial` (any 32-bit partial
// sum, e.g. a pseudo-header sum). Not complemented. An odd trailing byte counts as the
// high byte of a word (RFC 1071), so chain sums only over even-length pieces.
uint16_t OnesSum(const uint8_t* data, size_t len, uint32_t initial);

// Recomputes the IPv4 header checksum and, for an unfragmented TCP or UDP packet, the
// transport checksum of an untagged Ethernet frame. False (frame untouched) when the
// frame is not well-formed IPv4.
bool FillChecksums(uint8_t* frame, size_t len);

// JS: checksum(buf, initial?) -> the checksum to store (complemented sum).
Napi::Value ChecksumJs(const Napi::CallbackInfo& info);
// JS: onesSum(buf, initial?) -> folded sum, not complemented (for chaining).
Napi::Value OnesSumJs(const Napi::CallbackInfo& info);
// JS: fillChecksums(frame) -> boolean
Napi::Value FillChecksumsJs(const Napi::CallbackInfo& info);

}  // namespace intact
