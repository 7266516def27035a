/* Stand-in for bcryptprimitives.dll!ProcessPrng, which Rust std >= 1.78 imports
 * on Windows but Wine 8 does not provide. It fills the buffer from advapi32's
 * RtlGenRandom (exported as SystemFunction036), the generator std used before. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
