#!/usr/bin/env bash
# Screenshots of the desktop app's main states, on the bundled sample library, under Xvfb.
#
#   installer/screenshots.sh [OUT_DIR] [extra args for python -m desktop.screenshots]
#
# Needs (Debian): xvfb xauth (xvfb-run); fonts-noto-cjk (Japanese text; without it Qt draws boxes);
# the X11 libraries Qt's xcb plugin loads: libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1
# libxcb-image0 libxcb-render-util0 libxcb-xkb1 libxkbcommon-x11-0 libxcb-shape0 libxcb-randr0.
# Installs them with apt-get when missing and running as root. Falls back to Qt's offscreen
# platform when Xvfb cannot be had. Output: docs/screenshots/*.png and timings.json.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-docs/screenshots}"
shift || true
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3

XCB_LIBS=(libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xkb1
          libxkbcommon-x11-0 libxcb-shape0 libxcb-randr0)
missing=()
command -v xvfb-run >/dev/null || missing+=(xvfb xauth)
QXCB="$("$PY" -c 'import PySide6, pathlib; print(pathlib.Path(PySide6.__file__).parent / "Qt/plugins/platforms/libqxcb.so")')"
if [ ! -e "$QXCB" ] || ldd "$QXCB" | grep -q "not found" || ! ldconfig -p | grep -q libxcb-cursor; then
    missing+=("${XCB_LIBS[@]}")
fi
fc-list :lang=ja 2>/dev/null | grep -q . || missing+=(fonts-noto-cjk)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing: ${missing[*]}"
    apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null || echo "apt-get failed; continuing"
fi
fc-list :lang=ja | grep -q . || echo "WARNING: no Japanese font; install fonts-noto-cjk or Japanese shows as boxes" >&2

SAMPLES="resources/sample_library"
ARGS=(--out "$OUT")
[ -d "$SAMPLES" ] && ARGS+=(--samples "$SAMPLES") || { echo "no $SAMPLES: using the fake engine"; ARGS+=(--fake); }

if command -v xvfb-run >/dev/null && ! ldd "$QXCB" | grep -q "not found" && ldconfig -p | grep -q libxcb-cursor; then
    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1600x1000x24" "$PY" -m desktop.screenshots "${ARGS[@]}" "$@"
else
    QT_QPA_PLATFORM=offscreen "$PY" -m desktop.screenshots "${ARGS[@]}" "$@"
fi
ls -1 "$OUT"
