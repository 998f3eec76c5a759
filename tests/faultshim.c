/*
 * A PKCS#11 module that misbehaves on cue, for tests only.
 *
 * Vendor modules for USB tokens crash, hang and report the token gone in the
 * middle of an operation; SoftHSM2, the token the tests use, does none of that.
 * This shim loads the real module named by KYSO_FAULT_TARGET, passes calls
 * through to it, and injects a fault wherever the file named by
 * KYSO_FAULT_CONTROL says so. The file is re-read on every wrapped call, so a
 * test can change the module's behaviour while a process is using it.
 *
 * Control file, one rule a line ('#' starts a comment line):
 *
 *     FUNCTION ACTION [ARG] [after N]
 *
 *     C_Sign crash               a real SIGSEGV (write through a null pointer)
 *     C_Sign hang 60             sleep 60 s, then call the real module
 *     C_Sign error 0x30          return this CK_RV without calling the module
 *     C_Login exit 3             _exit(3)
 *     C_GetSlotList chatter 50   print 50 lines of debug output on stdout, then pass
 *     * error 0xE0 after 2       FUNCTION '*' matches every wrapped function
 *
 * "after N" lets the first N calls of the function through. Calls are counted
 * per function from the moment the file's content last changed (a missing file
 * is empty content, which injects nothing). Rules are tried in order and the
 * first one that applies wins. python-pkcs11 calls C_Sign twice per signature
 * (the length, then the signature), so "C_Sign error 0x32 after 2" lets the
 * first signature through.
 *
 * An injected error leaves SoftHSM as a real module would be after it:
 * 0x32 CKR_DEVICE_REMOVED and 0xE0 CKR_TOKEN_NOT_PRESENT close every session
 * (and so the login), and any error from C_Sign, C_SignUpdate or C_SignFinal
 * ends the signing operation. Otherwise what the caller does next would meet
 * an operation or a login that SoftHSM still holds and a real module would not.
 *
 * Build: cc -shared -fPIC -O2 -Wall -Werror -I/usr/include/p11-kit-1 \
 *            -o libkysofault.so faultshim.c -ldl -pthread
 */

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#define CONTROL_MAX 8192

enum action { PASS, CRASH, HANG, ERROR, EXIT, CHATTER };

