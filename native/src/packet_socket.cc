#include "packet_socket.h"

#include <linux/filter.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "errors.h"
#include "netns.h"

// Older userspace headers lack the GSO status bit (kernel 5.x+ sets it).
#ifndef TP_STATUS_GSO_TCP
#define TP_STATUS_GSO_TCP (1 << 8)
#endif

namespace intact {

namespace {

// VnetHdr (linux/virtio_net.h cannot be included from C++: a member is
// named `class`). Little-endian fields, as PACKET_VNET_HDR uses on little-endian hosts.
struct VnetHdr {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
};
static_assert(sizeof(VnetHdr) == 10, "virtio_net_hdr is 10 bytes");

// A slot must hold a 64 KB GSO super-segment (IPv4 total length <= 65535, plus the
// Ethernet header) after the tpacket2 header and sockaddr_ll (tp_mac is ~66).
constexpr unsigned kFrameSize = 65536 + 256;
// Blocks are allocated as power-of-two page runs, so the block size is one too:
// 2 MiB holds 31 slots and wastes under 3%.
constexpr unsigned kBlockSize = 2u << 20;
constexpr unsigned kDefaultRingFrames = 256;
constexpr unsigned kMaxRingFrames = 8192;
constexpr unsigned kMaxSendmmsg = 1024;  // UIO_MAXIOV bounds vlen
constexpr int kSndBuf = 4 << 20;

// What one JS descriptor holds per frame: offset in the ring, length, tp_status.
constexpr unsigned kDescFields = 3;

struct RingMapping {
  void* addr;
  size_t len;
};

void UnmapRing(Napi::Env, void*, RingMapping* m) {
  ::munmap(m->addr, m->len);
  delete m;
}

void SetOpt(Napi::Env env, int fd, int level, int name, const void* val, socklen_t len,
            const char* what) {
  if (::setsockopt(fd, level, name, val, len) != 0) {
    throw SyscallError(env, "setsockopt", errno, what);
  }
}

UniqueFd OpenPacketSocket(Napi::Env env) {
  // Protocol 0: nothing is delivered until bind() names ETH_P_ALL, by which time the
  // filter is in place, so no unfiltered frame ever reaches the ring.
  UniqueFd fd(::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    int err = errno;
    if (err == EPERM || err == EACCES) {
      throw CodedError(env, "ERR_INTACT_NO_CAP_NET_RAW",
                       "opening an AF_PACKET socket needs CAP_NET_RAW (run as root, or "
                       "setcap cap_net_raw+ep on node)",
                       err, "socket");
    }
    throw SyscallError(env, "socket", err, "AF_PACKET");
  }
  return fd;
}

void Bind(Napi::Env env, int fd, int ifindex, uint16_t proto) {
  struct sockaddr_ll sll;
  std::memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(proto);
  sll.sll_ifindex = ifindex;
  if (::bind(fd, reinterpret_cast<struct sockaddr*>(&sll), sizeof sll) != 0) {
    int err = errno;
    if (err == ENODEV || err == ENXIO) {
      throw CodedError(env, "ERR_INTACT_NO_SUCH_INTERFACE",
                       "no such interface: index " + std::to_string(ifindex), err, "bind");
    }
    throw SyscallError(env, "bind", err);
  }
}

std::vector<struct sock_filter> ParseFilter(Napi::Env env, Napi::Value v) {
  std::vector<struct sock_filter> prog;
  if (v.IsUndefined() || v.IsNull()) return prog;
  if (!v.IsArray()) throw Napi::TypeError::New(env, "filter must be an array of {code, jt, jf, k}");
  Napi::Array arr = v.As<Napi::Array>();
  uint32_t n = arr.Length();
  if (n == 0 || n > BPF_MAXINSNS) {
    throw Napi::RangeError::New(env, "filter must have 1.." + std::to_string(BPF_MAXINSNS) +
                                         " instructions");
  }
  prog.reserve(n);
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value iv = arr.Get(i);
    if (!iv.IsObject()) throw Napi::TypeError::New(env, "filter instruction is not an object");
    Napi::Object ins = iv.As<Napi::Object>();
    auto field = [&](const char* name) -> uint32_t {
      Napi::Value f = ins.Get(name);
      if (!f.IsNumber()) {
        throw Napi::TypeError::New(env, std::string("filter instruction lacks numeric ") + name);
      }
      return f.As<Napi::Number>().Uint32Value();
    };
    struct sock_filter ins_c;
    ins_c.code = static_cast<uint16_t>(field("code"));
    ins_c.jt = static_cast<uint8_t>(field("jt"));
    ins_c.jf = static_cast<uint8_t>(field("jf"));
    ins_c.k = field("k");
    prog.push_back(ins_c);
  }
  return prog;
}

}  // namespace


