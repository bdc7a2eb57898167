/*
 * asyncflow/errors.h: the result codes shared by the daemon, flow modules
 * and the client library (include/asyncflow/flow.h and
 * client/include/asyncflow.h both include it), af_strerror and af_errname.
 *
 * 0 is success. Positive AF_REJECTED is an answer (a rejected vow, a host
 * method that threw), not a failure. Negative codes are failures: AF_EINVAL
 * and AF_ENOMEM are -EINVAL and -ENOMEM, the domain codes sit at -30001
 * and below.
 *
 * AF_ERRNO_MAP is the one list: it generates the AF_* constants here, the
 * texts and names in common/errors.c, and the unit test's table. A new code
 * is one line in it.
 */
#ifndef AF_ERRORS_H
#define AF_ERRORS_H

#ifdef __cplusplus
extern "C" {
#endif

/* XX(name, value, text): AF_<name> is value; af_errname gives "<name>",
 * af_strerror the text (static, lower-case: it is embedded in log lines,
 * diagnostics and error replies). */
#define AF_ERRNO_MAP(XX) \
	XX(OK, 0, "success") \
	/* await: vow rejected; call: host threw */ \
	XX(REJECTED, 1, "rejected") \
	/* await, all, race: the activation was asked to stop (cancel) */ \
	XX(CANCELLED, 2, "cancelled") \
	/* bad argument (wrong type, NULL, bad name) */ \
	XX(EINVAL, -22, "invalid argument") \
	XX(ENOMEM, -12, "out of memory") \
	/* no such flow, object, method, vow, activation */ \
	XX(ENOTFOUND, -30001, "not found") \
	/* name registered twice */ \
	XX(EEXIST, -30002, "already exists") \
	/* vow already settled differently */ \
	XX(ESETTLED, -30003, "already settled") \
	/* wrong resolver */ \
	XX(EDENIED, -30004, "wrong resolver") \
	/* value too deep, too large */ \
	XX(ELIMIT, -30005, "value too deep or too large") \
	/* bytes are not a canonical encoding */ \
	XX(EDECODE, -30006, "malformed encoding") \
	/* resolving would make a vow chain a cycle */ \
	XX(ECYCLE, -30007, "vow chain would be a cycle") \
	/* the store failed (I/O, map full) */ \
	XX(ESTORE, -30008, "store failure") \
	/* the store's map is full */ \
	XX(EFULL, -30009, "store is full") \
	/* store written by a newer journal format */ \
	XX(EVERSION, -30010, "store written by a newer journal format") \
	/* not allowed in the current state */ \
	XX(ESTATE, -30011, "not allowed in the current state") \
	/* replay diverged (engine-internal) */ \
	XX(EDIVERGED, -30012, "replay diverged") \
	/* client: cannot connect, or connection lost */ \
	XX(ECONN, -30013, "cannot connect, or the connection was lost") \
	/* client/daemon: protocol violation */ \
	XX(EPROTO, -30014, "protocol error") \
	/* client: no answer within the timeout */ \
	XX(ETIMEDOUT, -30015, "timed out") \
	/* daemon: not now: the activation is not finished (purge), or an \
	 * upgrade is running already */ \
	XX(EBUSY, -30016, "busy")

enum af_errno {
#define AF__ERRNO_ENUM(name, value, text) AF_##name = (value),
	AF_ERRNO_MAP(AF__ERRNO_ENUM)
#undef AF__ERRNO_ENUM
};

/* Static text for a code; "unknown error" for one not in the map; never
 * NULL. */
const char *af_strerror(int code);
/* The code's symbolic name without "AF_", e.g. "ENOTFOUND"; "EUNKNOWN" for
 * one not in the map; never NULL. */
const char *af_errname(int code);

#ifdef __cplusplus
}
#endif
#endif /* AF_ERRORS_H */
