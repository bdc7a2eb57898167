/*
 * dbstat.c: how many rows each table of a data directory holds and the
 * pages they take, from the store's own counters (store_db_stat: LMDB's
 * mdb_stat), for the end-to-end tests of retention and the retention
 * benchmark: "what a pruned activation left" is a row count, not a file
 * size (LMDB keeps freed pages in its file).
 *
 * Usage: dbstat DIR. Prints one line per table but meta, "NAME ENTRIES
 * PAGES", then "total ENTRIES PAGES". The daemon must not be running on
 * DIR (the store's lock keeps a second opener out). Exit 0, or 1 with a
 * message. Not a general tool: names are the store's own.
 */
#include <stdio.h>

#include "store.h"

int
main(int argc, char **argv)
{
	struct store_opts so = { .durability = STORE_NONE };
	struct store_db_stat st, sum = { 0, 0 };
	struct store_txn *t;
	struct store *s;
	char err[256];
	int db, rc;

	if (argc != 2) {
		fprintf(stderr, "usage: dbstat DIR\n");
		return 1;
	}
	if (store_open_lmdb(argv[1], &so, &s, err, sizeof(err)) != AF_OK) {
		fprintf(stderr, "dbstat: %s: %s\n", argv[1], err);
		return 1;
	}
	if ((rc = store_begin(s, true, &t)) != AF_OK) {
		fprintf(stderr, "dbstat: %s\n", store_errmsg(s));
		store_close(s);
		return 1;
	}
	for (db = DB_META + 1; db < DB__COUNT; db++) {
		if ((rc = store_db_stat(t, (enum store_db)db, &st)) != AF_OK) {
			fprintf(stderr, "dbstat: %s\n", store_errmsg(s));
			break;
		}
		printf("%s %llu %llu\n", store_db_name((enum store_db)db),
		    (unsigned long long)st.entries,
		    (unsigned long long)st.pages);
		sum.entries += st.entries;
		sum.pages += st.pages;
	}
	store_abort(t);
	store_close(s);
	if (rc != AF_OK)
		return 1;
	printf("total %llu %llu\n", (unsigned long long)sum.entries,
	    (unsigned long long)sum.pages);
	return 0;
}