Napi::Function PacketSocket::Init(Napi::Env env) {
  return DefineClass(env, "PacketSocket",
                     {
                         InstanceMethod<&PacketSocket::Start>("start"),
                         InstanceMethod<&PacketSocket::Send>("send"),
                         InstanceMethod<&PacketSocket::Stats>("stats"),
                         InstanceMethod<&PacketSocket::Discard>("discard"),
                         InstanceMethod<&PacketSocket::Close>("close"),
                     });
}

PacketSocket::PacketSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PacketSocket>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    throw Napi::TypeError::New(env, "new PacketSocket(ifindex: number, options?: object)");
  }
  int ifindex = info[0].As<Napi::Number>().Int32Value();
  Napi::Object opts = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>()
                                                              : Napi::Object::New(env);
  std::vector<struct sock_filter> filter = ParseFilter(env, opts.Get("filter"));
  unsigned ring_frames = kDefaultRingFrames;
  if (opts.Get("ringFrames").IsNumber()) {
    ring_frames = std::clamp(opts.Get("ringFrames").As<Napi::Number>().Uint32Value(), 1u,
                             kMaxRingFrames);
  }
  bool want_vnet = !opts.Get("vnetHdr").IsBoolean() || opts.Get("vnetHdr").As<Napi::Boolean>();
  std::string netns;
  if (opts.Get("netns").IsString()) netns = opts.Get("netns").As<Napi::String>();

  frame_size_ = kFrameSize;
  block_size_ = kBlockSize;
  frames_per_block_ = block_size_ / frame_size_;
  unsigned blocks = (ring_frames + frames_per_block_ - 1) / frames_per_block_;
  frame_nr_ = blocks * frames_per_block_;
  size_t ring_len = static_cast<size_t>(block_size_) * blocks;

  UniqueFd rx, tx;
  void* map = MAP_FAILED;
  {
    NetnsGuard guard(env, netns);
    rx = OpenPacketSocket(env);
    int version = TPACKET_V2;
    SetOpt(env, rx.get(), SOL_PACKET, PACKET_VERSION, &version, sizeof version, "PACKET_VERSION");
    if (!filter.empty()) {
      struct sock_fprog fprog;
      fprog.len = static_cast<unsigned short>(filter.size());
      fprog.filter = filter.data();
      SetOpt(env, rx.get(), SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog, "SO_ATTACH_FILTER");
    }
    int one = 1;
    SetOpt(env, rx.get(), SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one,
           "PACKET_IGNORE_OUTGOING");
    struct tpacket_req req;
    req.tp_block_size = block_size_;
    req.tp_block_nr = blocks;
    req.tp_frame_size = frame_size_;
    req.tp_frame_nr = frame_nr_;
    SetOpt(env, rx.get(), SOL_PACKET, PACKET_RX_RING, &req, sizeof req, "PACKET_RX_RING");
    map = ::mmap(nullptr, ring_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, rx.get(), 0);
    if (map == MAP_FAILED) throw SyscallError(env, "mmap", errno, "PACKET_RX_RING");
    // From here the mapping must be released on every path: hand it to a finalizer.
    auto* mapping = new RingMapping{map, ring_len};
    Napi::ArrayBuffer ab;
    try {
      ab = Napi::ArrayBuffer::New(env, map, ring_len, UnmapRing, mapping);
    } catch (...) {
      ::munmap(map, ring_len);
      delete mapping;
      throw;
    }
    ring_ = static_cast<uint8_t*>(map);
    ring_len_ = ring_len;
    ring_ab_ = Napi::Persistent(ab);
    info.This().As<Napi::Object>().Set("ring", ab);

    tx = OpenPacketSocket(env);
    if (want_vnet) {
      // Some kernels or devices may refuse; then the link simply has no offloads.
      vnet_ = ::setsockopt(tx.get(), SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) == 0;
    }
    if (::setsockopt(tx.get(), SOL_SOCKET, SO_SNDBUFFORCE, &kSndBuf, sizeof kSndBuf) != 0) {
      ::setsockopt(tx.get(), SOL_SOCKET, SO_SNDBUF, &kSndBuf, sizeof kSndBuf);
    }
    Bind(env, tx.get(), ifindex, 0);
    Bind(env, rx.get(), ifindex, ETH_P_ALL);
  }
  rx_ = std::move(rx);
  tx_ = std::move(tx);

  Napi::Uint32Array desc = Napi::Uint32Array::New(env, kMaxBatch * kDescFields);
  desc_data_ = desc.Data();
  desc_ = Napi::Persistent(desc);
  Napi::Object self = info.This().As<Napi::Object>();
  self.Set("desc", desc);
  self.Set("vnetHdr", Napi::Boolean::New(env, vnet_));
  self.Set("frameSize", Napi::Number::New(env, frame_size_));
  self.Set("ringFrames", Napi::Number::New(env, frame_nr_));
  self.Set("maxBatch", Napi::Number::New(env, kMaxBatch));
}

