#include "ifinfo.h"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "errors.h"
#include "fd.h"
#include "netns.h"

namespace intact {

namespace {

// Names come from configuration files: show control bytes rather than print them.
std::string Printable(const std::string& name) {
  std::string out;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

Napi::Error NoSuchInterface(Napi::Env env, const std::string& name, int err) {
  return CodedError(env, "ERR_INTACT_NO_SUCH_INTERFACE",
                    "no such interface: '" + Printable(name) + "'", err, "ioctl");
}

}  // namespace

IfInfo GetInterfaceInfo(Napi::Env env, const std::string& name) {
  // The kernel would truncate or reject these; say plainly which name was wrong.
  if (name.empty() || name.size() >= IFNAMSIZ || name.find('\0') != std::string::npos ||
      name.find('/') != std::string::npos) {
    throw NoSuchInterface(env, name, ENODEV);
  }
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) throw SyscallError(env, "socket", errno);

  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::memcpy(ifr.ifr_name, name.data(), name.size());

  IfInfo out;
  if (::ioctl(fd.get(), SIOCGIFINDEX, &ifr) != 0) {
    int err = errno;
    if (err == ENODEV || err == ENXIO) throw NoSuchInterface(env, name, err);
    throw SyscallError(env, "ioctl", err, "SIOCGIFINDEX " + name);
  }
  out.index = ifr.ifr_ifindex;
  if (::ioctl(fd.get(), SIOCGIFHWADDR, &ifr) != 0) {
    throw SyscallError(env, "ioctl", errno, "SIOCGIFHWADDR " + name);
  }
  out.hwType = ifr.ifr_hwaddr.sa_family;
  std::memcpy(out.mac, ifr.ifr_hwaddr.sa_data, 6);
  if (::ioctl(fd.get(), SIOCGIFMTU, &ifr) != 0) {
    throw SyscallError(env, "ioctl", errno, "SIOCGIFMTU " + name);
  }
  out.mtu = ifr.ifr_mtu;
  return out;
}

Napi::Value InterfaceInfoJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    throw Napi::TypeError::New(env, "interfaceInfo(name: string, netns?: string)");
  }
  std::string name = info[0].As<Napi::String>();
  std::string netns;
  if (info.Length() > 1 && info[1].IsString()) netns = info[1].As<Napi::String>();

  IfInfo ifi;
  {
    NetnsGuard guard(env, netns);
    ifi = GetInterfaceInfo(env, name);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("name", Napi::String::New(env, name));
  out.Set("ifindex", Napi::Number::New(env, ifi.index));
  out.Set("mac", Napi::Buffer<uint8_t>::Copy(env, ifi.mac, 6));
  out.Set("mtu", Napi::Number::New(env, ifi.mtu));
  out.Set("hwType", Napi::Number::New(env, ifi.hwType));
  return out;
}

}  // namespace intact
