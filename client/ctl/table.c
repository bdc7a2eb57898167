/*
 * table.c: asyncflowctl's output for people: -o table (the default when
 * stdout is a terminal) for ls, failures, show, journal, stats and
 * modules, and key/value lines for the other answers; ISO 8601 times; the
 * progress line on stderr while a command waits.
 *
 * Tables are rendered from the same JSON the command would print with -o
 * json, so the two formats cannot disagree about what an answer holds.
 * The JSON is the contract with scripts; these tables are for reading and
 * may change (columns are named in a header line, cells never contain a
 * newline).
 *
 * Not here: building the answers (cmds.c, json.c), choosing the format
 * (-o, main.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

/* ---- Times ---------------------------------------------------------------- */

const char *
iso_time(int64_t ms, char *buf, size_t n)
{
	time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	int frac = (int)(ms - (int64_t)secs * 1000);
	struct tm tm;
	char date[32];

	if (gmtime_r(&secs, &tm) == NULL ||
	    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(buf, n, "%" PRId64 " ms", ms);
		return buf;
	}
	snprintf(buf, n, "%s.%03dZ", date, frac);
	return buf;
}

/* ---- Cells ------------------------------------------------------------------ */

/* A growable string; out of memory exits. */
struct str {
	char *p;
	size_t len, cap;
};

static void PRINTFLIKE(2, 3) sadd(struct str *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(s->p ? s->p + s->len : NULL,
		    s->p ? s->cap - s->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			nomem();
		if (s->p != NULL && (size_t)n < s->cap - s->len) {
			s->len += (size_t)n;
			return;
		}
		s->cap = (s->len + (size_t)n + 1) * 2;
		if ((s->p = realloc(s->p, s->cap)) == NULL)
			nomem();
	}
}

/* The string (the struct is left empty); "" if nothing was added. */
static char *
sdetach(struct str *s)
{
	char *p = s->p ? s->p : xstrdup("");

	s->p = NULL;
	s->len = s->cap = 0;
	return p;
}

/* A value as one cell: strings bare, {"@vow": N} as "vow N", the rest as
 * compact JSON. */
static void
add_value(struct str *s, const json_t *j)
{
	const json_t *id;
	char *d;

	if (j == NULL) {
		sadd(s, "-");
		return;
	}
	if (json_is_object(j) && json_object_size(j) == 1 &&
	    (id = json_object_get(j, "@vow")) != NULL && json_is_integer(id)) {
		sadd(s, "vow %" JSON_INTEGER_FORMAT, json_integer_value(id));
		return;
	}
	if (json_is_string(j)) {
		sadd(s, "%s", json_string_value(j));
		return;
	}
	d = json_dumps(j,
	    JSON_ENCODE_ANY | JSON_COMPACT |
		JSON_REAL_PRECISION(json_real_precision));
	if (d == NULL)
		nomem();
	sadd(s, "%s", d);
	free(d);
}

static char *
value_cell(const json_t *j)
{
	struct str s = { NULL, 0, 0 };

	add_value(&s, j);
	return sdetach(&s);
}

/* The key's value of object o as a cell ("-" if absent). */
static char *
key_cell(const json_t *o, const char *key)
{
	return value_cell(json_object_get(o, key));
}

/* Characters a terminal would act on become spaces: a cell is one line. */
static void
clean(char *p)
{
	for (; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
}

/* Columns a UTF-8 string takes (one per code point). */
static size_t
width(const char *p)
{
	size_t w = 0;

	for (; *p != '\0'; p++)
		if (((unsigned char)*p & 0xc0) != 0x80)
			w++;
	return w;
}

/* Cut a cell to `max` columns, ending it with "...". */
static void
cut(char *p, size_t max)
{
	size_t w = 0;
	char *q;

	if (width(p) <= max)
		return;
	for (q = p; *q != '\0'; q++) {
		if (((unsigned char)*q & 0xc0) != 0x80 && ++w > max - 3)
			break;
	}
	strcpy(q, "...");
}

/* ---- Tables ------------------------------------------------------------------ */

#define MAXCOLS 10

struct table {
	int ncols;
	const char *head[MAXCOLS];
	size_t max[MAXCOLS]; /* 0: no limit */
	char **cells;        /* row-major */
	size_t nrows, cap;
};

static void
table_row(struct table *t, char **row)
{
	int i;

	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->cells = realloc(t->cells,
		    t->cap * (size_t)t->ncols * sizeof(*t->cells));
		if (t->cells == NULL)
			nomem();
	}
	for (i = 0; i < t->ncols; i++) {
		clean(row[i]);
		if (t->max[i] > 3)
			cut(row[i], t->max[i]);
		t->cells[t->nrows * (size_t)t->ncols + (size_t)i] = row[i];
	}
	t->nrows++;
}

