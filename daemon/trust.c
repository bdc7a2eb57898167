/*
 * trust.c: the start-up checks of the data directory (see trust.h).
 *
 * The path is resolved by hand, one component at a time with lstat, so
 * that every symlink on the way, and in the targets of those symlinks, is
 * seen and its owner checked: a symlink owned by another user is how a
 * path is redirected to a directory that user controls. The directory is
 * then opened and examined through its descriptor (fstat), and its files
 * relative to that descriptor with O_NOFOLLOW, so that what is checked is
 * what was opened, not a name that may have been swapped since.
 *
 * The residual window: LMDB opens data.mdb and lock.mdb itself, by name,
 * after these checks (mdb_env_open takes a path, not a descriptor). A
 * file swapped between the check and that open can only be swapped by
 * someone who can write to the directory, and the checks have just shown
 * that nobody but us (and root) can: the window is closed by the
 * directory's own permissions, not by the order of the calls. The same
 * holds one level up: the directory itself could be renamed away by
 * whoever may write to a directory on its path, so those must be ours or
 * root's, and not writable by others unless sticky.
 *
 * Not here: the socket's peer credentials (server.c, client/conn.c).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "asyncflow/errors.h"
#include "trust.h"

/* Symlinks followed while resolving one path, as the kernel's limit. */
#define TRUST_MAX_LINKS 40

const char *const trust_dir_files[] = { "data.mdb", "lock.mdb",
	"asyncflowd.lock", "crashed", "asyncflowd.sock", "modules", NULL };

/* Whether a file owned by uid may be trusted by this process. */
static bool
owned_by_us(uid_t uid)
{
	return uid == geteuid();
}

/*
 * A directory on the way to the data directory (sb, lstat'ed at cur): who
 * can rename its entries can swap the data directory for another after
 * the checks. That is its owner, so it must be us or root, and, unless
 * the sticky bit restricts renames to an entry's owner (as on /tmp),
 * whoever may write to it, so nobody else may.
 */
