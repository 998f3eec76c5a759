/*
 * bcryptprimitives.dll for Wine 8, for the tests only: never shipped, never installed on Windows.
 *
 * cryptography's Rust extension (_rust.pyd) imports ProcessPrng from bcryptprimitives.dll, the
 * DLL through which Windows 10 and later hand out the process's random bytes. Wine 8 has no such
 * DLL, so `import cryptography` fails there and nothing of the agent past it can run. Windows
 * documents ProcessPrng as always succeeding; here it asks Wine's bcrypt for the system RNG,
 * which Wine implements over the host's random source.
 *
 * Built by scripts/wine/build.sh with mingw-w64 and copied into a test's Wine prefix alone.
 */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        /* BCryptGenRandom takes a ULONG count. */
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
