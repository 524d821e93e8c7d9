/*
 * A card pulled out of its reader in the middle of a decryption, for tests/it/envelope.rs: nothing here can pull
 * a real card, so this module stands in front of SoftHSM2 (TARGET, the library it loads) and forwards every call to
 * it, except that C_Decrypt answers CKR_DEVICE_REMOVED and from then on the slot is empty (C_GetSlotList with
 * tokenPresent lists nothing, C_GetTokenInfo answers CKR_TOKEN_NOT_PRESENT) — what a middleware reports when the
 * card leaves the reader.
 *
 * Linux only (dlopen); the function list is copied as an array of pointers (PKCS#11 v2.40 order, natural alignment).
 */
#include <dlfcn.h>
#include <string.h>

typedef unsigned long CK_ULONG;
typedef CK_ULONG CK_RV;
typedef struct { unsigned char major, minor; } CK_VERSION;
#define FUNCTIONS 68
typedef struct { CK_VERSION version; void *f[FUNCTIONS]; } FUNCTION_LIST;
typedef CK_RV (*GetFunctionList)(FUNCTION_LIST **);
typedef CK_RV (*GetSlotList)(unsigned char, CK_ULONG *, CK_ULONG *);
typedef CK_RV (*GetTokenInfo)(CK_ULONG, void *);

#define F_GET_SLOT_LIST 4
#define F_GET_TOKEN_INFO 6
#define F_DECRYPT 34

static FUNCTION_LIST *real;
static FUNCTION_LIST mine;
static int pulled;

static CK_RV get_slot_list(unsigned char present, CK_ULONG *list, CK_ULONG *count) {
    if (pulled && present) { *count = 0; return 0; }
    return ((GetSlotList)real->f[F_GET_SLOT_LIST])(present, list, count);
}

static CK_RV get_token_info(CK_ULONG slot, void *info) {
    if (pulled) return 0xE0UL; /* CKR_TOKEN_NOT_PRESENT */
    return ((GetTokenInfo)real->f[F_GET_TOKEN_INFO])(slot, info);
}

static CK_RV decrypt(CK_ULONG session, void *in, CK_ULONG in_len, void *out, CK_ULONG *out_len) {
    (void)session; (void)in; (void)in_len; (void)out; (void)out_len;
    pulled = 1;
    return 0x32UL; /* CKR_DEVICE_REMOVED */
}

CK_RV C_GetFunctionList(FUNCTION_LIST **out) {
    if (!real) {
        void *lib = dlopen(TARGET, RTLD_NOW | RTLD_LOCAL);
        if (!lib) return 5UL; /* CKR_GENERAL_ERROR */
        GetFunctionList get = (GetFunctionList)dlsym(lib, "C_GetFunctionList");
        if (!get || get(&real) != 0) return 5UL;
        memcpy(&mine, real, sizeof mine);
        mine.f[3] = (void *)C_GetFunctionList;
        mine.f[F_GET_SLOT_LIST] = (void *)get_slot_list;
        mine.f[F_GET_TOKEN_INFO] = (void *)get_token_info;
        mine.f[F_DECRYPT] = (void *)decrypt;
    }
    *out = &mine;
    return 0;
}
