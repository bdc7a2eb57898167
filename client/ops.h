/*
 * ops.h: the protocol's operations as the client library knows them, one
 * line each. Private to client/ (not installed, not part of asyncflow.h).
 *
 * From this list conn.c builds result_for() (which result a successful
 * answer must carry) and calls.c the call_REQ() function every blocking
 * wrapper sends its request with. A new request is one XX line here, its
 * af_ function in calls.c (the arguments into the request message, the
 * answer out of the result) and its declaration in asyncflow.h.
 *
 *   XX(OP, req, Req, RESULT)
 *     OP      the request's oneof case, ASYNCFLOW__REQUEST__OP_<OP>
 *     req     the Request field holding the operation's message
 *     Req     the message's type, Asyncflow__<Req>
 *     RESULT  the result of a successful answer,
 *             ASYNCFLOW__RESPONSE__RESULT_<RESULT>
 *
 * hello is not here: it is the handshake (conn.c), which af_request
 * refuses.
 */
#ifndef AF_OPS_H
#define AF_OPS_H

#define AF_OPS(XX) \
	XX(START, start, StartFlow, START) \
	XX(MKVOW, mkvow, MakeVow, MKVOW) \
	XX(SETTLE, settle, SettleVow, VOW) \
	XX(GET_VOW, get_vow, GetVow, VOW) \
	XX(WATCH_VOW, watch_vow, WatchVow, VOW) \
	XX(LIST, list, ListActivations, LIST) \
	XX(SHOW, show, ShowActivation, SHOW) \
	XX(JOURNAL, journal, DumpJournal, JOURNAL) \
	XX(FAILURES, failures, ListFailures, LIST) \
	XX(WAKE, wake, Wake, WAKE) \
	XX(STATS, stats, Stats, STATS) \
	XX(SERVE, serve, Serve, SERVE) \
	XX(TERMINATE, terminate, Terminate, TERMINATE) \
	XX(PURGE, purge, Purge, PURGE) \
	XX(UPGRADE, upgrade, Upgrade, UPGRADE) \
	XX(CANCEL, cancel, Cancel, CANCEL) \
	XX(CALL, call, CallExport, CALL)

#endif /* AF_OPS_H */