/* The header and the rows, columns two spaces apart, the last one not
 * padded; frees the cells. */
static void
table_print(FILE *f, struct table *t)
{
	size_t w[MAXCOLS], cw, r;
	const char *c;
	int i;

	for (i = 0; i < t->ncols; i++)
		w[i] = width(t->head[i]);
	for (r = 0; r < t->nrows; r++)
		for (i = 0; i < t->ncols; i++) {
			cw = width(t->cells[r * (size_t)t->ncols + (size_t)i]);
			if (cw > w[i])
				w[i] = cw;
		}
	for (r = 0; r <= t->nrows; r++) {
		for (i = 0; i < t->ncols; i++) {
			c = r == 0 ?
			    t->head[i] :
			    t->cells[(r - 1) * (size_t)t->ncols + (size_t)i];
			if (i == t->ncols - 1)
				fprintf(f, "%s\n", c);
			else
				fprintf(f, "%s%*s  ", c, (int)(w[i] - width(c)),
				    "");
		}
	}
	for (r = 0; r < t->nrows * (size_t)t->ncols; r++)
		free(t->cells[r]);
	free(t->cells);
}

/* ---- Activations: ls, failures, show ------------------------------------------ */

/* One vow a coroutine waits for, in words. */
static void
add_blocked_vow(struct str *s, const json_t *v)
{
	const char *kind = json_string_value(json_object_get(v, "kind"));
	const json_t *vow = json_object_get(v, "vow");

	if (kind != NULL && strcmp(kind, "timer") == 0) {
		sadd(s, "timer ");
		add_value(s, vow);
		sadd(s, " due ");
		add_value(s, json_object_get(v, "due"));
	} else if (kind != NULL && strcmp(kind, "send") == 0) {
		sadd(s, "send %s.%s ",
		    json_string_value(json_object_get(v, "object")),
		    json_string_value(json_object_get(v, "method")));
		add_value(s, vow);
		sadd(s,
		    json_is_true(json_object_get(v, "server_connected")) ?
			" (a server is connected)" :
			" (no server connected)");
	} else {
		add_value(s, vow);
	}
	if (json_is_true(json_object_get(v, "settled")))
		sadd(s, " (settled)");
}

/* One coroutine's wait, in words: "await X" or "all[X, Y]". */
static void
add_blocked(struct str *s, const json_t *b)
{
	const json_t *vows = json_object_get(b, "vows");
	const char *wait = json_string_value(json_object_get(b, "wait"));
	size_t i;

	if (wait != NULL && strcmp(wait, "await") == 0 &&
	    json_array_size(vows) == 1) {
		add_blocked_vow(s, json_array_get(vows, 0));
		return;
	}
	sadd(s, "%s[", wait ? wait : "?");
	for (i = 0; i < json_array_size(vows); i++) {
		if (i > 0)
			sadd(s, ", ");
		add_blocked_vow(s, json_array_get(vows, i));
	}
	sadd(s, "]");
}

/* What an activation waits for, on one line ("-": nothing). */
static char *
blocked_cell(const json_t *a)
{
	const json_t *bl = json_object_get(a, "blocked_on");
	struct str s = { NULL, 0, 0 };
	size_t i;

	if (json_array_size(bl) == 0)
		return xstrdup("-");
	for (i = 0; i < json_array_size(bl); i++) {
		if (i > 0)
			sadd(&s, "; ");
		add_blocked(&s, json_array_get(bl, i));
	}
	return sdetach(&s);
}

