/*
 * A slow PKCS#11 module, for the tests and the benchmark of the window's live state (issue 15, part 4: "pages never
 * wait"): SoftHSM2 behind a wrapper whose slot enumeration and token information calls sleep, as some vendor
 * middleware does (a module that scans every reader, a card that answers slowly).
 *
 * Every call is forwarded to the wrapped module (TROUSSEAU_SLOW_TARGET, default SoftHSM2's library); C_GetSlotList
 * sleeps when asked for the number of slots (once per enumeration) and C_GetTokenInfo sleeps on every call, each
 * for TROUSSEAU_SLOW_MS milliseconds (default 3000). The tokens are SoftHSM2's (its SOFTHSM2_CONF), so tests see
 * real tokens with real certificates, only late.
 *
 * Built by tests/it/live.rs and scripts/bench/pages.sh with a plain C compiler:
 *   cc -shared -fPIC -o libslow-pkcs11.so tests/modules/slow-pkcs11.c -ldl
 * The PKCS#11 types needed are declared here (v2.40 layout, LP64) so that no header is needed.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

typedef unsigned long CK_ULONG;
typedef CK_ULONG CK_RV;
typedef struct { unsigned char major, minor; } CK_VERSION;

#define CKR_GENERAL_ERROR 5UL
#define FUNCTIONS 68
typedef struct { CK_VERSION version; void *f[FUNCTIONS]; } FUNCTION_LIST;

typedef CK_RV (*get_function_list_fn)(FUNCTION_LIST **);
typedef CK_RV (*get_slot_list_fn)(unsigned char, CK_ULONG *, CK_ULONG *);
typedef CK_RV (*get_token_info_fn)(CK_ULONG, void *);

static FUNCTION_LIST wrapped;
static FUNCTION_LIST *target;

static void slow(void) {
    const char *ms = getenv("TROUSSEAU_SLOW_MS");
    long n = ms ? atol(ms) : 3000;
    if (n <= 0) return;
    struct timespec t = { n / 1000, (n % 1000) * 1000000L };
    while (nanosleep(&t, &t) != 0) {
    }
}

/* C_GetSlotList is index 4, C_GetTokenInfo index 6 in CK_FUNCTION_LIST. */
static CK_RV get_slot_list(unsigned char present, CK_ULONG *list, CK_ULONG *count) {
    if (!list) slow();
    return ((get_slot_list_fn)target->f[4])(present, list, count);
}

static CK_RV get_token_info(CK_ULONG slot, void *info) {
    slow();
    return ((get_token_info_fn)target->f[6])(slot, info);
}

CK_RV C_GetFunctionList(FUNCTION_LIST **out) {
    if (!target) {
        const char *path = getenv("TROUSSEAU_SLOW_TARGET");
        void *lib = dlopen(path ? path : "/usr/lib/softhsm/libsofthsm2.so", RTLD_NOW | RTLD_LOCAL);
        if (!lib) return CKR_GENERAL_ERROR;
        get_function_list_fn get = (get_function_list_fn)dlsym(lib, "C_GetFunctionList");
        if (!get || get(&target) != 0 || !target) return CKR_GENERAL_ERROR;
        wrapped = *target;
        wrapped.f[3] = (void *)C_GetFunctionList;
        wrapped.f[4] = (void *)get_slot_list;
        wrapped.f[6] = (void *)get_token_info;
    }
    *out = &wrapped;
    return 0;
}
