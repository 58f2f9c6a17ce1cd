#!/usr/bin/env bash
# Set up everything Hearth needs on this machine, then run it or its tests.
#
#   bash packaging/dev.sh run  [hearth args...]   set up, then run Hearth
#   bash packaging/dev.sh test [pytest args...]   set up, then run the whole test suite
#   bash packaging/dev.sh package [--force]       build dist/hearth_VERSION_amd64.deb and
#                                                 dist/hearth-VERSION-linux-x86_64.tar.zst
#   bash packaging/dev.sh package --engine cuda   build dist/hearth-engine-cuda_VERSION_amd64.deb
#                                                 (or vulkan): a GPU engine the installed app takes
#
# Idempotent: the virtual environment (.venv) is reinstalled only when
# pyproject.toml changes, and llama-server is compiled once into the cache.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${HEARTH_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

say() { printf '\033[1m[hearth]\033[0m %s\n' "$*"; }
die() { printf '[hearth] error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

apt_install() {
    # apt_install PACKAGE... : install missing Debian packages when we can.
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if is_root && command -v apt-get >/dev/null; then
        say "installing Debian packages: ${missing[*]}"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        die "missing system packages: ${missing[*]}. Install them with: sudo apt-get install ${missing[*]}"
    fi
}

check_python() {
    command -v "$PYTHON" >/dev/null || die "python3 (3.11 or newer) is required"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "Python 3.11 or newer is required (found $("$PYTHON" --version 2>&1))"
}

ensure_venv() {
    # ensure_venv EXTRAS : a venv with the project installed editable with EXTRAS.
    local extras="$1" stamp want
    want="$( (cat pyproject.toml; echo "$extras") | sha256sum | cut -c1-16)"
    stamp="$VENV/.hearth-${extras:-base}"
    stamp="${stamp//,/-}"
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    check_python
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating virtual environment in $VENV"
        "$PYTHON" -m venv "$VENV" || die "could not create a venv (on Debian: apt-get install python3-venv)"
    fi
    say "installing Python dependencies ($extras)"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".${extras:+[$extras]}"
    echo "$want" > "$stamp"
}

ensure_llama_server() {
    if [ -n "${HEARTH_LLAMA_SERVER:-}" ]; then
        [ -x "$HEARTH_LLAMA_SERVER" ] || die "HEARTH_LLAMA_SERVER=$HEARTH_LLAMA_SERVER is not executable"
        return 0
    fi
    if ! command -v cmake >/dev/null || ! command -v g++ >/dev/null; then
        apt_install cmake g++ make
    fi
    "$VENV/bin/python" packaging/build_llama_server.py
}

PYINSTALLER_VERSION=6.22.3
PACKAGE_VENV="${HEARTH_PACKAGE_VENV:-$HOME/.cache/Hearth/package-venv}"

ensure_package_venv() {
    # The packaging venv: Hearth's runtime dependencies (desktop extra) and
    # PyInstaller, nothing of the test extra, so nothing else gets bundled.
    # Made afresh when pyproject.toml changes: a package that left the
    # dependencies must leave the bundle too, which pip install alone does not do.
    local want
    want="$( (cat pyproject.toml; echo "pyinstaller==$PYINSTALLER_VERSION") | sha256sum | cut -c1-16)"
    if [ -x "$PACKAGE_VENV/bin/python" ] && [ "$(cat "$PACKAGE_VENV/.hearth-package" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    check_python
    say "creating the packaging venv in $PACKAGE_VENV (Hearth's dependencies + PyInstaller)"
    rm -rf "$PACKAGE_VENV"
    "$PYTHON" -m venv "$PACKAGE_VENV" || die "could not create a venv (on Debian: apt-get install python3-venv)"
    "$PACKAGE_VENV/bin/python" -m pip install -q --disable-pip-version-check ".[desktop]" \
        "pyinstaller==$PYINSTALLER_VERSION"
    echo "$want" > "$PACKAGE_VENV/.hearth-package"
}

OPENWEBUI_VERSION=0.12.4

ensure_openwebui() {
    # A real Open WebUI for tests/test_openwebui.py, in its own cached venv
    # (its hundreds of pinned packages must not meet Hearth's). The marker is
    # written only after a finished install, so later runs take no time.
    local venv="${HEARTH_TEST_OPENWEBUI:-$HOME/.cache/hearth-test/open-webui-$OPENWEBUI_VERSION}"
    local marker="$venv/.hearth-open-webui-$OPENWEBUI_VERSION"
    local py="${HEARTH_OPENWEBUI_PYTHON:-$PYTHON}" log started free_kb
    export HEARTH_TEST_OPENWEBUI="$venv"
    if [ -f "$marker" ] && [ -x "$venv/bin/open-webui" ]; then
        return 0
    fi
    command -v "$py" >/dev/null || die "python3 is required to install Open WebUI for the tests"
    "$py" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 12))' \
        || die "Open WebUI $OPENWEBUI_VERSION needs Python 3.11 or 3.12 (found $("$py" --version 2>&1));" \
               "set HEARTH_OPENWEBUI_PYTHON to one"
    mkdir -p "$(dirname "$venv")"
    free_kb="$(df -Pk "$(dirname "$venv")" | awk 'NR == 2 {print $4}')"
    [ "${free_kb:-0}" -ge $((8 * 1024 * 1024)) ] \
        || die "installing Open WebUI for the tests needs about 8 GB free in $(dirname "$venv")" \
               "(found $((free_kb / 1024 / 1024)) GB); free some, or set HEARTH_TEST_OPENWEBUI elsewhere"
    log="$venv.install.log"
    started=$SECONDS
    say "installing Open WebUI $OPENWEBUI_VERSION for the tests into $venv"
    say "(first run only: 5 to 15 minutes and 3 to 8 GB from PyPI; pip's output in $log)"
    if ! {
        { [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"; } &&
        # torch pinned first: where pip finds PyTorch's CPU build (CI's machine
        # keeps one on disk) the venv is 2.9 GB, not the 7.4 GB that PyPI's
        # CUDA build makes it; Open WebUI needs torch only for local embeddings.
        "$venv/bin/python" -m pip install --disable-pip-version-check torch==2.13.0 &&
        "$venv/bin/python" -m pip install --disable-pip-version-check "open-webui==$OPENWEBUI_VERSION" &&
        "$venv/bin/open-webui" --help
    } >"$log" 2>&1; then
        tail -n 15 "$log" >&2
        die "could not install Open WebUI $OPENWEBUI_VERSION into $venv (the whole output: $log)." \
            "It needs PyPI, Python 3.11 or 3.12 and about 8 GB of disk: fix what the lines above" \
            "say and run again (the install resumes), or set HEARTH_TEST_OPENWEBUI to a venv" \
            "with open-webui==$OPENWEBUI_VERSION and create $marker there"
    fi
    echo "$OPENWEBUI_VERSION" >"$marker"
    say "Open WebUI installed in $((SECONDS - started)) s ($(du -sh "$venv" | cut -f1))"
}

ensure_ui_checked() {
    # Unit tests of the Svelte UI, and proof that the committed ui_dist/ is
    # exactly what ui/ builds (a stale build fails here).
    if ! command -v npm >/dev/null; then
        apt_install nodejs npm
    fi
    local major
    major="$(node -p 'process.versions.node.split(".")[0]')"
    [ "$major" -ge 20 ] || die "Node.js 20 or newer is needed for the UI tests (found $(node --version))"
    say "ui: npm ci, unit tests, rebuild check"
    (cd ui && npm ci --no-audit --no-fund --loglevel=error && npm test --silent && npm run build --silent >/dev/null)
    if ! git diff --quiet -- ui_dist || [ -n "$(git ls-files --others --exclude-standard ui_dist)" ]; then
        git status --short ui_dist
        die "ui_dist/ is not what ui/ builds: run (cd ui && npm run build) and commit ui_dist/"
    fi
}

command="${1:-}"
[ $# -gt 0 ] && shift
case "$command" in
    run)
        ensure_venv desktop
        ensure_llama_server
        exec "$VENV/bin/python" -m app "$@"
        ;;
    test)
        ensure_venv "test,desktop"
        ensure_llama_server
        ensure_openwebui
        # A real OCI registry on 127.0.0.1 for the pull tests; a virtual screen,
        # Qt's X11 libraries and ImageMagick for the desktop window tests.
        apt_install docker-registry xvfb xauth imagemagick trayer libxcb-cursor0 libxcb-icccm4 \
            libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xkb1 libxkbcommon-x11-0 \
            libxcb-shape0 libxcb-randr0 libxcb-xinerama0 libegl1 libgl1 libnss3 libxcomposite1 \
            libxdamage1 libxrandr2 libxtst6 libxkbfile1 libasound2 libgbm1
        # Debian's Chromium for the browser tests (Playwright drives it; no download).
        apt_install chromium
        # makensis for tests/test_installer_scripts.py (the Windows installer script).
        apt_install nsis
        ensure_ui_checked
        say "lint: ruff, types: mypy"
        "$VENV/bin/ruff" check app tests bench packaging
        "$VENV/bin/ruff" format --check app tests bench packaging
        "$VENV/bin/mypy"
        say "tests: pytest"
        exec "$VENV/bin/python" -m pytest "$@"
        ;;
    package)
        # Compiler for the portable llama-server; Debian's packaging tools for
        # the .deb (dpkg-shlibdeps' dpkg-dev, lintian, fakeroot), zstd for the
        # tarball, ImageMagick for the icon sizes, binutils for readelf/objdump.
        apt_install cmake g++ make binutils dpkg-dev fakeroot lintian zstd imagemagick \
            desktop-file-utils
        ensure_package_venv
        exec "$PACKAGE_VENV/bin/python" packaging/package_linux.py "$@"
        ;;
    *)
        echo "usage: bash packaging/dev.sh run|test|package [args...]" >&2
        exit 2
        ;;
esac
