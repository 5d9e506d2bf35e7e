#!/usr/bin/env bash
# Zumen offline installer for Linux: installs from this bundle only and never uses the network.
#
#   bash install.sh [--prefix DIR] [--bin-dir DIR] [--apps-dir DIR] [--python PYTHON]
#                   [--no-launcher] [--no-doctor]
#
# 1. verifies every file against MANIFEST.sha256 (and refuses files added to wheels/ or models/),
# 2. creates (or reuses and repairs) a virtual environment in PREFIX/venv,
# 3. installs Zumen and its dependencies with `pip --isolated --no-index --find-links wheels/`,
# 4. installs the default model pack into PREFIX/venv/share/zumen/models/default,
# 5. links `zumen` and `zumen-desktop` into BIN_DIR and adds a desktop launcher,
# 6. runs `zumen doctor`.
# Defaults: PREFIX ~/.local/share/zumen/app, BIN_DIR ~/.local/bin, APPS_DIR (the launcher's folder)
# ~/.local/share/applications; as root: /opt/zumen, /usr/local/bin, /usr/share/applications.
# Running it again repairs a broken installation; running a newer bundle's install.sh upgrades it.
# Libraries (~/.local/share/zumen/library and any you chose), settings and adapted model packs
# (kept inside each library) are never touched.
# Exit status: 0 installed and all checks passed; 2 bundle damaged; 3 installed but `zumen doctor`
# found a problem (it prints the fix); 1 anything else.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
DATA_HOME="${XDG_DATA_HOME:-$HOME/.local/share}"
if [ "$(id -u)" = 0 ]; then
    PREFIX=/opt/zumen; BIN_DIR=/usr/local/bin; APPS_DIR=/usr/share/applications
else
    PREFIX="$DATA_HOME/zumen/app"; BIN_DIR="$HOME/.local/bin"; APPS_DIR="$DATA_HOME/applications"
fi
PY="${PYTHON:-python3}"
LAUNCHER=1
DOCTOR=1

say() { printf 'install: %s\n' "$*"; }
die() { code=$1; shift; printf 'install: %s\n' "$@" >&2; exit "$code"; }
usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0; }

while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX="$2"; shift 2 ;;
        --bin-dir) BIN_DIR="$2"; shift 2 ;;
        --apps-dir) APPS_DIR="$2"; shift 2 ;;
        --python) PY="$2"; shift 2 ;;
        --no-launcher) LAUNCHER=0; shift ;;
        --no-doctor) DOCTOR=0; shift ;;
        -h|--help) usage ;;
        *) die 1 "unknown option $1 (try --help)" ;;
    esac
done
mkdir -p "$PREFIX"
PREFIX="$(cd "$PREFIX" && pwd)"
VENV="$PREFIX/venv"

# 1. The bundle is what was built: every listed file matches, and nothing was added to wheels/ or
#    models/ (pip's --find-links would install an added wheel; a stray file elsewhere, such as a
#    file manager's thumbnail cache, is harmless and allowed).
cd "$HERE"
[ -f MANIFEST.sha256 ] || die 2 "MANIFEST.sha256 is missing: $HERE is not a complete Zumen bundle."
command -v sha256sum >/dev/null || die 1 "sha256sum (GNU coreutils) is needed to verify the bundle."
say "verifying $(wc -l < MANIFEST.sha256) files against MANIFEST.sha256 …"
if ! bad="$(sha256sum --quiet --strict -c MANIFEST.sha256 2>&1)"; then
    die 2 "the bundle is damaged or was changed after it was built:" "$bad" \
        "Nothing was installed. Copy the bundle again from the original archive (check the archive" \
        "against its .sha256 file: sha256sum -c zumen-*.sha256)."
fi
extra="$(comm -23 <(find wheels models -type f | LC_ALL=C sort) \
                  <(cut -c67- MANIFEST.sha256 | LC_ALL=C sort))"
if [ -n "$extra" ]; then
    die 2 "the bundle holds files that MANIFEST.sha256 does not list (added after it was built):" \
        "$extra" "Nothing was installed. Remove them or copy the bundle again from the original archive."
fi

# 2. Python: the bundle's wheels are built for one Python version.
command -v "$PY" >/dev/null || die 1 "no $PY found. Install Python 3 (Debian/Ubuntu: sudo apt-get install python3 python3-venv) or pass --python PATH."
want="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["python"])' bundle.json)"
have="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
[ "$want" = "$have" ] || die 1 "this bundle's wheels are for Python $want, but $PY is Python $have." \
    "Pass --python /path/to/python$want, or ask for a bundle built for Python $have" \
    "(installer/build --python-version $have --platform manylinux_2_28_x86_64 …)."
