#!/usr/bin/env bash
# End-to-end check of the real offline bundle (it fetches every dependency wheel at build time;
# tests/test_bundle_full.py runs it for the workstation profile as a slow test):
#
#   bash installer/check_bundle.sh [workstation|admin] [WORK_DIR]
#
# 1. builds the bundle and its archive (installer/build), timed;
# 2. unpacks the archive into a fresh folder, as if copied from a USB stick;
# 3. installs it into a fresh prefix and a fresh HOME inside a network namespace with no network
#    (unshare -n), traced with strace for network connects (none expected), timed;
# 4. runs `zumen demo --json` (hits expected) and `zumen doctor --json` (all checks pass), still
#    with no network;
# 5. runs install.sh again (the repair path), timed; then uninstall.sh;
# and prints the figures (bundle and archive sizes, times, installed size). WORK_DIR (default
# /tmp/zumen-bundle-check) is removed at the start; delete it afterwards, it holds ~2 GB.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE="${1:-workstation}"
WORK="${2:-/tmp/zumen-bundle-check}"
PY="${PYTHON:-.venv/bin/python}"
BASE_PY="$("$PY" -c 'import sys; print(sys._base_executable)')"  # a plain Python, like a workstation's
OFFLINE=(unshare -n)
unshare -n true 2>/dev/null || { echo "check: unshare -n is not available here (needs root)"; exit 1; }

rm -rf "$WORK"
mkdir -p "$WORK/out" "$WORK/usb" "$WORK/home"
t0=$(date +%s.%N)
PYTHON="$PY" installer/build --profile "$PROFILE" --out "$WORK/out"
t1=$(date +%s.%N)
archive="$(ls "$WORK"/out/zumen-*-"$PROFILE".tar.gz)"
tar -xzf "$archive" -C "$WORK/usb"
bundle="$(ls -d "$WORK"/usb/zumen-*-"$PROFILE")"

export HOME="$WORK/home" XDG_DATA_HOME="$WORK/home/data" XDG_CONFIG_HOME="$WORK/home/config"
unset ZUMEN_LIBRARY ZUMEN_DEFAULT_PACK
prefix="$WORK/prefix"
trace=()
command -v strace >/dev/null && trace=(strace -f -qq -e trace=connect -e signal=none -o "$WORK/connect.log")
t2=$(date +%s.%N)
"${OFFLINE[@]}" "${trace[@]}" env PYTHON="$BASE_PY" bash "$bundle/install.sh" --prefix "$prefix" \
    --bin-dir "$HOME/bin" --apps-dir "$HOME/apps" | tee "$WORK/install.log"
t3=$(date +%s.%N)
net="not traced (no strace)"
if [ -f "$WORK/connect.log" ]; then
    net="$(grep -c -E 'AF_INET6?' "$WORK/connect.log" || true) internet-socket connects (unix sockets: $(grep -c AF_UNIX "$WORK/connect.log" || true))"
fi

"${OFFLINE[@]}" "$HOME/bin/zumen" demo --json > "$WORK/demo.json"
"${OFFLINE[@]}" "$HOME/bin/zumen" doctor --json > "$WORK/doctor.json"
"$BASE_PY" - "$WORK/demo.json" "$WORK/doctor.json" <<'EOF'
import json, sys
demo = json.load(open(sys.argv[1]))
keyword = [len(r["hits"]) for r in demo["keyword"]]
files = [len(r["related"]["hits"]) + len(r["similar"]["hits"]) for r in demo["file"]]
print(f"check: demo: keyword queries {keyword} hits, drawing queries {files} hits")
assert all(keyword) and all(files), "a demo query found nothing"
doctor = json.load(open(sys.argv[2]))
for c in doctor["checks"]:
    print(f"check: doctor {c['status']:4} {c['name']}: {c['detail']}")
assert doctor["ok"], "zumen doctor found a problem"
EOF
t4=$(date +%s.%N)
"${OFFLINE[@]}" env PYTHON="$BASE_PY" bash "$bundle/install.sh" --prefix "$prefix" --bin-dir "$HOME/bin" \
    --apps-dir "$HOME/apps" --no-doctor > "$WORK/repair.log"
t5=$(date +%s.%N)
installed="$(du -sm "$prefix" | cut -f1)"
bash "$prefix/uninstall.sh" > "$WORK/uninstall.log"

secs() { "$BASE_PY" -c "print(f'{$2 - $1:.0f} s')"; }
echo "check: profile $PROFILE"
echo "check: bundle folder $(du -sm "$bundle" | cut -f1) MB ($(wc -l < "$bundle/MANIFEST.sha256") files), archive $(du -sm "$archive" | cut -f1) MB"
echo "check: build $(secs "$t0" "$t1"); offline install incl. doctor $(secs "$t2" "$t3"); repair (rerun) $(secs "$t4" "$t5")"
echo "check: installed size $installed MB; network during install: $net"
