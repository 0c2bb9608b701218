{
  # The packet addon: AF_PACKET sockets, batch receive and send, checksums.
  # Built by `npm install` (package.json "install": "node-gyp rebuild").
  "targets": [
    {
      "target_name": "intact_native",
      "sources": [
        "native/src/addon.cc",
        "native/src/checksum.cc",
        "native/src/errors.cc",
        "native/src/ifinfo.cc",
        "native/src/netns.cc",
        "native/src/packet_socket.cc",
        "native/src/sched.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-O3", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "conditions": [
        ["OS!='linux'", { "sources!": ["native/src/packet_socket.cc", "native/src/netns.cc"] }]
      ]
    }
  ]
}
