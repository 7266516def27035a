#!/usr/bin/env bash
# Create the project-local Wine prefix (target/wineprefix) and install the
# ProcessPrng stand-in DLL into it. Idempotent.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
mkdir -p "$(dirname "$WINEPREFIX")"
system32="$WINEPREFIX/drive_c/windows/system32"
if [ ! -d "$system32" ]; then
    echo "creating Wine prefix $WINEPREFIX"
    "$wine" wineboot --init >/dev/null 2>&1 || true
    wineserver -w
fi
dll="$system32/bcryptprimitives.dll"
ready="$WINEPREFIX/.lingerscan-ready"
if [ -f "$ready" ] && [ "$ready" -nt "$root/scripts/wine/processprng.c" ]; then
    exit 0
fi
# Wine 8 has no bcryptprimitives.dll at all (newer Wine ships ProcessPrng):
# only install the stand-in when Wine has no builtin of its own.
builtin_dir="$(dirname "$(readlink -f "$(command -v "$wine")")")"
for dir in /usr/lib/x86_64-linux-gnu/wine/x86_64-windows /usr/lib/wine/x86_64-windows /usr/lib64/wine/x86_64-windows "$builtin_dir/../lib/wine/x86_64-windows"; do
    if [ -f "$dir/bcryptprimitives.dll" ]; then
        echo "Wine ships bcryptprimitives.dll ($dir): no stand-in needed"
        touch "$ready"
        exit 0
    fi
done
echo "installing ProcessPrng stand-in as $dll"
x86_64-w64-mingw32-gcc -O2 -shared -o "$dll" \
    "$root/scripts/wine/processprng.c" "$root/scripts/wine/processprng.def" -ladvapi32
touch "$ready"
