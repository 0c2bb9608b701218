// Module entry: the whole surface is declared for TypeScript in native/index.ts.
#include <napi.h>

#include "checksum.h"
#include "ifinfo.h"
#include "packet_socket.h"
#include "sched.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("PacketSocket", intact::PacketSocket::Init(env));
  exports.Set("interfaceInfo", Napi::Function::New(env, intact::InterfaceInfoJs, "interfaceInfo"));
  exports.Set("checksum", Napi::Function::New(env, intact::ChecksumJs, "checksum"));
  exports.Set("onesSum", Napi::Function::New(env, intact::OnesSumJs, "onesSum"));
  exports.Set("fillChecksums", Napi::Function::New(env, intact::FillChecksumsJs, "fillChecksums"));
  exports.Set("setRealtime", Napi::Function::New(env, intact::SetRealtimeJs, "setRealtime"));
  exports.Set("setNormal", Napi::Function::New(env, intact::SetNormalJs, "setNormal"));
  exports.Set("yield", Napi::Function::New(env, intact::YieldJs, "yield"));
  return exports;
}

}  // namespace

NODE_API_MODULE(intact_native, Init)