PacketSocket::~PacketSocket() { CloseAll(); }

uint8_t* PacketSocket::Slot(unsigned i) const {
  return ring_ + static_cast<size_t>(i / frames_per_block_) * block_size_ +
         static_cast<size_t>(i % frames_per_block_) * frame_size_;
}

struct tpacket2_hdr* PacketSocket::OwnedSlot(unsigned i, uint32_t* status) const {
  auto* h = reinterpret_cast<struct tpacket2_hdr*>(Slot(i));
  uint32_t st = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
  if ((st & TP_STATUS_USER) == 0) return nullptr;
  *status = st;
  return h;
}

void PacketSocket::ReturnSlot(unsigned i) {
  auto* h = reinterpret_cast<struct tpacket2_hdr*>(Slot(i));
  __atomic_store_n(&h->tp_status, static_cast<uint32_t>(TP_STATUS_KERNEL), __ATOMIC_RELEASE);
}

Napi::Value PacketSocket::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) throw CodedError(env, "ERR_INTACT_LINK_CLOSED", "link is closed");
  if (info.Length() < 1 || !info[0].IsFunction()) {
    throw Napi::TypeError::New(env, "start(onBatch: (count: number) => void)");
  }
  on_batch_ = Napi::Persistent(info[0].As<Napi::Function>());
  if (poll_ != nullptr) return env.Undefined();
  if (!async_context_) async_context_ = std::make_unique<Napi::AsyncContext>(env, "intact:link");

  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    throw CodedError(env, "ERR_INTACT_SYSCALL", "no libuv loop for this environment");
  }
  auto* poll = new uv_poll_t;
  int r = uv_poll_init(loop, poll, rx_.get());
  if (r != 0) {
    delete poll;
    throw SyscallError(env, "uv_poll_init", -r);
  }
  poll->data = this;
  r = uv_poll_start(poll, UV_READABLE, OnPoll);
  if (r != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(poll),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    throw SyscallError(env, "uv_poll_start", -r);
  }
  poll_ = poll;
  // While we poll, the JS object must stay alive for OnPoll to call into it.
  Ref();
  return env.Undefined();
}

void PacketSocket::OnPoll(uv_poll_t* handle, int status, int events) {
  auto* self = static_cast<PacketSocket*>(handle->data);
  if (self == nullptr) return;
  if (status < 0) self->Rearm();
  self->Drain();
}