static void
print_activations(FILE *f, const json_t *arr, bool failures)
{
	struct table t = { 0 };
	const json_t *a;
	char *row[MAXCOLS];
	size_t i;

	if (failures) {
		t = (struct table){ 5,
			{ "ID", "FLOW", "JOURNAL", "LAST PROGRESS", "FAILURE" },
			{ 0 }, NULL, 0, 0 };
	} else {
		t = (struct table){ 7,
			{ "ID", "FLOW", "STATE", "JOURNAL", "CREATED",
			    "LAST PROGRESS", "BLOCKED ON" },
			{ 0 }, NULL, 0, 0 };
		t.max[6] = 100;
	}
	json_array_foreach(arr, i, a) {
		row[0] = key_cell(a, "activation");
		row[1] = key_cell(a, "flow");
		if (failures) {
			row[2] = key_cell(a, "journal_length");
			row[3] = key_cell(a, "last_progress");
			row[4] = key_cell(a, "failure");
		} else {
			row[2] = key_cell(a, "state");
			row[3] = key_cell(a, "journal_length");
			row[4] = key_cell(a, "created");
			row[5] = key_cell(a, "last_progress");
			row[6] = blocked_cell(a);
		}
		table_row(&t, row);
	}
	table_print(f, &t);
}

/* "key        value" lines of show; value NULL: the key's cell of o. */
static void
kv(FILE *f, const char *key, char *value)
{
	clean(value);
	fprintf(f, "%-16s %s\n", key, value);
	free(value);
}

static void
print_show(FILE *f, const json_t *a)
{
	const json_t *bl, *vows, *inv, *x, *y;
	struct str s = { NULL, 0, 0 };
	size_t i, k;

	kv(f, "activation", key_cell(a, "activation"));
	kv(f, "flow", key_cell(a, "flow"));
	kv(f, "state", key_cell(a, "state"));
	if ((x = json_object_get(a, "failure")) != NULL)
		kv(f, "failure", value_cell(x));
	kv(f, "args", key_cell(a, "args"));
	kv(f, "outcome", key_cell(a, "outcome"));
	kv(f, "created", key_cell(a, "created"));
	kv(f, "last progress", key_cell(a, "last_progress"));
	sadd(&s, "created by ");
	add_value(&s, json_object_get(a, "incarnation"));
	sadd(&s, ", journal last written by ");
	add_value(&s, json_object_get(a, "last_incarnation"));
	kv(f, "incarnation", sdetach(&s));
	add_value(&s, json_object_get(a, "journal_length"));
	sadd(&s, " entries");
	kv(f, "journal", sdetach(&s));
	x = json_object_get(a, "waiting_on");
	for (i = 0; i < json_array_size(x); i++) {
		if (i > 0)
			sadd(&s, ", ");
		add_value(&s, json_array_get(x, i));
	}
	kv(f, "waiting on", json_array_size(x) ? sdetach(&s) : xstrdup("-"));
	/* One line per coroutine; a set's vows one per line below it. */
	bl = json_object_get(a, "blocked_on");
	if (json_array_size(bl) == 0)
		kv(f, "blocked on", xstrdup("-"));
	json_array_foreach(bl, i, x) {
		vows = json_object_get(x, "vows");
		sadd(&s, "coroutine %" JSON_INTEGER_FORMAT ": %s",
		    json_integer_value(json_object_get(x, "coroutine")),
		    json_string_value(json_object_get(x, "wait")));
		if (json_array_size(vows) == 1) {
			sadd(&s, " ");
			add_blocked_vow(&s, json_array_get(vows, 0));
		}
		kv(f, i == 0 ? "blocked on" : "", sdetach(&s));
		if (json_array_size(vows) == 1)
			continue;
		json_array_foreach(vows, k, y) {
			sadd(&s, "  - ");
			add_blocked_vow(&s, y);
			kv(f, "", sdetach(&s));
		}
	}
	inv = json_object_get(a, "invocations");
	json_array_foreach(inv, i, x) {
		add_value(&s, json_object_get(x, "vow"));
		sadd(&s, "  %s.%s ",
		    json_string_value(json_object_get(x, "object")),
		    json_string_value(json_object_get(x, "method")));
		add_value(&s, json_object_get(x, "args"));
		kv(f, i == 0 ? "invocations" : "", sdetach(&s));
	}
}

