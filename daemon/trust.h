/*
 * trust.h: whether the daemon may trust its data directory before it opens
 * the store. The journal in it decides what code runs and holds resolver
 * secrets, so a directory another user can write to, or a path another
 * user can redirect, must stop the daemon at start-up rather than be used.
 *
 * Not here: opening the store (store_lmdb.c, the only LMDB user), the
 * socket's peer checks (server.c, and the client library's connect).
 */
#ifndef AF_TRUST_H
#define AF_TRUST_H

#include <stddef.h>

/*
 * The files of a data directory trust_data_dir checks when they exist
 * (NULL-terminated): LMDB's data.mdb and lock.mdb, the store's
 * asyncflowd.lock, the crash record, the default socket and the modules
 * directory (each of its files is checked too: the module copies, the
 * recorded set).
 */
extern const char *const trust_dir_files[];

/*
 * trust_data_dir: refuse a data directory that another user controls.
 * Checked, with this process's effective uid as "us" (root included):
 *   - every symlink met while resolving dir (in any component, and in the
 *     targets of those symlinks) is owned by us or by root;
 *   - every directory on the way (a relative dir starts at the working
 *     directory) is owned by us or by root and, unless it has the sticky
 *     bit, not writable by its group or others: otherwise someone else
 *     could rename dir away and put another in its place after the checks;
 *   - dir itself, examined through an open descriptor (fstat), is a
 *     directory owned by us and not writable by its group or others;
 *   - each name of trust_dir_files that exists in dir is opened with
 *     O_NOFOLLOW (or, for the socket, lstat'ed relative to that
 *     descriptor): not a symlink, of the expected type, owned by us, not
 *     writable by its group or others.
 * dir must exist. err, errlen: on failure a message naming the path and
 * the reason.
 *
 * Returns AF_OK; AF_EDENIED (not to be trusted: the message says why);
 * AF_ESTATE (the path could not be examined: no such directory, a loop of
 * symlinks, a permission error); AF_EINVAL (a path too long).
 */
int trust_data_dir(const char *dir, char *err, size_t errlen);

#endif /* AF_TRUST_H */
