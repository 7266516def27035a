#!/usr/bin/env bash
# cargo for the Windows target: `cargo-win.sh SUBCOMMAND [ARGS...]`.
# Uses rustup's x86_64-pc-windows-gnu standard library when installed;
# otherwise Debian's rustc-web/cargo-web/rust-web-src, building std from
# source (-Zbuild-std, about a minute), as DESIGN.md describes.
set -euo pipefail
target=x86_64-pc-windows-gnu
sub="$1"
shift
# LINGERSCAN_WINDOWS_TOOLCHAIN=debian forces the Debian route (to test it).
if [ "${LINGERSCAN_WINDOWS_TOOLCHAIN:-}" != debian ] &&
    rustup target list --installed 2>/dev/null | grep -qx "$target"; then
    exec cargo "$sub" --target "$target" "$@"
fi
if [ ! -x /usr/bin/cargo ] || [ ! -d /usr/lib/rustlib/src ]; then
    echo "cargo-win: neither rustup's $target target nor Debian's rustc-web/cargo-web/rust-web-src is installed" >&2
    echo "cargo-win: run scripts/setup.d/30-windows.sh" >&2
    exit 1
fi
if [ "$sub" = clippy ]; then
    echo "cargo-win: Debian's toolchain has no clippy for -Zbuild-std; skipping clippy for $target" >&2
    exit 0
fi
export RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
exec /usr/bin/cargo "$sub" --target "$target" -Zbuild-std=std,panic_abort "$@"
