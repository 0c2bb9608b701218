#!/usr/bin/env bash
# Installs and builds everything intact needs on a fresh Debian machine, as root.
# Idempotent and quick when nothing is missing: both README commands start with it.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }

# Debian packages: ip (iproute2) for the lab, nft (nftables) for cuts and loss,
# ethtool to switch veth offloads, curl as a real client, ping for lab checks, tcpdump to count RSTs at
# the client, taskset (util-linux) for the scenarios' --cpus, g++/make/python3 for node-gyp.
need=()
command -v ip >/dev/null || need+=(iproute2)
command -v nft >/dev/null || need+=(nftables)
command -v ethtool >/dev/null || need+=(ethtool)
command -v curl >/dev/null || need+=(curl)
command -v ping >/dev/null || need+=(iputils-ping)
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v taskset >/dev/null || need+=(util-linux)
command -v g++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    say "missing Debian packages: ${need[*]} (run as root, or install them: apt-get install -y ${need[*]})" >&2
    exit 1
  fi
  say "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# npm packages from the lockfile; the package's install script builds the addon.
stamp=node_modules/.intact-installed
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  say "installing npm packages (npm ci) and building the native addon"
  npm ci --no-audit --no-fund --loglevel=error
  # tap builds its runner from the plugins .taprc names: without this, the first run
  # on a fresh install still loads @tapjs/typescript, which TypeScript 7 breaks.
  npx --no-install tap build >/dev/null
  touch "$stamp"
fi
# Built, and not older than its sources (a checkout that pulled new native code).
addon=$(ls build/Release/*.node 2>/dev/null | head -1 || true)
if [ -z "$addon" ] || [ -n "$(find native/src binding.gyp -newer "$addon" 2>/dev/null | head -1)" ]; then
  say "building the native addon"
  npx --no-install node-gyp rebuild >/dev/null
fi

say "compiling TypeScript"
npx --no-install tsc -p tsconfig.json
say "ready"