/* ---- journal, stats, modules, the rest ---------------------------------------- */

static void
print_journal(FILE *f, const json_t *arr)
{
	struct table t = { 4, { "INDEX", "KIND", "INC", "ENTRY" }, { 0 }, NULL,
		0, 0 };
	struct str s = { NULL, 0, 0 };
	const char *kind;
	const json_t *e;
	char *row[MAXCOLS];
	size_t i;

	json_array_foreach(arr, i, e) {
		kind = json_string_value(json_object_get(e, "kind"));
		if (kind == NULL)
			kind = "?";
		if (strcmp(kind, "checkCall") == 0 ||
		    strcmp(kind, "checkSend") == 0) {
			sadd(&s, "%s.%s(",
			    json_string_value(json_object_get(e, "target")),
			    json_string_value(json_object_get(e, "method")));
			add_value(&s, json_object_get(e, "args"));
			sadd(&s, ")");
		} else if (strcmp(kind, "doReturn") == 0 ||
		    strcmp(kind, "doThrow") == 0) {
			sadd(&s, "#");
			add_value(&s, json_object_get(e, "callIndex"));
			sadd(&s,
			    strcmp(kind, "doReturn") == 0 ? " -> " : " threw ");
			add_value(&s,
			    json_object_get(e,
				strcmp(kind, "doReturn") == 0 ? "result" :
								"error"));
		} else if (strcmp(kind, "doFulfill") == 0 ||
		    strcmp(kind, "doReject") == 0) {
			add_value(&s, json_object_get(e, "vow"));
			sadd(&s,
			    strcmp(kind, "doFulfill") == 0 ? " = " :
							     " rejected: ");
			add_value(&s,
			    json_object_get(e,
				strcmp(kind, "doFulfill") == 0 ? "value" :
								 "reason"));
		} else if (strcmp(kind, "patched") == 0) {
			add_value(&s, json_object_get(e, "id"));
		} else if (strcmp(kind, "doCancel") == 0) {
			add_value(&s, json_object_get(e, "reason"));
		} else if (strcmp(kind, "doCall") == 0) {
			add_value(&s, json_object_get(e, "target"));
			sadd(&s, ".");
			add_value(&s, json_object_get(e, "method"));
			sadd(&s, "(");
			add_value(&s, json_object_get(e, "args"));
			sadd(&s, ") -> ");
			add_value(&s, json_object_get(e, "vow"));
		} else if (strcmp(kind, "checkReturn") == 0 ||
		    strcmp(kind, "checkThrow") == 0) {
			add_value(&s, json_object_get(e, "vow"));
			sadd(&s,
			    strcmp(kind, "checkReturn") == 0 ? " = " :
							       " threw ");
			add_value(&s,
			    json_object_get(e,
				strcmp(kind, "checkReturn") == 0 ? "result" :
								   "error"));
		} else {
			sadd(&s, "code ");
			add_value(&s, json_object_get(e, "code"));
		}
		row[0] = key_cell(e, "index");
		row[1] = xstrdup(kind);
		row[2] = key_cell(e, "incarnation");
		row[3] = sdetach(&s);
		table_row(&t, row);
	}
	table_print(f, &t);
}

/* An object as NAME VALUE rows, in its order. */
static void
print_pairs(FILE *f, const json_t *o, const char *h1, const char *h2)
{
	struct table t = { 2, { h1, h2 }, { 0 }, NULL, 0, 0 };
	const char *key;
	const json_t *v;
	char *row[2];

	json_object_foreach((json_t *)o, key, v) {
		row[0] = xstrdup(key);
		row[1] = value_cell(v);
		table_row(&t, row);
	}
	table_print(f, &t);
}