void PacketSocket::Rearm() {
  // libuv stops a poll handle that reports POLLERR. The error is the socket's pending
  // sk_err (ENETDOWN when the interface goes down; the kernel re-attaches us when it
  // comes back up): read it to clear it, count it, and keep polling.
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(rx_.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  rx_errors_++;
  if (!closed_ && poll_ != nullptr) uv_poll_start(poll_, UV_READABLE, OnPoll);
}

void PacketSocket::Drain() {
  if (closed_ || in_callback_) return;
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  wakeups_++;

  unsigned scanned = 0;
  unsigned n = 0;
  unsigned idx = head_;
  while (scanned < kMaxBatch) {
    uint32_t st = 0;
    auto* h = OwnedSlot(idx, &st);
    if (h == nullptr) break;
    scanned++;
    if (h->tp_snaplen < h->tp_len) {
      // Bigger than a slot: a partial frame is worse than none to a TCP stack.
      rx_truncated_++;
    } else {
      size_t off = static_cast<size_t>(Slot(idx) - ring_) + h->tp_mac;
      desc_data_[n * kDescFields] = static_cast<uint32_t>(off);
      desc_data_[n * kDescFields + 1] = h->tp_snaplen;
      desc_data_[n * kDescFields + 2] = st;
      rx_frames_++;
      rx_bytes_ += h->tp_snaplen;
      n++;
    }
    idx = (idx + 1) % frame_nr_;
  }

  if (scanned == 0) return;

  // The callback scope closes (running nextTicks and microtasks) only after the slots
  // are back with the kernel: a promise continuation that sends a burst which loops
  // back to us must find free slots, not the ones we were about to release.
  Napi::CallbackScope cb_scope(env, *async_context_);
  if (n > 0 && !on_batch_.IsEmpty()) {
    in_callback_ = true;
    try {
      on_batch_.Call(Value(), {Napi::Number::New(env, n)});
    } catch (const Napi::Error& e) {
      // Nobody above us can catch it in a uv callback: make it an uncaught exception.
      napi_fatal_exception(env, e.Value());
    }
    in_callback_ = false;
  }
  // close() inside the callback may have dropped the ring's last reference.
  if (closed_) return;

  for (unsigned i = 0, s = head_; i < scanned; i++, s = (s + 1) % frame_nr_) ReturnSlot(s);
  head_ = idx;
}

Napi::Value PacketSocket::Discard(const Napi::CallbackInfo& info) {
  // Hands every frame the kernel has put in the ring back unread: a backup that kept
  // its socket open while passive must not take frames from before its takeover for
  // current ones. At most one ring's worth, so a busy link cannot keep us here.
  Napi::Env env = info.Env();
  if (closed_) throw CodedError(env, "ERR_INTACT_LINK_CLOSED", "link is closed");
  if (in_callback_) throw CodedError(env, "ERR_INTACT_LINK_BUSY", "discard() from inside the frames callback");
  uint32_t n = 0;
  uint32_t st = 0;
  for (unsigned i = 0; i < frame_nr_ && OwnedSlot(head_, &st) != nullptr; i++) {
    ReturnSlot(head_);
    head_ = (head_ + 1) % frame_nr_;
    n++;
  }
  return Napi::Number::New(env, n);
}

Napi::Value PacketSocket::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) throw CodedError(env, "ERR_INTACT_LINK_CLOSED", "link is closed");
  if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsTypedArray()) {
    throw Napi::TypeError::New(env,
                               "send(pieces: Uint8Array[], counts: Uint32Array, vnet?: Uint16Array)");
  }
  Napi::Array pieces = info[0].As<Napi::Array>();
  Napi::Uint32Array counts = info[1].As<Napi::Uint32Array>();
  const uint16_t* vnet = nullptr;
  size_t nframes = counts.ElementLength();
  if (info.Length() > 2 && info[2].IsTypedArray()) {
    Napi::Uint16Array v = info[2].As<Napi::Uint16Array>();
    if (v.ElementLength() < nframes * 6) throw Napi::RangeError::New(env, "vnet array too short");
    vnet = v.Data();
  }
  uint32_t npieces = pieces.Length();

  size_t hdr_len = vnet_ ? sizeof(VnetHdr) : 0;
  msgs_.resize(nframes);
  iovs_.resize(static_cast<size_t>(npieces) + nframes);
  vnet_hdrs_.assign(nframes * sizeof(VnetHdr), 0);
  std::vector<size_t> lens(nframes, 0);

  uint32_t p = 0;
  size_t iv = 0;
  for (size_t f = 0; f < nframes; f++) {
    uint32_t c = counts.Data()[f];
    if (c == 0 || c > IOV_MAX - 1 || p + c > npieces) {
      throw Napi::RangeError::New(env, "piece counts do not match the pieces");
    }
    struct iovec* first = &iovs_[iv];
    if (vnet_) {
      auto* h = reinterpret_cast<VnetHdr*>(&vnet_hdrs_[f * sizeof(VnetHdr)]);
      if (vnet != nullptr) {
        const uint16_t* m = vnet + f * 6;
        h->flags = static_cast<uint8_t>(m[0]);
        h->gso_type = static_cast<uint8_t>(m[1]);
        h->hdr_len = m[2];
        h->gso_size = m[3];
        h->csum_start = m[4];
        h->csum_offset = m[5];
      }
      iovs_[iv].iov_base = h;
      iovs_[iv].iov_len = hdr_len;
      iv++;
    }
    for (uint32_t k = 0; k < c; k++, p++) {
      Napi::Value pv = pieces.Get(p);
      if (!pv.IsTypedArray()) throw Napi::TypeError::New(env, "frame piece is not a Uint8Array");
      Napi::Uint8Array b = pv.As<Napi::Uint8Array>();
      iovs_[iv].iov_base = b.Data();
      iovs_[iv].iov_len = b.ByteLength();
      lens[f] += b.ByteLength();
      iv++;
    }
    struct msghdr& mh = msgs_[f].msg_hdr;
    std::memset(&msgs_[f], 0, sizeof msgs_[f]);
    mh.msg_iov = first;
    mh.msg_iovlen = c + (vnet_ ? 1 : 0);
  }

  size_t next = 0;
  while (next < nframes) {
    unsigned vlen = static_cast<unsigned>(std::min<size_t>(nframes - next, kMaxSendmmsg));
    int r = ::sendmmsg(tx_.get(), &msgs_[next], vlen, MSG_DONTWAIT);
    if (r > 0) {
      for (int k = 0; k < r; k++) tx_bytes_ += lens[next + k];
      tx_frames_ += r;
      next += r;
      continue;
    }
    int err = r == 0 ? EAGAIN : errno;
    if (err == EINTR) continue;
    // Socket buffer full: the rest is the caller's to send again later.
    if (err == EAGAIN || err == EWOULDBLOCK) break;
    // The kernel refused this one frame (too big, bad offload header, qdisc drop,
    // interface down): lost as on a wire, counted, and the batch goes on.
    if (err == ENOBUFS || err == EMSGSIZE || err == EINVAL || err == ENETDOWN ||
        err == ENXIO || err == ENODEV || err == EFAULT) {
      tx_errors_++;
      next++;
      continue;
    }
    throw SyscallError(env, "sendmmsg", err);
  }
  return Napi::Number::New(env, static_cast<double>(next));
}

