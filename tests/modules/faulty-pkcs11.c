/*
 * A PKCS#11 module that misbehaves, for the tests of src/token/host.rs (issue 15, part 3): vendor modules are
 * closed code that can crash or hang, and Trousseau must stay up when they do.
 *
 * One token, "Carte défaillante", in one slot. Built twice by tests/it/support/faulty.rs:
 *   -DFAULT_CRASH_FIND   C_FindObjects dereferences a null pointer (SIGSEGV), as a buggy middleware does;
 *   -DFAULT_HANG_LOGIN   C_Login never returns, as a middleware stuck on a reader does.
 *   -DFAULT_PINPAD       not a fault: a reader with a PIN pad (CKF_PROTECTED_AUTHENTICATION_PATH). C_SetPIN, C_Login
 *                        as SO and C_InitPIN succeed only when called with no PIN (NULL_PTR, 0), as PKCS#11 asks for
 *                        a pad, and append what they were called with to the file named by $FAULTY_PKCS11_LOG.
 * Everything else answers normally (the token lists, its info reads), so the fault hits in the middle of real work.
 *
 * The PKCS#11 types are declared here (v2.40 layout) rather than taken from a header, so that the test needs nothing but
 * a C compiler; on Windows (built with MinGW for scripts/checks/windows-wine.sh) they are packed, as the standard says.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <windows.h>
#define EXPORT __declspec(dllexport)
#define SLEEP_FOREVER() for (;;) Sleep(3600000)
#pragma pack(push, 1)
#else
#include <unistd.h>
#define EXPORT
#define SLEEP_FOREVER() for (;;) sleep(3600)
#endif

typedef unsigned long CK_ULONG;
typedef CK_ULONG CK_RV;
typedef struct { unsigned char major, minor; } CK_VERSION;
typedef struct {
    CK_VERSION cryptokiVersion;
    unsigned char manufacturerID[32];
    CK_ULONG flags;
    unsigned char libraryDescription[32];
    CK_VERSION libraryVersion;
} CK_INFO;
typedef struct {
    unsigned char slotDescription[64];
    unsigned char manufacturerID[32];
    CK_ULONG flags;
    CK_VERSION hardwareVersion, firmwareVersion;
} CK_SLOT_INFO;
typedef struct {
    unsigned char label[32], manufacturerID[32], model[16], serialNumber[16];
    CK_ULONG flags, ulMaxSessionCount, ulSessionCount, ulMaxRwSessionCount, ulRwSessionCount, ulMaxPinLen,
        ulMinPinLen, ulTotalPublicMemory, ulFreePublicMemory, ulTotalPrivateMemory, ulFreePrivateMemory;
    CK_VERSION hardwareVersion, firmwareVersion;
    unsigned char utcTime[16];
} CK_TOKEN_INFO;
typedef struct { CK_ULONG slotID, state, flags, ulDeviceError; } CK_SESSION_INFO;

#define CKR_OK 0UL
#define CKR_ARGUMENTS_BAD 7UL
#define CKR_FUNCTION_NOT_SUPPORTED 0x54UL
#define CKR_SLOT_ID_INVALID 3UL
#define CKR_BUFFER_TOO_SMALL 0x150UL

#define FUNCTIONS 68
typedef struct { CK_VERSION version; void *f[FUNCTIONS]; } FUNCTION_LIST;
#ifdef _WIN32
#pragma pack(pop)
#endif

static void pad(unsigned char *dst, size_t n, const char *s) {
    memset(dst, ' ', n);
    memcpy(dst, s, strlen(s) < n ? strlen(s) : n);
}

static CK_RV not_supported(void) { return CKR_FUNCTION_NOT_SUPPORTED; }
static CK_RV ok(void) { return CKR_OK; }

static CK_RV get_info(CK_INFO *info) {
    if (!info) return CKR_ARGUMENTS_BAD;
    memset(info, 0, sizeof *info);
    info->cryptokiVersion.major = 2; info->cryptokiVersion.minor = 40;
    pad(info->manufacturerID, 32, "Trousseau tests");
    pad(info->libraryDescription, 32, "Faulty test module");
    info->libraryVersion.major = 1;
    return CKR_OK;
}

static CK_RV get_slot_list(unsigned char present, CK_ULONG *list, CK_ULONG *count) {
    (void)present;
    if (!count) return CKR_ARGUMENTS_BAD;
    if (list) {
        if (*count < 1) { *count = 1; return CKR_BUFFER_TOO_SMALL; }
        list[0] = 1;
    }
    *count = 1;
    return CKR_OK;
}

static CK_RV get_slot_info(CK_ULONG slot, CK_SLOT_INFO *info) {
    if (slot != 1) return CKR_SLOT_ID_INVALID;
    memset(info, 0, sizeof *info);
    pad(info->slotDescription, 64, "Faulty reader");
    pad(info->manufacturerID, 32, "Trousseau tests");
    info->flags = 0x1 | 0x2; /* CKF_TOKEN_PRESENT | CKF_REMOVABLE_DEVICE */
    return CKR_OK;
}

