// An interface's index, MAC and MTU, read with ioctl in the current namespace.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace intact {

struct IfInfo {
  int index = 0;
  uint8_t mac[6] = {0, 0, 0, 0, 0, 0};
  int mtu = 0;
  int hwType = 0;  // ARPHRD_*: 1 is Ethernet
};

// Throws ERR_INTACT_NO_SUCH_INTERFACE (naming the interface) when it does not exist.
IfInfo GetInterfaceInfo(Napi::Env env, const std::string& name);

// JS: interfaceInfo(name, netns?) -> { name, ifindex, mac, mtu, hwType }
Napi::Value InterfaceInfoJs(const Napi::CallbackInfo& info);

}  // namespace intact
