/*
 * errors.c: af_strerror and af_errname for every AF_* result code, both
 * generated from AF_ERRNO_MAP (include/asyncflow/errors.h). Compiled into
 * both the daemon's core and the client library.
 */
#include "asyncflow/errors.h"

const char *
af_strerror(int code)
{
	switch (code) {
#define STRERROR_GEN(name, value, text) \
	case AF_##name: \
		return text;
		AF_ERRNO_MAP(STRERROR_GEN)
#undef STRERROR_GEN
	default:
		return "unknown error";
	}
}

const char *
af_errname(int code)
{
	switch (code) {
#define ERRNAME_GEN(name, value, text) \
	case AF_##name: \
		return #name;
		AF_ERRNO_MAP(ERRNAME_GEN)
#undef ERRNAME_GEN
	default:
		return "EUNKNOWN";
	}
}
