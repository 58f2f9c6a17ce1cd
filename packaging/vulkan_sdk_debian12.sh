#!/usr/bin/env bash
# A VULKAN_SDK folder for building llama-server's Vulkan backend on Debian 12.
#
# Why: the pinned llama.cpp needs Vulkan headers with VK_EXT_layer_settings
# (1.3.261 or newer); Debian 12 ships 1.3.239. Only the headers are needed
# at build time, and they are plain C/C++ text, so Debian 13's libvulkan-dev
# headers are taken (fetched by apt from a private list of Debian 13, so
# apt checks them against Debian's signed index), unpacked into a folder of
# ours, and paired with Debian 12's own loader and glslc. Nothing is
# installed into the system.
#
# Usage: bash packaging/vulkan_sdk_debian12.sh [FOLDER]   (default ~/.cache/Hearth/vulkan-sdk)
#        VULKAN_SDK=FOLDER python packaging/build_llama_server.py --backend vulkan
# Needs: apt-get, dpkg-deb, glslc and libvulkan1 (apt-get install glslc libvulkan1).
set -euo pipefail

sdk="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/Hearth/vulkan-sdk}"
loader="$(/sbin/ldconfig -p | awk '/libvulkan\.so\.1 .*x86-64|libvulkan\.so\.1 .*AArch64/ {print $NF; exit}')"
glslc="$(command -v glslc || true)"
if [[ -z "$loader" || -z "$glslc" ]]; then
    echo "needs Debian's Vulkan loader and glslc: apt-get install libvulkan1 glslc" >&2
    exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
    >"$work/sources.list"
apt_options=(
    -o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
    -o "Debug::NoLocking=1" -o "APT::Get::List-Cleanup=0"
    -o "APT::Sandbox::User=$(id -un)" # files in our own temporary folder
)
echo "[vulkan-sdk] reading Debian 13's package index"
apt-get "${apt_options[@]}" -qq update
(cd "$work" && apt-get "${apt_options[@]}" -qq download libvulkan-dev/trixie)

rm -rf "$sdk.tmp" && mkdir -p "$sdk.tmp/unpacked" "$sdk.tmp/lib" "$sdk.tmp/bin"
dpkg-deb -x "$work"/libvulkan-dev_*.deb "$sdk.tmp/unpacked"
mv "$sdk.tmp/unpacked/usr/include" "$sdk.tmp/include"
rm -rf "$sdk.tmp/unpacked"
ln -s "$loader" "$sdk.tmp/lib/libvulkan.so"
ln -s "$glslc" "$sdk.tmp/bin/glslc"
rm -rf "$sdk" && mv "$sdk.tmp" "$sdk"
core="$sdk/include/vulkan/vulkan_core.h"
minor="$(sed -n 's/^#define VK_HEADER_VERSION_COMPLETE VK_MAKE_API_VERSION(0, 1, \([0-9]*\),.*/\1/p' "$core")"
patch="$(sed -n 's/^#define VK_HEADER_VERSION \([0-9]*\)$/\1/p' "$core")"
echo "[vulkan-sdk] Vulkan headers 1.$minor.$patch in $sdk"
echo "[vulkan-sdk] now: VULKAN_SDK=$sdk python packaging/build_llama_server.py --backend vulkan"