static int
check_ancestor(const char *path, const char *cur, const struct stat *sb,
    char *err, size_t errlen)
{
	if (!owned_by_us(sb->st_uid) && sb->st_uid != 0) {
		snprintf(err, errlen,
		    "data directory %s: %s is owned by uid %ld, neither this "
		    "daemon's uid %ld nor root: its owner could swap the data "
		    "directory",
		    path, cur, (long)sb->st_uid, (long)geteuid());
		return AF_EDENIED;
	}
	if ((sb->st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    (sb->st_mode & S_ISVTX) == 0) {
		snprintf(err, errlen,
		    "data directory %s: %s is writable by %s (mode %04o) "
		    "without the sticky bit: anyone who can write there could "
		    "swap the data directory",
		    path, cur,
		    (sb->st_mode & S_IWGRP) && (sb->st_mode & S_IWOTH) ?
			"its group and others" :
			(sb->st_mode & S_IWGRP) ? "its group" :
						  "others",
		    (unsigned)(sb->st_mode & 07777));
		return AF_EDENIED;
	}
	return AF_OK;
}

/* Resolve path component by component; every symlink met must be owned
 * by us or by root. */
static int
check_links(const char *path, char *err, size_t errlen)
{
	char cur[PATH_MAX], link[PATH_MAX], next[PATH_MAX], save, *slash;
	struct stat sb;
	size_t i, len, dirlen;
	const char *rest;
	int nlinks = 0, n, rc;
	ssize_t ln;

	/* Relative to the working directory, whose ancestors count too. */
	if (path[0] == '/')
		n = snprintf(cur, sizeof(cur), "%s", path);
	else if (getcwd(link, sizeof(link)) == NULL) {
		snprintf(err, errlen, "data directory %s: getcwd: %s", path,
		    strerror(errno));
		return AF_ESTATE;
	} else
		n = snprintf(cur, sizeof(cur), "%s/%s", link, path);
	if (n < 0 || n >= (int)sizeof(cur)) {
		snprintf(err, errlen, "data directory %s: path too long", path);
		return AF_EINVAL;
	}
restart:
	len = strlen(cur);
	for (i = 1; i <= len; i++) {
		if (i < len && cur[i] != '/')
			continue;
		save = cur[i];
		cur[i] = '\0';
		if (lstat(cur, &sb) != 0) {
			snprintf(err, errlen, "data directory %s: %s: %s", path,
			    cur, strerror(errno));
			return AF_ESTATE;
		}
		if (!S_ISLNK(sb.st_mode)) {
			if (i < len &&
			    (rc = check_ancestor(path, cur, &sb, err,
				 errlen)) != AF_OK)
				return rc;
			cur[i] = save;
			continue;
		}
		if (!owned_by_us(sb.st_uid) && sb.st_uid != 0) {
			snprintf(err, errlen,
			    "data directory %s: %s is a symlink owned by uid "
			    "%ld, neither this daemon's uid %ld nor root: "
			    "refusing to follow it",
			    path, cur, (long)sb.st_uid, (long)geteuid());
			return AF_EDENIED;
		}
		if (++nlinks > TRUST_MAX_LINKS ||
		    (ln = readlink(cur, link, sizeof(link) - 1)) < 0) {
			snprintf(err, errlen, "data directory %s: %s: %s", path,
			    cur,
			    nlinks > TRUST_MAX_LINKS ? strerror(ELOOP) :
						       strerror(errno));
			return AF_ESTATE;
		}
		link[ln] = '\0';
		rest = save != '\0' ? cur + i + 1 : "";
		if (link[0] == '/') {
			n = snprintf(next, sizeof(next), "%s/%s", link, rest);
		} else {
			/* Relative to the directory holding the symlink. */
			slash = strrchr(cur, '/');
			dirlen = slash != NULL ? (size_t)(slash - cur) + 1 : 0;
			n = snprintf(next, sizeof(next), "%.*s%s/%s",
			    (int)dirlen, cur, link, rest);
		}
		if (n < 0 || n >= (int)sizeof(next)) {
			snprintf(err, errlen,
			    "data directory %s: path too long once %s is "
			    "resolved",
			    path, cur);
			return AF_EINVAL;
		}
		memcpy(cur, next, (size_t)n + 1);
		goto restart;
	}
	return AF_OK;
}

/* What st says about a file we are to trust: NULL if fine, else why. */
static const char *
untrusted(const struct stat *st, mode_t type, char *why, size_t whylen)
{
	if ((st->st_mode & S_IFMT) != type) {
		snprintf(why, whylen, "not a %s",
		    type == S_IFDIR      ? "directory" :
			type == S_IFSOCK ? "socket" :
					   "regular file");
		return why;
	}
	if (!owned_by_us(st->st_uid)) {
		snprintf(why, whylen,
		    "owned by uid %ld, not by this daemon's "
		    "uid %ld",
		    (long)st->st_uid, (long)geteuid());
		return why;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(why, whylen, "writable by %s (mode %04o)",
		    (st->st_mode & S_IWGRP) && (st->st_mode & S_IWOTH) ?
			"its group and others" :
			(st->st_mode & S_IWGRP) ? "its group" :
						  "others",
		    (unsigned)(st->st_mode & 07777));
		return why;
	}
	return NULL;
}

/* One file of the directory, if it exists. */
static int
check_file(int dfd, const char *dir, const char *name, char *err, size_t errlen)
{
	struct stat st;
	char why[128];
	int fd, rc = AF_OK;
	mode_t type = strcmp(name, "asyncflowd.sock") == 0 ? S_IFSOCK :
	    strcmp(name, "modules") == 0                   ? S_IFDIR :
							     S_IFREG;

	if (type == S_IFSOCK) {
		/* A socket cannot be opened: lstat it through the dir. */
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			goto noent;
	} else {
		fd = openat(dfd, name,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY |
			(type == S_IFDIR ? O_DIRECTORY : 0));
		if (fd < 0) {
			if (errno == ELOOP) {
				snprintf(err, errlen,
				    "data directory %s: %s is a symlink: "
				    "refusing to follow it",
				    dir, name);
				return AF_EDENIED;
			}
			goto noent;
		}
		if (fstat(fd, &st) != 0) {
			close(fd);
			goto noent;
		}
		close(fd);
	}
	if (S_ISLNK(st.st_mode)) {
		snprintf(err, errlen,
		    "data directory %s: %s is a symlink: refusing to follow it",
		    dir, name);
		return AF_EDENIED;
	}
	if (untrusted(&st, type, why, sizeof(why)) != NULL) {
		snprintf(err, errlen,
		    "data directory %s: %s is %s: refusing to trust it", dir,
		    name, why);
		rc = AF_EDENIED;
	}
	return rc;
noent:
	if (errno == ENOENT)
		return AF_OK;
	snprintf(err, errlen, "data directory %s: %s: %s", dir, name,
	    strerror(errno));
	return AF_ESTATE;
}

/* Every entry of dir/modules (the module copies, the recorded set, the
 * init crash record), checked as check_file does, named modules/NAME:
 * they are code the daemon runs, or say which. */
static int
check_modules(int dfd, const char *dir, char *err, size_t errlen)
{
	char name[NAME_MAX + 16];
	struct dirent *de;
	int mfd, rc = AF_OK;
	DIR *d;

	mfd = openat(dfd, "modules",
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (mfd < 0)
		return AF_OK; /* none, or refused by check_file already */
	if ((d = fdopendir(mfd)) == NULL) {
		close(mfd);
		snprintf(err, errlen, "data directory %s: modules: %s", dir,
		    strerror(errno));
		return AF_ESTATE;
	}
	while (rc == AF_OK && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(name, sizeof(name), "modules/%s", de->d_name);
		rc = check_file(dfd, dir, name, err, errlen);
	}
	closedir(d);
	return rc;
}

int
trust_data_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	char why[128];
	int dfd, rc;
	size_t i;

	if ((rc = check_links(dir, err, errlen)) != AF_OK)
		return rc;
	/* Every symlink on the way is ours or root's: follow them now. */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "data directory %s: %s", dir,
		    strerror(errno));
		return AF_ESTATE;
	}
	if (fstat(dfd, &st) != 0) {
		snprintf(err, errlen, "data directory %s: %s", dir,
		    strerror(errno));
		close(dfd);
		return AF_ESTATE;
	}
	if (untrusted(&st, S_IFDIR, why, sizeof(why)) != NULL) {
		snprintf(err, errlen,
		    "data directory %s is %s: refusing to trust it", dir, why);
		close(dfd);
		return AF_EDENIED;
	}
	for (i = 0; trust_dir_files[i] != NULL; i++)
		if ((rc = check_file(dfd, dir, trust_dir_files[i], err,
			 errlen)) != AF_OK)
			break;
	if (rc == AF_OK)
		rc = check_modules(dfd, dir, err, errlen);
	close(dfd);
	return rc;
}
