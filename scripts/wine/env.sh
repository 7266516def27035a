# Sourced by the Wine scripts: the project's prefix and the wine program.
# Sets $root, $WINEPREFIX (target/wineprefix), quiet defaults, and $wine.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export WINEPREFIX="${WINEPREFIX:-$root/target/wineprefix}"
export WINEDEBUG="${WINEDEBUG:--all}"
# No desktop integration, no Mono/Gecko download prompts.
export WINEDLLOVERRIDES="${WINEDLLOVERRIDES:-mscoree,mshtml=;winemenubuilder.exe=d}"
# wine64 alone is enough for 64-bit programs (no i386 multiarch needed).
if command -v wine64 >/dev/null 2>&1; then
    wine=wine64
elif [ -x /usr/lib/wine/wine64 ]; then
    wine=/usr/lib/wine/wine64 # Debian: wine64 alone, not on PATH
    export WINELOADER="${WINELOADER:-$wine}"
else
    wine=wine
fi
