/*
 * check_log.c: the daemon's log (daemon/log.c): one line per message,
 * whatever a message's arguments hold. Names that come from clients (a
 * served object, a client's name) must not start a line of their own.
 * On the journal (JOURNAL_STREAM names stderr), lines start with their
 * syslog priority.
 */
#include <sys/stat.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "testutil.h"

static char text[4096];

/* What stderr got while `say` logged `s`. */
static const char *
captured(void (*say)(const char *), const char *s)
{
	size_t n;
	FILE *f;
	int saved;

	ck_assert_ptr_nonnull(f = tmpfile());
	fflush(stderr);
	ck_assert_int_ge(saved = dup(2), 0);
	ck_assert_int_eq(dup2(fileno(f), 2), 2);
	log_set_level(LOG_INFO);
	say(s);
	fflush(stderr);
	ck_assert_int_eq(dup2(saved, 2), 2);
	close(saved);
	rewind(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

static void
say_info(const char *s)
{
	log_info("connection 1 serves %s (0 waiting)", s);
}

/* Through log_unlocked (the watchdog's writer), at warn. */
static void
say_unlocked(const char *s)
{
	log_unlocked(LOG_WARN, "activation %llu ran away: %s", 7ULL, s);
}

/* Log `s` as the argument of one info message; what stderr got. */
static const char *
logged(const char *s)
{
	return captured(say_info, s);
}

static const char *
logged_unlocked(const char *s)
{
	return captured(say_unlocked, s);
}

static int
lines(const char *s)
{
	int n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

START_TEST(test_log_control_characters_cannot_forge_a_line)
{
	const char *t;

	t = logged("bank\n2026-01-01T00:00:00.000Z asyncflowd error: forged");
	ck_assert_int_eq(lines(t), 1);
	ck_assert_msg(strstr(t, "bank\\n2026") != NULL, "%s", t);
	t = logged("a\rb\033[2Kc\x7f");
	ck_assert_int_eq(lines(t), 1);
	ck_assert_msg(strstr(t, "a\\rb\\x1b[2Kc\\x7f (0 waiting)") != NULL,
	    "%s", t);
	/* A backslash is escaped too, so that an escape cannot be forged. */
	t = logged("a\\nb");
	ck_assert_msg(strstr(t, "a\\\\nb") != NULL, "%s", t);
	/* Other bytes (UTF-8 included) are written as they are. */
	t = logged("caf\xc3\xa9");
	ck_assert_msg(strstr(t, "serves caf\xc3\xa9 (0") != NULL, "%s", t);
}
END_TEST

START_TEST(test_log_long_message_is_whole)
{
	static char big[3000];
	const char *t;

	memset(big, 'x', sizeof(big) - 1);
	t = logged(big);
	ck_assert_int_eq(lines(t), 1);
	ck_assert_ptr_nonnull(strstr(t, big));
}
END_TEST

/* What one warning and one debug line look like with JOURNAL_STREAM
 * naming stderr (same = true) or another file. */
static const char *
journal_logged(bool same)
{
	struct stat sb;
	char js[64];
	size_t n;
	FILE *f, *other;
	int saved;

	ck_assert_ptr_nonnull(f = tmpfile());
	ck_assert_ptr_nonnull(other = tmpfile());
	ck_assert_int_eq(fstat(fileno(same ? f : other), &sb), 0);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)sb.st_dev,
	    (unsigned long long)sb.st_ino);
	ck_assert_int_eq(setenv("JOURNAL_STREAM", js, 1), 0);
	fflush(stderr);
	ck_assert_int_ge(saved = dup(2), 0);
	ck_assert_int_eq(dup2(fileno(f), 2), 2);
	log_init();
	log_set_level(LOG_DEBUG);
	log_warn("w");
	log_debug("d");
	fflush(stderr);
	ck_assert_int_eq(dup2(saved, 2), 2);
	close(saved);
	unsetenv("JOURNAL_STREAM");
	log_init();
	rewind(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	fclose(other);
	return text;
}

/* The watchdog's writer takes no lock (no stdio, no gmtime) but writes the
 * line log_msg would: today's UTC date and time, the level, the message
 * escaped, one line even when it is cut. */
START_TEST(test_log_unlocked_writes_the_same_line)
{
	static char big[3000];
	char day0[16], day1[16];
	struct tm tm;
	time_t t0, t1;
	const char *t;

	t0 = time(NULL);
	t = logged_unlocked("bank\nforged");
	t1 = time(NULL);
	gmtime_r(&t0, &tm);
	strftime(day0, sizeof(day0), "%Y-%m-%dT", &tm);
	gmtime_r(&t1, &tm);
	strftime(day1, sizeof(day1), "%Y-%m-%dT", &tm);
	ck_assert_msg(strncmp(t, day0, strlen(day0)) == 0 ||
		strncmp(t, day1, strlen(day1)) == 0,
	    "%s (today is %s)", t, day0);
	/* HH:MM:SS.mmmZ after the date */
	ck_assert_msg(t[13] == ':' && t[16] == ':' && t[19] == '.' &&
		t[23] == 'Z' && t[24] == ' ',
	    "%s", t);
	ck_assert_msg(strstr(t,
			  "Z asyncflowd warn: activation 7 ran away: "
			  "bank\\nforged\n") != NULL,
	    "%s", t);
	ck_assert_int_eq(lines(t), 1);
	memset(big, 'x', sizeof(big) - 1);
	t = logged_unlocked(big);
	ck_assert_int_eq(lines(t), 1);
	ck_assert_msg(strstr(t, "ran away: xxxx") != NULL, "%s", t);
}
END_TEST

START_TEST(test_log_lines_carry_priorities_only_on_the_journal)
{
	const char *t;

	t = journal_logged(true);
	ck_assert_int_eq(lines(t), 2);
	ck_assert_msg(strncmp(t, "<4>", 3) == 0, "%s", t);
	ck_assert_msg(strstr(t, " asyncflowd warn: w\n<7>") != NULL, "%s", t);
	t = journal_logged(false);
	ck_assert_int_eq(lines(t), 2);
	ck_assert_msg(strchr(t, '<') == NULL, "%s", t);
}
END_TEST

static Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");

	tcase_add_test(tc, test_log_control_characters_cannot_forge_a_line);
	tcase_add_test(tc, test_log_long_message_is_whole);
	tcase_add_test(tc, test_log_lines_carry_priorities_only_on_the_journal);
	tcase_add_test(tc, test_log_unlocked_writes_the_same_line);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(log_suite)