"$PY" -c 'import venv, ensurepip' 2>/dev/null || die 1 "Python's venv module is missing: sudo apt-get install python3-venv"
VERSION="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' bundle.json)"
REQUIREMENT="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["requirement"])' bundle.json)"
WITH_DEPS="$("$PY" -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["dependencies_included"]))' bundle.json)"

# 3. The virtual environment: reused (and every package reinstalled) when it works, else made anew.
PIP_ARGS=(--isolated --no-index --find-links "$HERE/wheels" --only-binary=:all:
          --disable-pip-version-check --no-cache-dir --no-warn-script-location)
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys; assert "%d.%d" % sys.version_info[:2] == sys.argv[1]' "$want" 2>/dev/null; then
    say "updating the installation in $PREFIX (every package is reinstalled from the bundle)"
    PIP_ARGS+=(--force-reinstall)
else
    rm -rf "$VENV"
    say "creating the environment $VENV"
    "$PY" -m venv "$VENV"
fi
# pip from the bundle first: the one Python's venv brings may be too old for the wheels' metadata
"$VENV/bin/python" -m pip install -q --isolated --no-index --find-links "$HERE/wheels" \
    --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
[ "$WITH_DEPS" = 1 ] || PIP_ARGS+=(--no-deps)  # a test bundle: the environment has the dependencies
say "installing $REQUIREMENT from the bundle (no network) …"
"$VENV/bin/python" -m pip install -q "${PIP_ARGS[@]}" "$REQUIREMENT" \
    || die 1 "pip could not install from the bundle (see above). Nothing outside $PREFIX was changed."

# 4. The model pack, swapped in whole.
PACK="$VENV/share/zumen/models/default"
mkdir -p "$(dirname "$PACK")"
rm -rf "$PACK.new" "$PACK.old"
cp -R "$HERE/models/default" "$PACK.new"
[ ! -e "$PACK" ] || mv "$PACK" "$PACK.old"
mv "$PACK.new" "$PACK"
rm -rf "$PACK.old"
say "model pack installed in $PACK"

# 5. Commands on the path, launcher, and what uninstall needs to know.
mkdir -p "$BIN_DIR"
for cmd in zumen zumen-desktop; do
    if [ -x "$VENV/bin/$cmd" ]; then ln -sfn "$VENV/bin/$cmd" "$BIN_DIR/$cmd"; fi
done
case ":$PATH:" in
    *":$BIN_DIR:"*) say "commands: zumen, zumen-desktop (in $BIN_DIR)" ;;
    *) say "commands are in $BIN_DIR, which is not on your PATH. Add it (then log in again):"
       say "    echo 'export PATH=\"$BIN_DIR:\$PATH\"' >> ~/.profile"
       say "or run $VENV/bin/zumen directly" ;;
esac
cp "$HERE/zumen.svg" "$PREFIX/zumen.svg"
cp "$HERE/uninstall.sh" "$PREFIX/uninstall.sh"
chmod +x "$PREFIX/uninstall.sh"
if [ "$LAUNCHER" = 1 ] && [ -x "$VENV/bin/zumen-desktop" ]; then
    mkdir -p "$APPS_DIR"
    sed -e "s|@EXEC@|$VENV/bin/zumen-desktop|" -e "s|@ICON@|$PREFIX/zumen.svg|" "$HERE/zumen.desktop" \
        > "$APPS_DIR/zumen.desktop"
    say "desktop launcher: $APPS_DIR/zumen.desktop"
fi
"$VENV/bin/python" - "$PREFIX/install.json" "$VERSION" "$BIN_DIR" "$APPS_DIR" "$LAUNCHER" <<'PYEOF'
import json, sys, time
path, version, bin_dir, apps_dir, launcher = sys.argv[1:]
json.dump({"version": version, "bin_dir": bin_dir, "apps_dir": apps_dir if launcher == "1" else None,
           "installed": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, open(path, "w"), indent=1)
PYEOF

# 6. Does it work here?
if [ "$DOCTOR" = 1 ]; then
    say "checking the installation (zumen doctor) …"
    "$VENV/bin/zumen" doctor || die 3 "Zumen $VERSION is installed in $PREFIX, but the checks above found problems;" \
        "each says how to fix it. Then run: zumen doctor"
fi
say "done: Zumen $VERSION in $PREFIX. Try: zumen demo   or   zumen-desktop --sample"
