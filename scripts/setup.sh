#!/usr/bin/env bash
# Installs what l2rw-gpu needs, only what is missing, and says what it does.
#   - npm packages (npm ci / npm install) when node_modules is absent or stale;
#   - Mesa lavapipe (Vulkan on the CPU) from bookworm-backports, so Dawn in Node has an adapter,
#     unless Node already finds a WebGPU adapter (a real GPU, or lavapipe already there);
#   - Chromium (SwiftShader WebGPU) for the browser demo and the headless-Chrome tests.
# Safe to run again: each step checks first. Set L2RW_SKIP_SYSTEM=1 to skip the apt steps.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }

# 1. npm packages --------------------------------------------------------------------------------
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
   || [ package.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
fi

[ "${L2RW_SKIP_SYSTEM:-0}" = 1 ] && exit 0

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }
apt_updated=0
apt_update() { if [ $apt_updated = 0 ]; then say "apt-get update"; apt-get update -qq; apt_updated=1; fi; }

# 2. A WebGPU adapter for Node (Dawn needs a Vulkan driver) ---------------------------------------
if node scripts/probe-adapter.mjs >/dev/null 2>&1; then
  say "Node WebGPU adapter: $(node scripts/probe-adapter.mjs 2>/dev/null)"
elif can_apt; then
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  if [ "$codename" = bookworm ]; then
    # Bookworm's own Mesa 22 lavapipe is rejected by Dawn; backports has Mesa 25.
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
      [ -n "$uri" ] || uri=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
      say "adding bookworm-backports ($uri)"
      printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$uri" > /etc/apt/sources.list.d/backports.sources
    fi
    apt_update
    say "installing Mesa lavapipe (mesa-vulkan-drivers from bookworm-backports)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers >/dev/null
  else
    apt_update
    say "installing Mesa lavapipe (mesa-vulkan-drivers)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mesa-vulkan-drivers >/dev/null
  fi
  if node scripts/probe-adapter.mjs >/dev/null 2>&1; then
    say "Node WebGPU adapter: $(node scripts/probe-adapter.mjs 2>/dev/null)"
  else
    say "WARNING: still no WebGPU adapter in Node; see README (Running on a machine with a GPU)"
  fi
else
  say "no WebGPU adapter in Node and no root/apt to install Mesa lavapipe: see README"
fi

# 3. Chromium for the browser demo and tests -------------------------------------------------------
if [ -n "${CHROME_PATH:-}" ] && [ -x "${CHROME_PATH}" ]; then
  say "Chromium: $CHROME_PATH"
elif command -v chromium >/dev/null 2>&1; then
  say "Chromium: $(command -v chromium)"
elif can_apt; then
  apt_update
  say "installing Chromium (browser WebGPU through SwiftShader)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  say "no Chromium and no root/apt: browser tests will fail; set CHROME_PATH to a Chrome binary"
fi
