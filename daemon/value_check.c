/*
 * value_check.c: validates a value a guest handed over (an outcome, the
 * args of a call or send, a settlement) before anything else in the daemon
 * walks it. Guest values may be built by hand, so nothing about them can be
 * assumed: the walk is bounded in depth and in nodes, notices a value that
 * contains itself, and reads the guest's memory under a fault guard
 * (guard.h), so a list whose length lies or a dangling pointer is a
 * diagnostic, not a dead daemon. Not here: UTF-8 and record-key order
 * (value_encode checks those, and the walk is then known to be safe).
 */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "guard.h"
#include "value_int.h"

struct walk {
	const struct af_value *path[AF_VALUE_MAX_DEPTH + 1];
	size_t budget; /* bytes left: each node costs 2, a string its len */
	size_t page;
	const char *why;
	volatile unsigned char sink;
};

/* Read one byte per page of p[0..n), and the last, so that unreadable
 * memory faults here, under the guard. */
static void
touch(struct walk *w, const char *p, size_t n)
{
	size_t i;

	if (n == 0)
		return;
	for (i = 0; i < n; i += w->page)
		w->sink = (unsigned char)p[i];
	w->sink = (unsigned char)p[n - 1];
}

static bool
str_ok(struct walk *w, struct af_str s, const char *what)
{
	if (s.len > w->budget) {
		w->why = "larger than the value size limit";
		return false;
	}
	if (s.ptr == NULL && (s.len > 0 || what != NULL)) {
		w->why = what != NULL ? what : "a string with a NULL pointer";
		return false;
	}
	w->budget -= s.len;
	touch(w, s.ptr, s.len);
	return true;
}

static bool
walk(struct walk *w, const struct af_value *v, int depth)
{
	const struct af_value *c;
	size_t i, n;
	int k;

	if (v == NULL) {
		w->why = "a NULL value inside it";
		return false;
	}
	if (depth >= AF_VALUE_MAX_DEPTH) {
		w->why = "nested deeper than the depth limit";
		return false;
	}
	if (w->budget < 2) {
		w->why = "larger than the value size limit";
		return false;
	}
	w->budget -= 2;
	w->path[depth] = v;
	switch (v->type) {
	case AF_NULL:
	case AF_BOOL:
	case AF_INT:
	case AF_DOUBLE:
	case AF_VOW:
	case AF_RESOLVER:
		return true;
	case AF_STRING:
	case AF_BYTES:
		return str_ok(w, v->u.s, NULL);
	case AF_OBJ:
		return str_ok(w, v->u.s, "an object reference with no name");
	case AF_ERROR:
		return str_ok(w, v->u.err.name, "an error with no name") &&
		    str_ok(w, v->u.err.message, "an error with no message");
	case AF_LIST:
	case AF_RECORD:
		n = v->type == AF_LIST ? v->u.list.len : v->u.rec.len;
		if (n > w->budget / 2) {
			w->why = "a list or record whose length is larger "
				 "than the value size limit allows";
			return false;
		}
		if (n > 0 &&
		    (v->type == AF_LIST ? (void *)v->u.list.items :
					  (void *)v->u.rec.fields) == NULL) {
			w->why = "a list or record with a length but no items";
			return false;
		}
		for (i = 0; i < n; i++) {
			if (v->type == AF_LIST)
				c = v->u.list.items[i];
			else {
				if (!str_ok(w, v->u.rec.fields[i].key,
					"a record field with no key"))
					return false;
				c = v->u.rec.fields[i].value;
			}
			for (k = 0; k <= depth; k++)
				if (w->path[k] == c) {
					w->why = "a list or record that "
						 "contains itself";
					return false;
				}
			if (!walk(w, c, depth + 1))
				return false;
		}
		return true;
	default:
		w->why = "an unknown type";
		return false;
	}
}

static int
walk_root(void *arg)
{
	struct walk *w = arg;

	return walk(w, w->path[0], 0) ? 0 : 1;
}

int
value_check(const struct af_value *v, char *why, size_t whylen)
{
	struct walk w;
	long pg = sysconf(_SC_PAGESIZE);
	int rc;

	w.budget = MAXB;
	w.page = pg > 0 ? (size_t)pg : 4096;
	w.why = NULL;
	w.path[0] = v;
	if ((rc = guard_run(walk_root, &w)) == 0)
		return AF_OK;
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s",
		    rc < 0 ? "it points to memory that cannot be read (a "
			     "length that lies, or a dangling pointer)" :
			     w.why);
	return AF_EINVAL;
}
