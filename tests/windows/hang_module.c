/*
 * A PKCS#11 module that never answers: the vendor call a worker process can be stuck in.
 *
 * C_GetFunctionList, the first call of any PKCS#11 module, creates the file named by
 * KYSO_HANG_MARKER (so that a test knows the worker is inside the call) and then sleeps
 * forever. Built with mingw-w64 by tests/windows/test_winjob_wine.py, for the tests only.
 */
#include <windows.h>

__declspec(dllexport) unsigned long C_GetFunctionList(void **list)
{
    char marker[MAX_PATH];
    DWORD length = GetEnvironmentVariableA("KYSO_HANG_MARKER", marker, sizeof marker);
    if (length > 0 && length < sizeof marker) {
        HANDLE file = CreateFileA(marker, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS,
                                  FILE_ATTRIBUTE_NORMAL, NULL);
        if (file != INVALID_HANDLE_VALUE)
            CloseHandle(file);
    }
    (void)list;
    Sleep(INFINITE);
    return 0;
}
