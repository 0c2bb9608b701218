#include "checksum.h"

#include <cstring>

namespace intact {

namespace {

inline uint32_t Fold64(uint64_t s) {
  s = (s & 0xffffffffu) + (s >> 32);
  s = (s & 0xffffffffu) + (s >> 32);
  uint32_t t = static_cast<uint32_t>(s);
  t = (t & 0xffff) + (t >> 16);
  t = (t & 0xffff) + (t >> 16);
  return t;
}

inline uint16_t Load16Be(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline void Store16Be(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

// Sums 16-bit words in host order, 64 bits at a time with end-around carry
// (2^64 = 1 mod 0xffff, so carries wrap correctly). RFC 1071 §2(B): the sum of
// byte-swapped words is the byte-swapped sum, so one swap at the end gives the
// big-endian sum on a little-endian host.
uint16_t RawSum(const uint8_t* p, size_t n) {
  uint64_t sum = 0;
  while (n >= 32) {
    uint64_t w[4];
    std::memcpy(w, p, 32);
    for (uint64_t v : w) {
      sum += v;
      sum += (sum < v);
    }
    p += 32;
    n -= 32;
  }
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    sum += v;
    sum += (sum < v);
    p += 8;
    n -= 8;
  }
  uint64_t tail = 0;
  if (n >= 4) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    tail += v;
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    tail += v;
    p += 2;
    n -= 2;
  }
  if (n == 1) {
    // In memory order the lone byte is the first of a word padded with zero.
    uint8_t pad[2] = {p[0], 0};
    uint16_t v;
    std::memcpy(&v, pad, 2);
    tail += v;
  }
  sum += tail;
  sum += (sum < tail);
  uint16_t host = static_cast<uint16_t>(Fold64(sum));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return static_cast<uint16_t>(host << 8 | host >> 8);
#else
  return host;
#endif
}

uint32_t ReadInitial(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() > i && info[i].IsNumber()) return info[i].As<Napi::Number>().Uint32Value();
  return 0;
}

Napi::Uint8Array BufferArg(const Napi::CallbackInfo& info, const char* usage) {
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(info.Env(), usage);
  }
  return info[0].As<Napi::Uint8Array>();
}

}  // namespace

uint16_t OnesSum(const uint8_t* data, size_t len, uint32_t initial) {
  uint64_t s = static_cast<uint64_t>(RawSum(data, len)) + initial;
  return static_cast<uint16_t>(Fold64(s));
}

bool FillChecksums(uint8_t* f, size_t len) {
  constexpr size_t kEth = 14;
  if (len < kEth + 20 || Load16Be(f + 12) != 0x0800) return false;
  uint8_t* ip = f + kEth;
  if ((ip[0] >> 4) != 4) return false;
  size_t ihl = static_cast<size_t>(ip[0] & 0x0f) * 4;
  size_t total = Load16Be(ip + 2);
  if (ihl < 20 || total < ihl || kEth + total > len) return false;

  Store16Be(ip + 10, 0);
  Store16Be(ip + 10, static_cast<uint16_t>(~OnesSum(ip, ihl, 0)));

  bool fragment = (Load16Be(ip + 6) & 0x3fff) != 0;  // MF set or offset nonzero
  uint8_t proto = ip[9];
  if (fragment || (proto != 6 && proto != 17)) return true;
  size_t l4len = total - ihl;
  size_t off = proto == 6 ? 16 : 6;
  if (l4len < off + 2) return true;
  uint8_t* l4 = ip + ihl;
  Store16Be(l4 + off, 0);
  // Pseudo-header: source, destination, zero+protocol, transport length.
  uint32_t pseudo = static_cast<uint32_t>(Load16Be(ip + 12)) + Load16Be(ip + 14) +
                    Load16Be(ip + 16) + Load16Be(ip + 18) + proto +
                    static_cast<uint32_t>(l4len);
  uint16_t c = static_cast<uint16_t>(~OnesSum(l4, l4len, pseudo));
  if (proto == 17 && c == 0) c = 0xffff;  // RFC 768: zero means "no checksum"
  Store16Be(l4 + off, c);
  return true;
}

Napi::Value ChecksumJs(const Napi::CallbackInfo& info) {
  Napi::Uint8Array buf = BufferArg(info, "checksum(buf: Uint8Array, initial?: number)");
  uint16_t s = OnesSum(buf.Data(), buf.ByteLength(), ReadInitial(info, 1));
  return Napi::Number::New(info.Env(), static_cast<uint16_t>(~s));
}

Napi::Value OnesSumJs(const Napi::CallbackInfo& info) {
  Napi::Uint8Array buf = BufferArg(info, "onesSum(buf: Uint8Array, initial?: number)");
  return Napi::Number::New(info.Env(), OnesSum(buf.Data(), buf.ByteLength(), ReadInitial(info, 1)));
}

Napi::Value FillChecksumsJs(const Napi::CallbackInfo& info) {
  Napi::Uint8Array buf = BufferArg(info, "fillChecksums(frame: Uint8Array)");
  return Napi::Boolean::New(info.Env(), FillChecksums(buf.Data(), buf.ByteLength()));
}

}  // namespace intact
