/*
 * errors.c: af_strerror and af_errname for every AF_* result code
 * (include/asyncflow/errors.h). Compiled into both the daemon's core and
 * the client library. The texts are static and lower-case: they are
 * embedded in log lines, diagnostics and error replies.
 */
#include "asyncflow/errors.h"

#define AF_ERRORS(X)							\
	X(AF_OK, "OK", "success")					\
	X(AF_REJECTED, "REJECTED", "rejected")				\
	X(AF_EINVAL, "EINVAL", "invalid argument")			\
	X(AF_ENOMEM, "ENOMEM", "out of memory")				\
	X(AF_ENOTFOUND, "ENOTFOUND", "not found")			\
	X(AF_EEXIST, "EEXIST", "already exists")			\
	X(AF_ESETTLED, "ESETTLED", "already settled")			\
	X(AF_EDENIED, "EDENIED", "wrong resolver")			\
	X(AF_ELIMIT, "ELIMIT", "value too deep or too large")		\
	X(AF_EDECODE, "EDECODE", "malformed encoding")			\
	X(AF_ECYCLE, "ECYCLE", "vow chain would be a cycle")		\
	X(AF_ESTORE, "ESTORE", "store failure")				\
	X(AF_EFULL, "EFULL", "store is full")				\
	X(AF_EVERSION, "EVERSION", "store written by a newer journal format") \
	X(AF_ESTATE, "ESTATE", "not allowed in the current state")	\
	X(AF_EDIVERGED, "EDIVERGED", "replay diverged")			\
	X(AF_ECONN, "ECONN", "cannot connect, or the connection was lost") \
	X(AF_EPROTO, "EPROTO", "protocol error")			\
	X(AF_ETIMEDOUT, "ETIMEDOUT", "timed out")

const char *
af_strerror(int code)
{
	switch (code) {
#define X(c, name, text) case c: return text;
	AF_ERRORS(X)
#undef X
	default:
		return "unknown error";
	}
}

const char *
af_errname(int code)
{
	switch (code) {
#define X(c, name, text) case c: return name;
	AF_ERRORS(X)
#undef X
	default:
		return "EUNKNOWN";
	}
}
