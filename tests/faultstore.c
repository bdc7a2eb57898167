/*
 * faultstore.c: fault injection through the store's fault hook (see
 * faultstore.h).
 */
#include <stdio.h>
#include <string.h>

#include "faultstore.h"

static const char *const call_names[STORE_CALL__COUNT] = {
	[STORE_CALL_BEGIN_READ] = "begin (read)",
	[STORE_CALL_BEGIN_WRITE] = "begin (write)",
	[STORE_CALL_COMMIT] = "commit",
	[STORE_CALL_GET] = "get",
	[STORE_CALL_PUT] = "put",
	[STORE_CALL_DEL] = "del",
	[STORE_CALL_CURSOR_OPEN] = "cursor_open",
	[STORE_CALL_CURSOR_GET] = "cursor_get",
	[STORE_CALL_SYNC] = "sync",
	[STORE_CALL_REOPEN] = "reopen",
};

static int
fault_hook(void *ctx, struct store *s, enum store_call call)
{
	struct faultstore *fs = ctx;
	struct faultstore_rule *r = &fs->rule[call];

	fs->calls[call]++;
	if (r->count == 0)
		return AF_OK;
	if (r->skip > 0) {
		r->skip--;
		return AF_OK;
	}
	if (r->count != FAULTSTORE_ALWAYS)
		r->count--;
	fs->failed[call]++;
	snprintf(s->errmsg, sizeof(s->errmsg), "injected fault: %s #%u (%s)",
	    call_names[call], fs->calls[call], af_strerror(r->code));
	return r->code;
}

void
faultstore_attach(struct faultstore *fs, struct store *s)
{
	memset(fs, 0, sizeof(*fs));
	fs->s = s;
	s->fault = fault_hook;
	s->fault_ctx = fs;
}

void
faultstore_detach(struct faultstore *fs)
{
	if (fs->s != NULL && fs->s->fault_ctx == fs) {
		fs->s->fault = NULL;
		fs->s->fault_ctx = NULL;
	}
	fs->s = NULL;
}

void
faultstore_reset(struct faultstore *fs)
{
	memset(fs->calls, 0, sizeof(fs->calls));
	memset(fs->failed, 0, sizeof(fs->failed));
	memset(fs->rule, 0, sizeof(fs->rule));
}

void
faultstore_fail(struct faultstore *fs, enum store_call call, unsigned skip,
    unsigned count, int code)
{
	fs->rule[call].skip = skip;
	fs->rule[call].count = count;
	fs->rule[call].code = code;
}
