/*
 * asyncflow/version.h: the release of asyncflowd, asyncflowctl and
 * libasyncflow, and the journal format that release reads and writes, so
 * that both programs' --version can say which they are.
 *
 * Not here: the protocol version and limits (asyncflow/protocol.h); the
 * rules for changing the journal format (daemon/journal.h, whose
 * JOURNAL_FORMAT is AF_JOURNAL_FORMAT).
 */
#ifndef AF_VERSION_H
#define AF_VERSION_H

/* The release: MAJOR.MINOR.PATCH. */
#define AF_VERSION "0.5.0"

/* The journal format of this release (the store's meta key "format"). */
#define AF_JOURNAL_FORMAT 3

#endif /* AF_VERSION_H */