static void
print_modules(FILE *f, const json_t *o)
{
	struct table t = { 2, { "KIND", "NAME" }, { 0 }, NULL, 0, 0 };
	static const char *const lists[][2] = { { "flows", "flow" },
		{ "objects", "object" } };
	const json_t *x;
	char *row[2];
	size_t i, k;

	for (k = 0; k < 2; k++)
		json_array_foreach(json_object_get(o, lists[k][0]), i, x) {
			row[0] = xstrdup(lists[k][1]);
			row[1] = value_cell(x);
			table_row(&t, row);
		}
	/* The modules loaded: path, SHA-256 (its first 12 digits), since. */
	json_array_foreach(json_object_get(o, "modules"), i, x) {
		const char *p = json_string_value(json_object_get(x, "path"));
		const char *h = json_string_value(json_object_get(x, "sha256"));
		const char *w = json_string_value(json_object_get(x, "since"));
		size_t len;

		len = strlen(p ? p : "") + strlen(w ? w : "") + 40;
		row[0] = xstrdup("module");
		row[1] = xcalloc(len, 1);
		snprintf(row[1], len, "%s %.12s since %s", p ? p : "?",
		    h ? h : "?", w ? w : "?");
		table_row(&t, row);
	}
	table_print(f, &t);
}

void
print_table(FILE *f, const json_t *j, enum answer_kind kind)
{
	switch (kind) {
	case ANS_LIST:
		print_activations(f, j, false);
		break;
	case ANS_FAILURES:
		print_activations(f, j, true);
		break;
	case ANS_ACTIVATION:
		print_show(f, j);
		break;
	case ANS_JOURNAL:
		print_journal(f, j);
		break;
	case ANS_STATS:
		print_pairs(f, j, "COUNTER", "VALUE");
		break;
	case ANS_MODULES:
		print_modules(f, j);
		break;
	default:
		if (json_is_object(j))
			print_pairs(f, j, "KEY", "VALUE");
		else
			fprintf(f, "%s\n", "?");
		break;
	}
}

int
print_answer(json_t *j, enum answer_kind kind)
{
	enum output_format fmt = output_format;

	if (fmt == OUT_DEFAULT)
		fmt = isatty(STDOUT_FILENO) ? OUT_TABLE : OUT_JSON;
	if (fmt == OUT_JSON)
		return print_json(j);
	print_table(stdout, j, kind);
	json_decref(j);
	if (fflush(stdout) != 0 || ferror(stdout))
		fail(EXIT_FAILURE, "cannot write the answer: %s",
		    strerror(errno));
	return EXIT_SUCCESS;
}

/* ---- Progress on stderr ------------------------------------------------------- */

static struct {
	bool on;
	char what[64];
	int64_t start, deadline;
	unsigned frame;
} prog;

void
progress_start(const char *what, int64_t deadline_ms)
{
	if (!isatty(STDERR_FILENO))
		return;
	prog.on = true;
	snprintf(prog.what, sizeof(prog.what), "%s", what);
	prog.start = now_ms();
	prog.deadline = deadline_ms;
	prog.frame = 0;
	progress_tick();
}

bool
progress_shown(void)
{
	return prog.on;
}

void
progress_tick(void)
{
	static const char spin[] = "|/-\\";
	int64_t now, total;
	double el;
	char bar[24];
	int i, fill;

	if (!prog.on)
		return;
	now = now_ms();
	el = (double)(now - prog.start) / 1000.0;
	if (prog.deadline < 0) {
		fprintf(stderr, "\r%c waiting for %s: %.1f s\033[K",
		    spin[prog.frame++ % 4], prog.what, el);
	} else {
		total = prog.deadline - prog.start;
		fill = total > 0 ? (int)((now - prog.start) * 20 / total) : 20;
		if (fill > 20)
			fill = 20;
		for (i = 0; i < 20; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[20] = '\0';
		fprintf(stderr, "\r[%s] waiting for %s: %.1f of %.1f s\033[K",
		    bar, prog.what, el, (double)total / 1000.0);
	}
	fflush(stderr);
}

void
progress_done(void)
{
	if (!prog.on)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	prog.on = false;
}
