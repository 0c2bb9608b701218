#!/usr/bin/env bash
# Checks the Debian tools the lab needs; with --install, installs the missing ones.
#   ip -> iproute2, nft -> nftables, ping -> iputils-ping, ethtool -> ethtool
set -euo pipefail
declare -A pkg=([ip]=iproute2 [nft]=nftables [ping]=iputils-ping [ethtool]=ethtool)
PATH="$PATH:/usr/sbin:/sbin"
missing=()
for tool in ip nft ping ethtool; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${pkg[$tool]}")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "lab tools: all present (ip, nft, ping, ethtool)"
  exit 0
fi
if [ "${1:-}" = "--install" ]; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
else
  echo "lab tools missing: install the Debian packages: ${missing[*]} (or run $0 --install)" >&2
  exit 1
fi
