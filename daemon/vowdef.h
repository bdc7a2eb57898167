/*
 * vowdef.h: the words for a vow that the vow table, its row codec and the
 * engine's callers share — its states and the length of a resolver secret.
 * Nothing else: the table is vows.h, the row layout tables.h.
 */
#ifndef AF_VOWDEF_H
#define AF_VOWDEF_H

enum vow_state {
	VOW_PENDING = 1,
	VOW_FULFILLED = 2,
	VOW_REJECTED = 3,
	VOW_FOLLOWING = 4,
};

#define VOW_SECRET_LEN 16

#endif /* AF_VOWDEF_H */