struct counter {
    unsigned long calls;
    unsigned long generation;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static CK_FUNCTION_LIST_PTR real;
static CK_FUNCTION_LIST shim;
static char last_control[CONTROL_MAX];
static size_t last_length;
static unsigned long generation = 1;

/* Volatile so that the compiler cannot see the null and emit a trap (SIGILL) instead. */
static int *volatile null_pointer;

static size_t read_control(char *buffer)
{
    const char *path = getenv("KYSO_FAULT_CONTROL");
    FILE *file = path ? fopen(path, "r") : NULL;
    size_t length = 0;
    if (file) {
        length = fread(buffer, 1, CONTROL_MAX - 1, file);
        fclose(file);
    }
    buffer[length] = '\0';
    return length;
}

/* The action of the first rule in `control` that applies to call number `call` of `name`. */
static enum action find_rule(char *control, const char *name, unsigned long call,
                             unsigned long *argument)
{
    char *line_state = NULL;
    for (char *line = strtok_r(control, "\n", &line_state); line;
         line = strtok_r(NULL, "\n", &line_state)) {
        char *state = NULL;
        char *function = strtok_r(line, " \t\r", &state);
        char *verb = strtok_r(NULL, " \t\r", &state);
        if (!function || function[0] == '#')
            continue;
        enum action action = PASS;
        if (verb && strcmp(verb, "crash") == 0)
            action = CRASH;
        else if (verb && strcmp(verb, "hang") == 0)
            action = HANG;
        else if (verb && strcmp(verb, "error") == 0)
            action = ERROR;
        else if (verb && strcmp(verb, "exit") == 0)
            action = EXIT;
        else if (verb && strcmp(verb, "chatter") == 0)
            action = CHATTER;
        else {
            fprintf(stderr, "faultshim: unknown action in rule for %s\n", function);
            continue;
        }
        unsigned long value = 0;
        if (action != CRASH) {
            char *text = strtok_r(NULL, " \t\r", &state);
            if (!text) {
                fprintf(stderr, "faultshim: %s %s needs an argument\n", function, verb);
                continue;
            }
            value = strtoul(text, NULL, 0);
        }
        unsigned long after = 0;
        char *word = strtok_r(NULL, " \t\r", &state);
        if (word && strcmp(word, "after") == 0) {
            char *count = strtok_r(NULL, " \t\r", &state);
            after = count ? strtoul(count, NULL, 0) : 0;
        }
        if ((strcmp(function, "*") == 0 || strcmp(function, name) == 0) && call > after) {
            *argument = value;
            return action;
        }
    }
    return PASS;
}

/* A token that vanished took its sessions, and the login, with it. */
static void follow_error(CK_RV rv)
{
    if (!real || (rv != CKR_DEVICE_REMOVED && rv != CKR_TOKEN_NOT_PRESENT))
        return;
    CK_SLOT_ID slots[64];
    CK_ULONG count = sizeof slots / sizeof slots[0];
    if (real->C_GetSlotList(CK_FALSE, slots, &count) == CKR_OK)
        for (CK_ULONG i = 0; i < count; i++)
            real->C_CloseAllSessions(slots[i]);
}

/*
 * A failed C_Sign, C_SignUpdate or C_SignFinal "terminates the current
 * signature operation" (PKCS#11). SoftHSM ends a single-part operation only in
 * C_Sign and a multi-part one only in C_SignFinal, so the shim completes it
 * into a scratch buffer.
 */
static void end_signing(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len)
{
    CK_BYTE scratch[2048]; /* room for any signature: a short buffer keeps the operation open */
    CK_ULONG length = sizeof scratch;
    if (data)
        real->C_Sign(session, data, data_len, scratch, &length);
    else
        real->C_SignFinal(session, scratch, &length);
}

/* Nonzero when the wrapper must return *rv instead of calling the real module. */
static int inject(const char *name, struct counter *counter, CK_RV *rv)
{
    char control[CONTROL_MAX];
    unsigned long argument = 0;

    pthread_mutex_lock(&lock);
    size_t length = read_control(control);
    if (length != last_length || memcmp(control, last_control, length) != 0) {
        memcpy(last_control, control, length + 1);
        last_length = length;
        generation++;
    }
    if (counter->generation != generation) {
        counter->generation = generation;
        counter->calls = 0;
    }
    unsigned long call = ++counter->calls;
    enum action action = find_rule(control, name, call, &argument);
    pthread_mutex_unlock(&lock);

    switch (action) {
    case CRASH:
        *null_pointer = 1;
        abort(); /* not reached */
    case HANG:
        for (unsigned int left = (unsigned int)argument; left > 0;)
            left = sleep(left);
        return 0;
    case ERROR:
        *rv = (CK_RV)argument;
        follow_error(*rv);
        return 1;
    case EXIT:
        _exit((int)argument);
    case CHATTER: {
        /* Vendor modules print debug output on stdout; then the call goes through. */
        static const char noise[] = "\x00\x00\x10\x00 vendor debug: C_xxx called\n";
        for (unsigned long i = 0; i < argument; i++)
            if (write(STDOUT_FILENO, noise, sizeof noise - 1) < 0)
                break;
        return 0;
    }
    case PASS:
        break;
    }
    return 0;
}

#define WRAP(name, params, args)                                                                   \
    static CK_RV wrap_##name params                                                                \
    {                                                                                              \
        static struct counter counter;                                                             \
        CK_RV rv;                                                                                  \
        if (inject(#name, &counter, &rv))                                                          \
            return rv;                                                                             \
        return real->name args;                                                                    \
    }

/* The same, for the calls whose failure ends the signing operation in `session`. */
#define WRAP_SIGNING(name, params, args, data, data_len)                                           \
    static CK_RV wrap_##name params                                                                \
    {                                                                                              \
        static struct counter counter;                                                             \
        CK_RV rv;                                                                                  \
        if (inject(#name, &counter, &rv)) {                                                        \
            end_signing(session, data, data_len);                                                  \
            return rv;                                                                             \
        }                                                                                          \
        return real->name args;                                                                    \
    }

WRAP(C_Initialize, (CK_VOID_PTR init_args), (init_args))
WRAP(C_Finalize, (CK_VOID_PTR reserved), (reserved))
WRAP(C_GetInfo, (CK_INFO_PTR info), (info))
WRAP(C_GetSlotList, (CK_BBOOL present, CK_SLOT_ID_PTR slots, CK_ULONG_PTR count),
     (present, slots, count))
WRAP(C_GetSlotInfo, (CK_SLOT_ID slot, CK_SLOT_INFO_PTR info), (slot, info))
WRAP(C_GetTokenInfo, (CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info), (slot, info))
WRAP(C_GetMechanismList, (CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count),
     (slot, list, count))
WRAP(C_GetMechanismInfo, (CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info),
     (slot, type, info))
WRAP(C_OpenSession,
     (CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
      CK_SESSION_HANDLE_PTR session),
     (slot, flags, app, notify, session))
WRAP(C_CloseSession, (CK_SESSION_HANDLE session), (session))
WRAP(C_CloseAllSessions, (CK_SLOT_ID slot), (slot))
WRAP(C_GetSessionInfo, (CK_SESSION_HANDLE session, CK_SESSION_INFO_PTR info), (session, info))
WRAP(C_Login,
     (CK_SESSION_HANDLE session, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len),
     (session, user, pin, pin_len))
WRAP(C_Logout, (CK_SESSION_HANDLE session), (session))
WRAP(C_GetAttributeValue,
     (CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_PTR template,
      CK_ULONG count),
     (session, object, template, count))
WRAP(C_FindObjectsInit, (CK_SESSION_HANDLE session, CK_ATTRIBUTE_PTR template, CK_ULONG count),
     (session, template, count))
WRAP(C_FindObjects,
     (CK_SESSION_HANDLE session, CK_OBJECT_HANDLE_PTR objects, CK_ULONG max, CK_ULONG_PTR count),
     (session, objects, max, count))
WRAP(C_FindObjectsFinal, (CK_SESSION_HANDLE session), (session))
WRAP(C_SignInit, (CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key),
     (session, mechanism, key))
WRAP_SIGNING(C_Sign,
             (CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len,
              CK_BYTE_PTR signature, CK_ULONG_PTR signature_len),
             (session, data, data_len, signature, signature_len), data, data_len)
WRAP_SIGNING(C_SignUpdate, (CK_SESSION_HANDLE session, CK_BYTE_PTR part, CK_ULONG part_len),
             (session, part, part_len), NULL, 0)
WRAP_SIGNING(C_SignFinal,
             (CK_SESSION_HANDLE session, CK_BYTE_PTR signature, CK_ULONG_PTR signature_len),
             (session, signature, signature_len), NULL, 0)

/* Loads the target once; every later call hands out the same patched list. */
static CK_RV load_target(void)
{
    if (real)
        return CKR_OK;
    const char *target = getenv("KYSO_FAULT_TARGET");
    if (!target) {
        fprintf(stderr, "faultshim: KYSO_FAULT_TARGET is not set\n");
        return CKR_GENERAL_ERROR;
    }
    void *handle = dlopen(target, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        fprintf(stderr, "faultshim: %s\n", dlerror());
        return CKR_GENERAL_ERROR;
    }
    CK_C_GetFunctionList get_function_list =
        (CK_C_GetFunctionList)dlsym(handle, "C_GetFunctionList");
    CK_FUNCTION_LIST_PTR list = NULL;
    CK_RV rv = get_function_list ? get_function_list(&list) : CKR_GENERAL_ERROR;
    if (rv != CKR_OK || !list) {
        fprintf(stderr, "faultshim: %s has no usable C_GetFunctionList\n", target);
        return rv != CKR_OK ? rv : CKR_GENERAL_ERROR;
    }
    shim = *list;
    shim.C_GetFunctionList = C_GetFunctionList;
#define PATCH(name) shim.name = wrap_##name
    PATCH(C_Initialize);
    PATCH(C_Finalize);
    PATCH(C_GetInfo);
    PATCH(C_GetSlotList);
    PATCH(C_GetSlotInfo);
    PATCH(C_GetTokenInfo);
    PATCH(C_GetMechanismList);
    PATCH(C_GetMechanismInfo);
    PATCH(C_OpenSession);
    PATCH(C_CloseSession);
    PATCH(C_CloseAllSessions);
    PATCH(C_GetSessionInfo);
    PATCH(C_Login);
    PATCH(C_Logout);
    PATCH(C_GetAttributeValue);
    PATCH(C_FindObjectsInit);
    PATCH(C_FindObjects);
    PATCH(C_FindObjectsFinal);
    PATCH(C_SignInit);
    PATCH(C_Sign);
    PATCH(C_SignUpdate);
    PATCH(C_SignFinal);
#undef PATCH
    real = list;
    return CKR_OK;
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
    static struct counter counter;
    CK_RV rv;
    if (inject("C_GetFunctionList", &counter, &rv))
        return rv;
    if (!list)
        return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&lock);
    rv = load_target();
    pthread_mutex_unlock(&lock);
    if (rv == CKR_OK)
        *list = &shim;
    return rv;
}
