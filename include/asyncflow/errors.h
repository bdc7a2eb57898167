/*
 * asyncflow/errors.h: the result codes shared by the daemon, flow modules
 * and the client library (include/asyncflow/flow.h and
 * client/include/asyncflow.h both include it), and af_strerror.
 *
 * 0 is success. Positive AF_REJECTED is an answer (a rejected vow, a host
 * method that threw), not a failure. Negative codes are failures: system
 * ones are -errno values, domain ones sit at -30001 and below.
 */
#ifndef ASYNCFLOW_ERRORS_H
#define ASYNCFLOW_ERRORS_H

#ifdef __cplusplus
extern "C" {
#endif

#define AF_OK         0
#define AF_REJECTED   1     /* await: vow rejected; call: host threw */
#define AF_EINVAL    (-22)  /* bad argument (wrong type, NULL, bad name) */
#define AF_ENOMEM    (-12)
#define AF_ENOTFOUND (-30001) /* no such flow, object, method, vow, activation */
#define AF_EEXIST    (-30002) /* name registered twice */
#define AF_ESETTLED  (-30003) /* vow already settled differently */
#define AF_EDENIED   (-30004) /* wrong resolver */
#define AF_ELIMIT    (-30005) /* value too deep, too large */
#define AF_EDECODE   (-30006) /* bytes are not a canonical encoding */
#define AF_ECYCLE    (-30007) /* resolving would make a vow chain a cycle */
#define AF_ESTORE    (-30008) /* the store failed (I/O, map full) */
#define AF_EFULL     (-30009) /* the store's map is full */
#define AF_EVERSION  (-30010) /* store written by a newer journal format */
#define AF_ESTATE    (-30011) /* not allowed in the current state */
#define AF_EDIVERGED (-30012) /* replay diverged (engine-internal) */

#define AF_ECONN     (-30013) /* client: cannot connect, or connection lost */
#define AF_EPROTO    (-30014) /* client/daemon: protocol violation */
#define AF_ETIMEDOUT (-30015) /* client: no answer within the timeout */

/* Static text for a code; never NULL. */
const char *af_strerror(int code);
/* The code's symbolic name without "AF_", e.g. "ENOTFOUND"; never NULL. */
const char *af_errname(int code);

#ifdef __cplusplus
}
#endif
#endif /* ASYNCFLOW_ERRORS_H */
