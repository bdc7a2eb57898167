/*
 * modules.h: loading flow modules (.so files) into the registry at start:
 * dlopen with RTLD_NOW | RTLD_LOCAL, the module ABI check, the entry point,
 * and errors that name the module and the reason (the loader's message, a
 * missing entry point, a wrong ABI, the init's return code with the name
 * the registry refused), content-addressed copies in the data directory
 * and the set recorded there (modules.c says why a file). A crash in a module's init is recorded in
 * DIR/modules/crashed before the process dies; the next start names the
 * module and refuses to load that same file again.
 *
 * Not here: the registry itself (registry.h), the guest API (flow.h), the
 * upgrade check (checker.h; main.c runs it when modules_set_differs).
 */
#ifndef AF_MODULES_H
#define AF_MODULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "asyncflow/flow.h"

/* Load the modules at paths[0..n) (as given on the command line: opened
 * as paths, relative to the current directory) into reg, in order, under
 * the data directory dir (which exists): each is copied to
 * dir/modules/SHA256.so and loaded from there, and once all have loaded
 * they replace the set recorded in dir/modules/set (copies the new set does
 * not name are then removed). With n == 0 the
 * recorded set is loaded (none if nothing was ever recorded). AF_OK, or
 * an AF_E* code with a message in err naming the module and why; then the
 * caller exits: modules loaded so far stay loaded; a module whose init
 * failed has nothing registered. Handles are never closed. */
int modules_load(const char *dir, const char *const *paths, size_t n,
    struct af_registry *reg, char *err, size_t errlen);

/* Whether the modules at paths[0..n) differ from the set recorded in
 * dir/modules/set (compared by SHA-256, in any order): a start with them
 * is an upgrade. No recorded set: *differs is false. AF_OK, or an error
 * with a message in err (a module that cannot be read names it). */
int modules_set_differs(const char *dir, const char *const *paths, size_t n,
    bool *differs, char *err, size_t errlen);

/* Load the modules at paths[0..n) into reg as they are, in order, for the
 * upgrade checker: nothing is copied, recorded or written in a data
 * directory (a crash in an init is not recorded: the checker's
 * supervisor sees the process die). AF_OK, or an AF_E* code with a
 * message in err naming the module and why. Handles are never closed. */
int modules_load_files(const char *const *paths, size_t n,
    struct af_registry *reg, char *err, size_t errlen);

/*
 * The live upgrade: a new registry with the built-in flows and the modules
 * at paths[0..n) (absolute; copied, loaded and recorded as modules_load
 * does; the strings must outlive the process: they label the modules).
 * On failure the set loaded before stays the current one, what loaded of
 * the new one is closed, and err names the module and why.
 */
int modules_registry(const char *dir, const char *const *paths, size_t n,
    struct af_registry **out, char *err, size_t errlen);
/* Close the set loaded before the last modules_registry, once nothing runs
 * its code (the engine switched: engine_swap_registry). */
void modules_unload_prev(void);

/* The modules loaded now: how many, and the i-th one's path as given
 * (NULL past the last), its SHA-256 (hex; "" for one the checker loaded)
 * and when it was loaded (ms since the epoch). */
size_t modules_count(void);
const char *modules_info(size_t i, const char **sha256, int64_t *since_ms);

#endif
