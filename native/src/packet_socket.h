// One link's pair of AF_PACKET sockets.
//
// Receive: a TPACKET_V2 ring mapped into our memory and into JavaScript as one
// ArrayBuffer. The kernel writes each frame into its slot and flips the slot's status;
// on each wake-up (uv_poll on the fd) we hand JS up to kMaxBatch slot descriptors
// (offset, length, tp_status), call one function, then give the slots back. No syscall
// and no copy per frame.
//
// Why V2 and not V3: a V3 block reaches user space only when it is full or when its
// retire timer fires (a millisecond at the least), so at low rates every frame would
// wait up to that long; a TCP stack over veth has round trips of tens of microseconds.
// V2 wakes us per frame (epoll coalesces the wake-ups under load) at the cost of fixed
// slots, which must hold a 64 KB GSO super-segment, so a slot is ~64 KB.
//
// Send: a second socket with PACKET_VNET_HDR, sendmmsg with iovecs, MSG_DONTWAIT. A
// separate socket keeps the receive ring free of virtio-net headers and never receives
// (protocol 0). The receive socket sets PACKET_IGNORE_OUTGOING, so nothing we send
// comes back to us.
#pragma once

#include <linux/if_packet.h>
#include <napi.h>
#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "fd.h"

namespace intact {

class PacketSocket : public Napi::ObjectWrap<PacketSocket> {
 public:
  static Napi::Function Init(Napi::Env env);

  // new PacketSocket(ifindex, { filter?, ringFrames?, vnetHdr?, netns? })
  explicit PacketSocket(const Napi::CallbackInfo& info);
  ~PacketSocket() override;

  static constexpr unsigned kMaxBatch = 256;

 private:

  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Discard(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  static void OnPoll(uv_poll_t* handle, int status, int events);
  void Drain();
  void Rearm();
  void ReadDrops();
  void CloseAll();
  uint8_t* Slot(unsigned i) const;
  // Slot i's header if the kernel has handed the slot to us, else nullptr; and the
  // hand-back once we are done with it.
  struct tpacket2_hdr* OwnedSlot(unsigned i, uint32_t* status) const;
  void ReturnSlot(unsigned i);

  UniqueFd rx_;
  UniqueFd tx_;
  uint8_t* ring_ = nullptr;  // unmapped by the ArrayBuffer's finalizer
  size_t ring_len_ = 0;
  unsigned frame_size_ = 0;
  unsigned frames_per_block_ = 0;
  unsigned block_size_ = 0;
  unsigned frame_nr_ = 0;
  unsigned head_ = 0;  // next slot the kernel fills after the ones we hold
  bool vnet_ = false;
  bool closed_ = false;
  bool in_callback_ = false;
  uv_poll_t* poll_ = nullptr;

  Napi::FunctionReference on_batch_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
  Napi::Reference<Napi::ArrayBuffer> ring_ab_;
  Napi::Reference<Napi::Uint32Array> desc_;
  uint32_t* desc_data_ = nullptr;

  // Scratch for sendmmsg, kept to avoid allocating per call.
  std::vector<struct mmsghdr> msgs_;
  std::vector<struct iovec> iovs_;
  std::vector<uint8_t> vnet_hdrs_;

  double rx_frames_ = 0, rx_bytes_ = 0, rx_dropped_ = 0, rx_truncated_ = 0;
  double tx_frames_ = 0, tx_bytes_ = 0, tx_errors_ = 0;
  double wakeups_ = 0;
  double rx_errors_ = 0;
};

}  // namespace intact