void PacketSocket::ReadDrops() {
  if (!rx_) return;
  struct tpacket_stats st;
  socklen_t len = sizeof st;
  // The kernel resets these counters on every read: accumulate.
  if (::getsockopt(rx_.get(), SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) {
    rx_dropped_ += st.tp_drops;
  }
}

Napi::Value PacketSocket::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ReadDrops();
  Napi::Object o = Napi::Object::New(env);
  o.Set("rxFrames", rx_frames_);
  o.Set("rxBytes", rx_bytes_);
  o.Set("rxDropped", rx_dropped_);
  o.Set("rxTruncated", rx_truncated_);
  o.Set("txFrames", tx_frames_);
  o.Set("txBytes", tx_bytes_);
  o.Set("txErrors", tx_errors_);
  o.Set("wakeups", wakeups_);
  o.Set("rxErrors", rx_errors_);
  return o;
}

Napi::Value PacketSocket::Close(const Napi::CallbackInfo& info) {
  CloseAll();
  return info.Env().Undefined();
}

void PacketSocket::CloseAll() {
  if (closed_) return;
  closed_ = true;
  ReadDrops();
  bool was_polling = poll_ != nullptr;
  if (poll_ != nullptr) {
    // Stop polling before the fd closes, as libuv requires.
    uv_poll_stop(poll_);
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }
  if (ring_ != nullptr) {
    // JS may still hold views into the ring, so the addresses must stay valid until
    // the ArrayBuffer is collected (its finalizer unmaps). Swap the kernel's pages for
    // lazily allocated zero pages now: the ring's memory is freed at close, and a
    // stale view reads zeros instead of the next frames or a fault.
    ::mmap(ring_, ring_len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  }
  rx_.reset();
  tx_.reset();
  ring_ = nullptr;
  desc_data_ = nullptr;
  on_batch_.Reset();
  ring_ab_.Reset();
  // async_context_ stays until the destructor: close() may run inside its scope.
  desc_.Reset();
  if (was_polling) Unref();
}

}  // namespace intact
