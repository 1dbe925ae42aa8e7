#!/usr/bin/env bash
# Setup for `npm run bench` (idempotent): the PyTorch peer (bench/peers/pytorch.ts) needs a python3
# that imports torch. Where neither python3 on PATH nor Debian's /usr/bin/python3 has it, and this is
# root with apt-get, install Debian's python3-torch (CPU build, large); otherwise print a note and go
# on: the bench then skips the PyTorch peer with a note. Never fails the bench.
set -u

has_torch() {
  local py
  for py in ${L2RW_PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import torch' >/dev/null 2>&1; then
      echo "bench-setup: $py imports torch $("$py" -c 'import torch; print(torch.__version__)' 2>/dev/null) (PyTorch peer enabled)"
      return 0
    fi
  done
  return 1
}

if has_torch; then exit 0; fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "bench-setup: no python3 with torch; installing python3-torch with apt-get (large, once) for the PyTorch peer"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y --no-install-recommends python3-torch; then
    echo "bench-setup: apt-get install failed; running apt-get update and trying again"
    apt-get update -q && apt-get install -y --no-install-recommends python3-torch || true
  fi
  has_torch || echo "bench-setup: python3-torch could not be installed; the bench skips the PyTorch peer"
else
  echo "bench-setup: no python3 with torch (install python3-torch, or pip install torch, or set L2RW_PYTHON); the bench skips the PyTorch peer"
fi
exit 0
