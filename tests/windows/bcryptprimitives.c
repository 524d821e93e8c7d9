/*
 * Test support for running trousseau.exe under Wine 8.0 — never shipped.
 *
 * Rust's standard library (1.78 and later) draws its random numbers from ProcessPrng in bcryptprimitives.dll.
 * Windows 10 and later have it; Wine 8.0 has no bcryptprimitives.dll at all, so nothing linked by Rust starts.
 * This DLL exports ProcessPrng and forwards to advapi32's SystemFunction036 (RtlGenRandom), which Wine implements.
 * scripts/checks/windows-wine.sh builds it with MinGW and copies it into the fresh Wine prefix's system32.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    /* RtlGenRandom takes a ULONG: feed it in chunks so any SIZE_T works. */
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