static CK_RV get_token_info(CK_ULONG slot, CK_TOKEN_INFO *info) {
    if (slot != 1) return CKR_SLOT_ID_INVALID;
    memset(info, 0, sizeof *info);
#if defined(FAULT_CRASH_FIND)
    pad(info->label, 32, "Carte qui plante");
    pad(info->serialNumber, 16, "FAULTY-CRASH");
#elif defined(FAULT_PINPAD)
    pad(info->label, 32, "Lecteur a clavier");
    pad(info->serialNumber, 16, "PINPAD");
#else
    pad(info->label, 32, "Carte muette");
    pad(info->serialNumber, 16, "FAULTY-HANG");
#endif
    pad(info->manufacturerID, 32, "Trousseau tests");
    pad(info->model, 16, "faulty");
    info->flags = 0x4 | 0x8 | 0x400; /* LOGIN_REQUIRED | USER_PIN_INITIALIZED | TOKEN_INITIALIZED */
#ifdef FAULT_PINPAD
    info->flags |= 0x100; /* PROTECTED_AUTHENTICATION_PATH */
#endif
    info->ulMaxPinLen = 8; info->ulMinPinLen = 4;
    pad(info->utcTime, 16, "");
    return CKR_OK;
}

static CK_RV open_session(CK_ULONG slot, CK_ULONG flags, void *app, void *notify, CK_ULONG *session) {
    (void)flags; (void)app; (void)notify;
    if (slot != 1) return CKR_SLOT_ID_INVALID;
    *session = 1;
    return CKR_OK;
}

static CK_RV get_session_info(CK_ULONG session, CK_SESSION_INFO *info) {
    (void)session;
    info->slotID = 1; info->state = 1; info->flags = 0x4; info->ulDeviceError = 0;
    return CKR_OK;
}

/* Appends one line to $FAULTY_PKCS11_LOG (what the test reads back). */
static void note(const char *what) {
    const char *path = getenv("FAULTY_PKCS11_LOG");
    FILE *f = path ? fopen(path, "a") : NULL;
    if (f) { fprintf(f, "%s\n", what); fclose(f); }
}

static CK_RV login(CK_ULONG session, CK_ULONG user, unsigned char *pin, CK_ULONG len) {
    (void)session;
#ifdef FAULT_HANG_LOGIN
    (void)user; (void)pin; (void)len;
    SLEEP_FOREVER();
#endif
#ifdef FAULT_PINPAD
    if (!pin && !len) { note(user == 0 ? "C_Login SO on the pad" : "C_Login user on the pad"); return CKR_OK; }
    note("C_Login with a typed PIN");
#else
    (void)user; (void)pin; (void)len;
#endif
    return 0xA0UL; /* CKR_PIN_INCORRECT */
}

static CK_RV set_pin(CK_ULONG session, unsigned char *old, CK_ULONG old_len, unsigned char *new_pin, CK_ULONG new_len) {
    (void)session;
    if (!old && !old_len && !new_pin && !new_len) { note("C_SetPIN on the pad"); return CKR_OK; }
    note("C_SetPIN with typed PINs");
    return CKR_ARGUMENTS_BAD;
}

static CK_RV init_pin(CK_ULONG session, unsigned char *pin, CK_ULONG len) {
    (void)session;
    if (!pin && !len) { note("C_InitPIN on the pad"); return CKR_OK; }
    note("C_InitPIN with a typed PIN");
    return CKR_ARGUMENTS_BAD;
}

static CK_RV find_objects(CK_ULONG session, CK_ULONG *objects, CK_ULONG max, CK_ULONG *count) {
    (void)session; (void)objects; (void)max;
#ifdef FAULT_CRASH_FIND
    *(volatile int *)0 = 1;
#endif
    *count = 0;
    return CKR_OK;
}

static CK_RV get_mechanism_list(CK_ULONG slot, CK_ULONG *list, CK_ULONG *count) {
    (void)slot; (void)list;
    *count = 0;
    return CKR_OK;
}

static FUNCTION_LIST functions;

EXPORT CK_RV C_GetFunctionList(FUNCTION_LIST **out) {
    if (!out) return CKR_ARGUMENTS_BAD;
    functions.version.major = 2; functions.version.minor = 40;
    for (int i = 0; i < FUNCTIONS; i++) functions.f[i] = (void *)not_supported;
    functions.f[0] = (void *)ok;                 /* C_Initialize */
    functions.f[1] = (void *)ok;                 /* C_Finalize */
    functions.f[2] = (void *)get_info;           /* C_GetInfo */
    functions.f[3] = (void *)C_GetFunctionList;  /* C_GetFunctionList */
    functions.f[4] = (void *)get_slot_list;      /* C_GetSlotList */
    functions.f[5] = (void *)get_slot_info;      /* C_GetSlotInfo */
    functions.f[6] = (void *)get_token_info;     /* C_GetTokenInfo */
    functions.f[7] = (void *)get_mechanism_list; /* C_GetMechanismList */
    functions.f[10] = (void *)init_pin;          /* C_InitPIN */
    functions.f[11] = (void *)set_pin;           /* C_SetPIN */
    functions.f[12] = (void *)open_session;      /* C_OpenSession */
    functions.f[13] = (void *)ok;                /* C_CloseSession */
    functions.f[14] = (void *)ok;                /* C_CloseAllSessions */
    functions.f[15] = (void *)get_session_info;  /* C_GetSessionInfo */
    functions.f[18] = (void *)login;             /* C_Login */
    functions.f[19] = (void *)ok;                /* C_Logout */
    functions.f[26] = (void *)ok;                /* C_FindObjectsInit */
    functions.f[27] = (void *)find_objects;      /* C_FindObjects */
    functions.f[28] = (void *)ok;                /* C_FindObjectsFinal */
    *out = &functions;
    return CKR_OK;
}
