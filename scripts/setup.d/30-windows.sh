#!/usr/bin/env bash
# Windows cross-build and Wine test tools: mingw-w64, wine64 (no i386
# multiarch needed for 64-bit programs), the Rust Windows target, and a
# project-local Wine prefix with the ProcessPrng stand-in DLL.
set -euo pipefail
cd "$(dirname "$0")/../.."
SUDO="${SUDO-}"
need=()
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || need+=(gcc-mingw-w64-x86-64-win32)
command -v wine64 >/dev/null 2>&1 || [ -x /usr/lib/wine/wine64 ] || need+=(wine64)
command -v wine >/dev/null 2>&1 || need+=(wine)
# scripts/test.d/30-windows.sh checks the JSON report with python3.
command -v python3 >/dev/null 2>&1 || need+=(python3)
if [ "${#need[@]}" -gt 0 ]; then
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends "${need[@]}"
fi
if ! rustup target list --installed 2>/dev/null | grep -qx x86_64-pc-windows-gnu; then
    if ! rustup target add x86_64-pc-windows-gnu; then
        # No Windows std from rustup: Debian's toolchain builds it from source
        # (scripts/wine/cargo-win.sh switches to it).
        echo "rustup cannot add x86_64-pc-windows-gnu; installing Debian's rustc-web route"
        $SUDO apt-get update
        $SUDO apt-get install -y --no-install-recommends rustc-web cargo-web rust-web-src
    fi
fi
bash scripts/wine/make-prefix.sh
