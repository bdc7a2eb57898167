/*
 * metrics.h: the optional HTTP endpoint for monitoring (--metrics
 * ADDR:PORT): /metrics in Prometheus text exposition format 0.0.4 and
 * /healthz, served by libevent's evhttp on the daemon's loop. Part of the
 * server layer (it and server.c are the only users of libevent). It is
 * unauthenticated: whoever reaches the port reads every counter, so it is
 * off unless asked for, and should be bound to a trusted address.
 *
 * Not here: the counters themselves (struct engine_stats, engine.h; the
 * api's connections and served objects, api.h).
 */
#ifndef AF_METRICS_H
#define AF_METRICS_H

#include <stddef.h>

struct api;
struct engine;
struct event_base;
struct metrics;

/*
 * Parse spec ("127.0.0.1:9100", "[::1]:9100", "localhost:9100"; port 0
 * picks a free one) and make a listening TCP socket there, close-on-exec
 * and non-blocking; logs the address it listens on. Returns the fd, or -1
 * with a message in err naming what is wrong (no port, an address that
 * does not resolve, a port in use).
 */
int metrics_listen(const char *spec, char *err, size_t errlen);

/*
 * Serve fd (from metrics_listen; the endpoint owns it from now on, also
 * on failure) on base, reading e and api at each request (all
 * borrowed: they must outlive the endpoint). NULL with err set if out of
 * memory. metrics_free(NULL) does nothing.
 */
struct metrics *metrics_new(struct event_base *base, int fd, struct engine *e,
    struct api *api, char *err, size_t errlen);
void metrics_free(struct metrics *m);

/*
 * /healthz's answer: 200 when the store accepts writes now
 * (engine_writable), else 503. why gets the body: "ok", or the reason on
 * one line. Call between passes (no transaction open).
 */
int metrics_health(struct engine *e, char *why, size_t whylen);

#endif /* AF_METRICS_H */
