#!/usr/bin/env bash
# Remove Zumen installed by install.sh. Libraries, settings and adapted model packs stay unless
# --remove-libraries is given (it removes the per-user default library, the sample and demo
# libraries and the desktop settings; libraries in folders you chose yourself always stay).
#
#   bash uninstall.sh [--prefix DIR] [--remove-libraries]
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
DATA_HOME="${XDG_DATA_HOME:-$HOME/.local/share}"
if [ -f "$HERE/install.json" ]; then PREFIX="$HERE"            # the copy install.sh left in PREFIX
elif [ "$(id -u)" = 0 ]; then PREFIX=/opt/zumen
else PREFIX="$DATA_HOME/zumen/app"; fi
REMOVE_LIBRARIES=0
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX="$2"; shift 2 ;;
        --remove-libraries) REMOVE_LIBRARIES=1; shift ;;
        -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "uninstall: unknown option $1" >&2; exit 1 ;;
    esac
done
say() { printf 'uninstall: %s\n' "$*"; }
[ -f "$PREFIX/install.json" ] || { echo "uninstall: no Zumen installation in $PREFIX (no install.json)" >&2; exit 1; }

field() {  # a value from install.json, without needing the environment we are about to remove
    sed -n "s/^ *\"$1\": \"\\(.*\\)\",\\{0,1\\}$/\\1/p" "$PREFIX/install.json"
}
BIN_DIR="$(field bin_dir)"
APPS_DIR="$(field apps_dir)"
for cmd in zumen zumen-desktop; do
    link="$BIN_DIR/$cmd"
    if [ -L "$link" ] && case "$(readlink "$link")" in "$PREFIX"/*) true ;; *) false ;; esac; then
        rm -f "$link"
    fi
done
if [ -n "$APPS_DIR" ] && [ -f "$APPS_DIR/zumen.desktop" ] && grep -q "$PREFIX/" "$APPS_DIR/zumen.desktop"; then
    rm -f "$APPS_DIR/zumen.desktop"
fi
rm -rf "$PREFIX"
say "removed $PREFIX"

LIBRARIES=("${ZUMEN_LIBRARY:-$DATA_HOME/zumen/library}" "$DATA_HOME/zumen/sample-library" "$DATA_HOME/zumen/demo-library")
SETTINGS="${XDG_CONFIG_HOME:-$HOME/.config}/Zumen"
if [ "$REMOVE_LIBRARIES" = 1 ]; then
    for lib in "${LIBRARIES[@]}" "$SETTINGS"; do
        if [ -e "$lib" ]; then rm -rf "$lib"; say "removed $lib"; fi
    done
else
    for lib in "${LIBRARIES[@]}" "$SETTINGS"; do
        if [ -e "$lib" ]; then say "kept $lib (remove it with --remove-libraries)"; fi
    done
fi
