/*
 * asyncflowctl: the command-line client of asyncflowd.
 *
 * Contract with scripts: every command prints exactly one JSON value on
 * stdout and exits 0, or prints a message on stderr and exits non-zero:
 * 2 for a usage error (bad arguments, bad JSON: then nothing was sent),
 * 1 for everything else (cannot connect, the daemon refused, timeout).
 * The JSON keys below are part of that contract. The exception is serve,
 * which runs until the connection to the daemon is lost (exit 1) and
 * keeps stdout quiet; its contract with CMD is in its usage text.
 *
 * Values are written in JSON as DESIGN.md §2 says (see value_help below).
 * One extension: a double that JSON cannot hold (infinite, NaN) is written
 * {"@double": "inf" | "-inf" | "nan"}, and read back the same way.
 *
 * JSON is parsed and printed with jansson; the JSON <-> Value conversion
 * lives here because the library itself depends on protobuf-c and libc only.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "asyncflow.h"

#define EXIT_USAGE 2
/* The deepest a value may be, a scalar counting 1: AF_VALUE_MAX_DEPTH of
 * "asyncflow/flow.h" (which cannot be included beside "asyncflow.h": both
 * declare an af_list). The daemon refuses deeper values. */
#define VALUE_MAX_DEPTH 64
#define PRINTFLIKE(f, a) __attribute__((format(printf, f, a)))

static const char *prog = "asyncflowctl";
static const char *cmd_name = "";

/* ---- Messages and exits --------------------------------------------------- */

static void PRINTFLIKE(1, 0)
vwarnx(const char *fmt, va_list ap)
{
	if (cmd_name[0])
		fprintf(stderr, "%s: %s: ", prog, cmd_name);
	else
		fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void PRINTFLIKE(2, 3)
fail(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	exit(code);
}

static void
nomem(void)
{
	fail(EXIT_FAILURE, "out of memory");
}

/* ---- Usage ------------------------------------------------------------------ */

static const char value_help[] =
"Values (arguments, settlements, results) are JSON:\n"
"  null, true, false, \"text\", [list], {\"record\": ...}\n"
"  42                      an integer (int64)\n"
"  1.5, 1.0, 1e3           a double\n"
"  {\"@vow\": N}             a reference to vow N\n"
"  {\"@resolver\": N}        the right to settle vow N\n"
"  {\"@obj\": \"bank\"}        a host object\n"
"  {\"@bytes\": \"BASE64\"}    bytes\n"
"  {\"@error\": {\"name\": \"E\", \"message\": \"text\"}}\n"
"  {\"@record\": {...}}      a record written literally (for keys starting with @)\n"
"  {\"@double\": \"inf\"}      a double JSON cannot hold: \"inf\", \"-inf\", \"nan\"\n";

static const char main_usage[] =
"usage: asyncflowctl [-s SOCKET] COMMAND [ARGS...]\n"
"\n"
"Talks to asyncflowd over its Unix socket: -s SOCKET, else $ASYNCFLOW_SOCKET,\n"
"else " AF_DEFAULT_SOCKET ".\n"
"Prints one JSON value on stdout and exits 0, or a message on stderr and\n"
"exits 1 (2 for usage errors). serve is the exception: it runs until the\n"
"connection to the daemon is lost, printing nothing on stdout.\n"
"\n"
"Commands:\n"
"  mkvow                                  create a vow: {\"vow\", \"resolver\"}\n"
"  start FLOW [ARGS_JSON] [--key K]       start an activation of FLOW\n"
"  settle VOW --resolver HEX VALUE_JSON   fulfil a vow\n"
"  settle VOW --resolver HEX --reject ERROR_JSON\n"
"                                         reject a vow\n"
"  vow VOW [--wait] [--timeout SECONDS]   a vow's state (and value)\n"
"  ls [--state STATE]                     list activations\n"
"  show A                                 one activation\n"
"  journal A                              an activation's journal\n"
"  failures                               the Failed activations\n"
"  wake [A]                               replay A now (no A: every Failed one)\n"
"  stats                                  the daemon's counters\n"
"  serve NAME [-q] -- CMD [ARGS...]       serve object NAME: run CMD for\n"
"                                         each invocation\n"
"\n"
"asyncflowctl COMMAND --help tells more.\n"
"\n";

struct command {
	const char	*name;
	int		(*run)(int argc, char **argv);
	const char	*usage;
};

static const struct command *cur;

static void PRINTFLIKE(1, 2)
usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	if (cur != NULL)
		fprintf(stderr, "%.*s\nTry asyncflowctl %s --help.\n",
		    (int)strcspn(cur->usage, "\n"), cur->usage, cur->name);
	else
		fprintf(stderr, "Try asyncflowctl --help.\n");
	exit(EXIT_USAGE);
}

/* ---- Argument parsing ------------------------------------------------------ */

struct opt {
	const char	*name;		/* without the leading "--" */
	const char	**arg;		/* option with an argument, or */
	bool		*flag;		/* a flag */
};

/*
 * Splits argv into options (from `opts`, "--name VALUE" or "--name=VALUE")
 * and at most `maxpos` positional arguments; "--" ends the options. An
 * argument starting with "-" and a digit is positional (a negative number).
 * --help and -h print the command's usage and exit 0.
 */
static int
parse_args(int argc, char **argv, const struct opt *opts, char **pos,
    int maxpos)
{
	int i, npos = 0;
	bool dashdash = false;
	const struct opt *o;
	const char *a, *eq;
	size_t nl;

	for (i = 0; i < argc; i++) {
		a = argv[i];
		if (!dashdash && strcmp(a, "--") == 0) {
			dashdash = true;
			continue;
		}
		if (!dashdash && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
			fputs(cur->usage, stdout);
			exit(fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
		}
		if (dashdash || a[0] != '-' || a[1] == '\0' ||
		    (a[1] >= '0' && a[1] <= '9') || a[1] == '.') {
			if (npos == maxpos)
				usage_error("unexpected argument \"%s\"", a);
			pos[npos++] = argv[i];
			continue;
		}
		if (a[1] != '-')
			usage_error("unknown option \"%s\"", a);
		a += 2;
		eq = strchr(a, '=');
		nl = eq != NULL ? (size_t)(eq - a) : strlen(a);
		for (o = opts; o != NULL && o->name != NULL; o++)
			if (strlen(o->name) == nl && strncmp(o->name, a, nl) == 0)
				break;
		if (o == NULL || o->name == NULL)
			usage_error("unknown option \"--%.*s\"", (int)nl, a);
		if (o->flag != NULL) {
			if (eq != NULL)
				usage_error("option --%s takes no value", o->name);
			*o->flag = true;
		} else if (eq != NULL) {
			*o->arg = eq + 1;
		} else {
			if (i + 1 >= argc)
				usage_error("option --%s needs a value", o->name);
			*o->arg = argv[++i];
		}
	}
	return npos;
}

/* A positive decimal id. */
static uint64_t
parse_id(const char *what, const char *s)
{
	unsigned long long v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		usage_error("%s must be a positive integer, not \"%s\"", what, s);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0)
		usage_error("%s must be a positive integer, not \"%s\"", what, s);
	return (uint64_t)v;
}

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static void
parse_resolver(const char *s, uint8_t out[AF_RESOLVER_LEN])
{
	int i, hi, lo;

	if (strlen(s) != 2 * AF_RESOLVER_LEN)
		usage_error("--resolver must be %d hex digits", 2 * AF_RESOLVER_LEN);
	for (i = 0; i < AF_RESOLVER_LEN; i++) {
		hi = hexval(s[2 * i]);
		lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			usage_error("--resolver must be %d hex digits",
			    2 * AF_RESOLVER_LEN);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
}

/* ---- Base64 (RFC 4648, standard alphabet, padded) ---------------------------- */

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *
b64_encode(const uint8_t *p, size_t n)
{
	char *out, *o;
	size_t i;
	uint32_t v;

	if (n > (SIZE_MAX - 1) / 4 * 3 - 3 || (out = malloc((n + 2) / 3 * 4 + 1)) == NULL)
		return NULL;
	o = out;
	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = b64chars[v >> 18 & 63];
		*o++ = b64chars[v >> 12 & 63];
		*o++ = b64chars[v >> 6 & 63];
		*o++ = b64chars[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)p[i] << 16;
		*o++ = b64chars[v >> 18 & 63];
		*o++ = b64chars[v >> 12 & 63];
		*o++ = '=';
		*o++ = '=';
	} else if (n - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*o++ = b64chars[v >> 18 & 63];
		*o++ = b64chars[v >> 12 & 63];
		*o++ = b64chars[v >> 6 & 63];
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int
b64val(char ch)
{
	const char *p = ch ? strchr(b64chars, ch) : NULL;

	return p != NULL ? (int)(p - b64chars) : -1;
}

/* Decodes strictly: length a multiple of 4, padding only at the end, no
 * stray bits. Returns 0, -1 for bad input, -2 for no memory. */
static int
b64_decode(const char *s, uint8_t **out, size_t *outlen)
{
	size_t n = strlen(s), i, pad = 0, len;
	uint8_t *buf;
	uint32_t v;
	int k, d;

	*out = NULL;
	*outlen = 0;
	if (n % 4 != 0)
		return -1;
	if (n > 0 && s[n - 1] == '=')
		pad++;
	if (n > 1 && s[n - 2] == '=')
		pad++;
	len = n / 4 * 3 - pad;
	if ((buf = malloc(len ? len : 1)) == NULL)
		return -2;
	for (i = 0; i < n; i += 4) {
		v = 0;
		for (k = 0; k < 4; k++) {
			if (i + k >= n - pad)
				d = 0;
			else if ((d = b64val(s[i + k])) < 0) {
				free(buf);
				return -1;
			}
			v = v << 6 | (uint32_t)d;
		}
		if (i + 4 < n || pad == 0) {
			buf[i / 4 * 3] = (uint8_t)(v >> 16);
			buf[i / 4 * 3 + 1] = (uint8_t)(v >> 8);
			buf[i / 4 * 3 + 2] = (uint8_t)v;
		} else if (pad == 1) {
			if (v & 0xff)
				goto bad;
			buf[i / 4 * 3] = (uint8_t)(v >> 16);
			buf[i / 4 * 3 + 1] = (uint8_t)(v >> 8);
		} else {
			if (v & 0xffff)
				goto bad;
			buf[i / 4 * 3] = (uint8_t)(v >> 16);
		}
	}
	*out = buf;
	*outlen = len;
	return 0;
bad:
	free(buf);
	return -1;
}

/* ---- JSON -> Value ------------------------------------------------------------ *
 *
 * Builds a protobuf-c Value tree in which everything comes from malloc, so
 * af_msg_free() frees it. An error (a tag misused, nesting deeper than
 * VALUE_MAX_DEPTH) makes json_to_value return NULL with a message in
 * jp->msg naming the argument and the path inside it: parse_value turns it
 * into a usage error (nothing has been sent yet), serve into a rejection.
 * Only running out of memory exits.
 *
 * `depth` counts the levels of the value above j (0 for the whole value):
 * a tagged value such as {"@vow": 3} is one level, like a scalar, and
 * {"@record": {...}} is the record it holds.
 */

struct jpath {
	const char	*arg;		/* e.g. "ARGS_JSON" */
	char		 buf[512];	/* e.g. ".a[2].b" */
	char		 msg[1200];	/* the error, once there is one */
};

static void PRINTFLIKE(2, 3)
jerr(struct jpath *jp, const char *fmt, ...)
{
	char m[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	snprintf(jp->msg, sizeof(jp->msg), "%s: %s%s%s%s", jp->arg,
	    jp->buf[0] ? "at " : "", jp->buf, jp->buf[0] ? ": " : "", m);
}

static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (p == NULL)
		nomem();
	return p;
}

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		nomem();
	return p;
}

static Asyncflow__Value *
new_value(Asyncflow__Value__KindCase kind)
{
	Asyncflow__Value *v = xcalloc(1, sizeof(*v));

	asyncflow__value__init(v);
	v->kind_case = kind;
	return v;
}

static Asyncflow__Value *json_to_value(json_t *j, struct jpath *jp, int depth);

static int
cmp_keys(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A record from the members of object j, keys sorted bytewise. */
static Asyncflow__Value *
object_to_record(json_t *j, struct jpath *jp, int depth)
{
	Asyncflow__Value *v = new_value(ASYNCFLOW__VALUE__KIND_RECORD_VALUE);
	Asyncflow__Record *r = xcalloc(1, sizeof(*r));
	size_t n = json_object_size(j), i = 0, plen = strlen(jp->buf);
	const char **keys = xcalloc(n, sizeof(*keys));
	const char *key;
	json_t *m;

	asyncflow__record__init(r);
	v->record_value = r;
	json_object_foreach(j, key, m)
		keys[i++] = key;
	qsort(keys, n, sizeof(*keys), cmp_keys);
	r->fields = xcalloc(n, sizeof(*r->fields));
	for (i = 0; i < n; i++) {
		Asyncflow__Field *f = xcalloc(1, sizeof(*f));

		asyncflow__field__init(f);
		r->fields[i] = f;
		r->n_fields = i + 1;
		f->key = xstrdup(keys[i]);
		snprintf(jp->buf + plen, sizeof(jp->buf) - plen, ".%s", keys[i]);
		f->value = json_to_value(json_object_get(j, keys[i]), jp, depth + 1);
		if (f->value == NULL) {
			free(keys);
			af_msg_free(v);
			return NULL;
		}
	}
	jp->buf[plen] = '\0';
	free(keys);
	return v;
}

static bool
tag_id(json_t *x, const char *tag, struct jpath *jp, uint64_t *id)
{
	if (!json_is_integer(x) || json_integer_value(x) < 0) {
		jerr(jp, "%s needs a non-negative integer", tag);
		return false;
	}
	*id = (uint64_t)json_integer_value(x);
	return true;
}

static const char *
tag_string(json_t *x, const char *tag, struct jpath *jp)
{
	if (!json_is_string(x)) {
		jerr(jp, "%s needs a string", tag);
		return NULL;
	}
	return json_string_value(x);
}

/* A one-member object whose key starts with '@'. */
static Asyncflow__Value *
tagged_to_value(const char *tag, json_t *x, struct jpath *jp, int depth)
{
	Asyncflow__Value *v;
	Asyncflow__Error *e;
	const char *s, *key;
	uint64_t id;
	json_t *m;
	int rc;

	if (strcmp(tag, "@vow") == 0) {
		if (!tag_id(x, tag, jp, &id))
			return NULL;
		v = new_value(ASYNCFLOW__VALUE__KIND_VOW_ID);
		v->vow_id = id;
	} else if (strcmp(tag, "@resolver") == 0) {
		if (!tag_id(x, tag, jp, &id))
			return NULL;
		v = new_value(ASYNCFLOW__VALUE__KIND_RESOLVER_ID);
		v->resolver_id = id;
	} else if (strcmp(tag, "@obj") == 0) {
		if ((s = tag_string(x, tag, jp)) == NULL)
			return NULL;
		v = new_value(ASYNCFLOW__VALUE__KIND_OBJ_NAME);
		v->obj_name = xstrdup(s);
	} else if (strcmp(tag, "@bytes") == 0) {
		if ((s = tag_string(x, tag, jp)) == NULL)
			return NULL;
		v = new_value(ASYNCFLOW__VALUE__KIND_BYTES_VALUE);
		rc = b64_decode(s, &v->bytes_value.data, &v->bytes_value.len);
		if (rc == -2)
			nomem();
		if (rc < 0) {
			jerr(jp, "@bytes needs base64 (standard alphabet, padded)");
			af_msg_free(v);
			return NULL;
		}
	} else if (strcmp(tag, "@error") == 0) {
		if (!json_is_object(x)) {
			jerr(jp, "@error needs an object {\"name\": ..., \"message\": ...}");
			return NULL;
		}
		json_object_foreach(x, key, m) {
			if (strcmp(key, "name") != 0 && strcmp(key, "message") != 0) {
				jerr(jp, "@error has only \"name\" and \"message\", "
				    "not \"%s\"", key);
				return NULL;
			}
			if (!json_is_string(m)) {
				jerr(jp, "@error's \"%s\" must be a string", key);
				return NULL;
			}
		}
		v = new_value(ASYNCFLOW__VALUE__KIND_ERROR_VALUE);
		e = xcalloc(1, sizeof(*e));
		asyncflow__error__init(e);
		v->error_value = e;
		m = json_object_get(x, "name");
		e->name = xstrdup(m != NULL ? json_string_value(m) : "");
		m = json_object_get(x, "message");
		e->message = xstrdup(m != NULL ? json_string_value(m) : "");
	} else if (strcmp(tag, "@record") == 0) {
		if (!json_is_object(x)) {
			jerr(jp, "@record needs an object");
			return NULL;
		}
		v = object_to_record(x, jp, depth);
	} else if (strcmp(tag, "@double") == 0) {
		if ((s = tag_string(x, tag, jp)) == NULL)
			return NULL;
		if (strcmp(s, "inf") != 0 && strcmp(s, "-inf") != 0 &&
		    strcmp(s, "nan") != 0) {
			jerr(jp, "@double is \"inf\", \"-inf\" or \"nan\"");
			return NULL;
		}
		v = new_value(ASYNCFLOW__VALUE__KIND_DOUBLE_VALUE);
		v->double_value = s[0] == 'n' ? NAN : s[0] == '-' ? -INFINITY :
		    INFINITY;
	} else {
		jerr(jp, "unknown tag \"%s\" (a record key starting with @ is "
		    "written {\"@record\": {...}})", tag);
		return NULL;
	}
	return v;
}

static Asyncflow__Value *
json_to_value(json_t *j, struct jpath *jp, int depth)
{
	Asyncflow__Value *v;
	Asyncflow__List *l;
	size_t i, n, plen;
	const char *key;
	json_t *m;

	if (depth >= VALUE_MAX_DEPTH) {
		jerr(jp, "nested too deeply: a value has at most %d levels",
		    VALUE_MAX_DEPTH);
		return NULL;
	}
	switch (json_typeof(j)) {
	case JSON_NULL:
		v = new_value(ASYNCFLOW__VALUE__KIND_NULL_VALUE);
		v->null_value = 1;
		return v;
	case JSON_TRUE:
	case JSON_FALSE:
		v = new_value(ASYNCFLOW__VALUE__KIND_BOOL_VALUE);
		v->bool_value = json_is_true(j);
		return v;
	case JSON_INTEGER:
		v = new_value(ASYNCFLOW__VALUE__KIND_INT_VALUE);
		v->int_value = json_integer_value(j);
		return v;
	case JSON_REAL:
		v = new_value(ASYNCFLOW__VALUE__KIND_DOUBLE_VALUE);
		v->double_value = json_real_value(j);
		return v;
	case JSON_STRING:
		v = new_value(ASYNCFLOW__VALUE__KIND_STRING_VALUE);
		v->string_value = xstrdup(json_string_value(j));
		return v;
	case JSON_ARRAY:
		n = json_array_size(j);
		v = new_value(ASYNCFLOW__VALUE__KIND_LIST_VALUE);
		l = xcalloc(1, sizeof(*l));
		asyncflow__list__init(l);
		v->list_value = l;
		l->items = xcalloc(n, sizeof(*l->items));
		plen = strlen(jp->buf);
		for (i = 0; i < n; i++) {
			snprintf(jp->buf + plen, sizeof(jp->buf) - plen, "[%zu]", i);
			l->items[i] = json_to_value(json_array_get(j, i), jp, depth + 1);
			if (l->items[i] == NULL) {
				af_msg_free(v);
				return NULL;
			}
			l->n_items = i + 1;
		}
		jp->buf[plen] = '\0';
		return v;
	case JSON_OBJECT:
		json_object_foreach(j, key, m) {
			if (key[0] != '@')
				continue;
			if (json_object_size(j) != 1) {
				jerr(jp, "key \"%s\" starts with @: a tagged value "
				    "has one key, and a record with such keys is "
				    "written {\"@record\": {...}}", key);
				return NULL;
			}
			return tagged_to_value(key, m, jp, depth);
		}
		return object_to_record(j, jp, depth);
	}
	jerr(jp, "unsupported JSON");
	return NULL;
}

/* Parses the command-line argument `text` (named `arg` in messages). */
static Asyncflow__Value *
parse_value(const char *arg, const char *text)
{
	struct jpath jp;
	json_error_t err;
	Asyncflow__Value *v;
	json_t *j;

	j = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
	if (j == NULL)
		usage_error("%s is not valid JSON: %s (at column %d)", arg,
		    err.text, err.column);
	jp.arg = arg;
	jp.buf[0] = '\0';
	jp.msg[0] = '\0';
	v = json_to_value(j, &jp, 0);
	json_decref(j);
	if (v == NULL)
		usage_error("%s", jp.msg);
	return v;
}

/* ---- Value -> JSON ------------------------------------------------------------- */

/* The digits that print every double of the output exactly (see
 * note_double); jansson applies one precision to a whole dump. */
static int real_precision = 1;

static void
note_double(double d)
{
	char buf[40];
	int p;

	for (p = real_precision; p < 17; p++) {
		snprintf(buf, sizeof(buf), "%.*g", p, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	real_precision = p;
}

static json_t *
jnew(json_t *j)
{
	if (j == NULL)
		nomem();
	return j;
}

static void
jset(json_t *obj, const char *key, json_t *val)
{
	if (json_object_set_new(obj, key, val) != 0)
		nomem();
}

static void
jpush(json_t *arr, json_t *val)
{
	if (json_array_append_new(arr, val) != 0)
		nomem();
}

static json_t *
jstr(const char *s)
{
	json_t *j;

	if (s == NULL)
		s = "";
	if ((j = json_string(s)) == NULL)
		fail(EXIT_FAILURE, "the daemon sent a string that is not UTF-8");
	return j;
}

static json_t *
juint(uint64_t n)
{
	if (n > (uint64_t)INT64_MAX)
		fail(EXIT_FAILURE, "the daemon sent a number beyond int64");
	return jnew(json_integer((json_int_t)n));
}

static json_t *
tagged(const char *tag, json_t *val)
{
	json_t *o = jnew(json_object());

	jset(o, tag, val);
	return o;
}

/*
 * The JSON of v, or NULL with a message in err when the daemon sent what
 * JSON cannot carry (a string that is not UTF-8, a duplicate record key,
 * an id beyond int64, a kind of value newer than this program): the
 * commands then fail, serve rejects the invocation. Running out of memory
 * exits.
 */
static json_t *
value_to_json_soft(const Asyncflow__Value *v, char *err, size_t errlen)
{
	json_t *j, *o, *m;
	const char *s;
	char *b;
	size_t i;
	uint64_t id;
	bool at = false;

	if (v == NULL)
		return jnew(json_null());
	switch (v->kind_case) {
	case ASYNCFLOW__VALUE__KIND_NULL_VALUE:
		return jnew(json_null());
	case ASYNCFLOW__VALUE__KIND_BOOL_VALUE:
		return jnew(json_boolean(v->bool_value));
	case ASYNCFLOW__VALUE__KIND_INT_VALUE:
		return jnew(json_integer(v->int_value));
	case ASYNCFLOW__VALUE__KIND_DOUBLE_VALUE:
		if (isfinite(v->double_value)) {
			note_double(v->double_value);
			return jnew(json_real(v->double_value));
		}
		s = isnan(v->double_value) ? "nan" :
		    v->double_value > 0 ? "inf" : "-inf";
		return tagged("@double", jstr(s));
	case ASYNCFLOW__VALUE__KIND_STRING_VALUE:
		s = v->string_value;
		goto string;
	case ASYNCFLOW__VALUE__KIND_BYTES_VALUE:
		if ((b = b64_encode(v->bytes_value.data, v->bytes_value.len)) == NULL)
			nomem();
		j = jstr(b);
		free(b);
		return tagged("@bytes", j);
	case ASYNCFLOW__VALUE__KIND_LIST_VALUE:
		j = jnew(json_array());
		for (i = 0; v->list_value != NULL && i < v->list_value->n_items; i++) {
			if ((m = value_to_json_soft(v->list_value->items[i], err,
			    errlen)) == NULL) {
				json_decref(j);
				return NULL;
			}
			jpush(j, m);
		}
		return j;
	case ASYNCFLOW__VALUE__KIND_RECORD_VALUE:
		j = jnew(json_object());
		for (i = 0; v->record_value != NULL && i < v->record_value->n_fields; i++) {
			const Asyncflow__Field *f = v->record_value->fields[i];

			if (f->key[0] == '@')
				at = true;
			if (json_object_get(j, f->key) != NULL) {
				snprintf(err, errlen, "the daemon sent a record "
				    "with key \"%s\" twice", f->key);
				json_decref(j);
				return NULL;
			}
			if ((m = value_to_json_soft(f->value, err, errlen)) == NULL) {
				json_decref(j);
				return NULL;
			}
			if (json_object_set_new(j, f->key, m) != 0) {
				snprintf(err, errlen, "the daemon sent a record "
				    "key that is not UTF-8");
				json_decref(j);
				return NULL;
			}
		}
		return at ? tagged("@record", j) : j;
	case ASYNCFLOW__VALUE__KIND_VOW_ID:
	case ASYNCFLOW__VALUE__KIND_RESOLVER_ID:
		id = v->kind_case == ASYNCFLOW__VALUE__KIND_VOW_ID ?
		    v->vow_id : v->resolver_id;
		if (id > (uint64_t)INT64_MAX) {
			snprintf(err, errlen, "the daemon sent a number beyond "
			    "int64");
			return NULL;
		}
		return tagged(v->kind_case == ASYNCFLOW__VALUE__KIND_VOW_ID ?
		    "@vow" : "@resolver", jnew(json_integer((json_int_t)id)));
	case ASYNCFLOW__VALUE__KIND_OBJ_NAME:
		if ((j = json_string(v->obj_name)) == NULL)
			goto not_utf8;
		return tagged("@obj", j);
	case ASYNCFLOW__VALUE__KIND_ERROR_VALUE:
		o = jnew(json_object());
		if ((j = json_string(v->error_value ? v->error_value->name :
		    "")) == NULL || json_object_set_new(o, "name", j) != 0 ||
		    (j = json_string(v->error_value ? v->error_value->message :
		    "")) == NULL || json_object_set_new(o, "message", j) != 0) {
			json_decref(o);
			goto not_utf8;
		}
		return tagged("@error", o);
	default:
		snprintf(err, errlen, "the daemon sent a value of unknown kind %d",
		    (int)v->kind_case);
		return NULL;
	}
string:
	if ((j = json_string(s != NULL ? s : "")) != NULL)
		return j;
not_utf8:
	snprintf(err, errlen, "the daemon sent a string that is not UTF-8");
	return NULL;
}

static json_t *
value_to_json(const Asyncflow__Value *v)
{
	char err[512];
	json_t *j = value_to_json_soft(v, err, sizeof(err));

	if (j == NULL)
		fail(EXIT_FAILURE, "%s", err);
	return j;
}

/* Prints j, one line, and frees it. */
static int
print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT |
	    JSON_REAL_PRECISION(real_precision));

	if (s == NULL)
		nomem();
	json_decref(j);
	puts(s);
	free(s);
	if (fflush(stdout) != 0 || ferror(stdout))
		fail(EXIT_FAILURE, "cannot write the answer: %s", strerror(errno));
	return EXIT_SUCCESS;
}

static json_t *
vow_ref(uint64_t vow)
{
	return tagged("@vow", juint(vow));
}

static json_t *
activation_json(const Asyncflow__ActivationInfo *a)
{
	json_t *o = jnew(json_object()), *w = jnew(json_array());
	size_t i;

	jset(o, "activation", juint(a->id));
	jset(o, "flow", jstr(a->flow));
	jset(o, "state", jstr(a->state));
	jset(o, "args", value_to_json(a->args));
	jset(o, "outcome", vow_ref(a->outcome));
	for (i = 0; i < a->n_waiting_on; i++)
		jpush(w, vow_ref(a->waiting_on[i]));
	jset(o, "waiting_on", w);
	if (a->n_invocations > 0) {
		json_t *iv = jnew(json_array());

		/* Sends not answered yet: visible however long nobody serves
		 * their object. */
		for (i = 0; i < a->n_invocations; i++) {
			const Asyncflow__Invocation *in = a->invocations[i];
			json_t *x = jnew(json_object());

			jset(x, "vow", vow_ref(in->vow));
			jset(x, "object", jstr(in->object));
			jset(x, "method", jstr(in->method));
			jset(x, "args", value_to_json(in->args));
			jpush(iv, x);
		}
		jset(o, "invocations", iv);
	}
	jset(o, "journal_length", juint(a->journal_length));
	if (strcmp(a->state, "Failed") == 0)
		jset(o, "failure", jstr(a->failure));
	jset(o, "incarnation", juint(a->incarnation));
	return o;
}

static const char *
vow_state(Asyncflow__VowStatus s)
{
	switch (s) {
	case ASYNCFLOW__VOW_STATUS__VOW_STATUS_PENDING:
		return "pending";
	case ASYNCFLOW__VOW_STATUS__VOW_STATUS_FULFILLED:
		return "fulfilled";
	case ASYNCFLOW__VOW_STATUS__VOW_STATUS_REJECTED:
		return "rejected";
	default:
		fail(EXIT_FAILURE, "the daemon sent an unknown vow state %d", (int)s);
		return NULL;
	}
}

/* {"vow", "state"} and, once settled and `with_value`, "value". */
static json_t *
vow_json(const Asyncflow__VowInfo *vi, bool with_value)
{
	json_t *o = jnew(json_object());
	const char *st = vow_state(vi->state);

	jset(o, "vow", juint(vi->vow));
	jset(o, "state", jstr(st));
	if (with_value && strcmp(st, "pending") != 0)
		jset(o, "value", value_to_json(vi->value));
	return o;
}

/* ---- Connection ------------------------------------------------------------------ */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *socket_path;

/* Connects within timeout_ms (negative: AF_CONNECT_TIMEOUT_MS); exits 1
 * if that fails. */
static af_conn *
connect_within(int timeout_ms)
{
	char err[512];
	af_conn *c;
	int rc;

	if (timeout_ms < 0)
		timeout_ms = AF_CONNECT_TIMEOUT_MS;
	rc = af_connect_timeout(socket_path, timeout_ms, &c, err, sizeof(err));
	if (rc == AF_OK)
		return c;
	if (rc == AF_ECONN)
		fail(EXIT_FAILURE, "%s (is asyncflowd running? the socket is "
		    "chosen with -s or $ASYNCFLOW_SOCKET)", err);
	fail(EXIT_FAILURE, "%s: %s", af_errname(rc), err[0] ? err : af_strerror(rc));
	return NULL;
}

static af_conn *
connect_daemon(void)
{
	return connect_within(-1);
}

/* Reports a failed call and exits 1. */
static void
call_failed(af_conn *c, int rc)
{
	const char *m = af_conn_errmsg(c);

	fail(EXIT_FAILURE, "%s: %s", af_errname(rc), m[0] ? m : af_strerror(rc));
}

/* ---- Commands -------------------------------------------------------------------- */

static int
cmd_mkvow(int argc, char **argv)
{
	uint8_t res[AF_RESOLVER_LEN];
	char hex[2 * AF_RESOLVER_LEN + 1];
	uint64_t vow;
	af_conn *c;
	json_t *o;
	int rc, i;

	parse_args(argc, argv, NULL, NULL, 0);
	c = connect_daemon();
	if ((rc = af_mkvow(c, &vow, res)) != AF_OK)
		call_failed(c, rc);
	af_close(c);
	for (i = 0; i < AF_RESOLVER_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", res[i]);
	o = jnew(json_object());
	jset(o, "vow", juint(vow));
	jset(o, "resolver", jstr(hex));
	return print_json(o);
}

static int
cmd_start(int argc, char **argv)
{
	const char *key = NULL;
	struct opt opts[] = { { "key", &key, NULL }, { NULL, NULL, NULL } };
	char *pos[2];
	Asyncflow__Value *args = NULL;
	uint64_t act, outcome;
	af_conn *c;
	json_t *o;
	int n, rc;

	n = parse_args(argc, argv, opts, pos, 2);
	if (n < 1)
		usage_error("missing FLOW");
	if (pos[0][0] == '\0')
		usage_error("FLOW must not be empty");
	if (n == 2)
		args = parse_value("ARGS_JSON", pos[1]);
	c = connect_daemon();
	rc = af_start(c, pos[0], args, key, &act, &outcome, NULL);
	if (rc != AF_OK)
		call_failed(c, rc);
	af_close(c);
	af_msg_free(args);
	o = jnew(json_object());
	jset(o, "activation", juint(act));
	jset(o, "outcome", vow_ref(outcome));
	return print_json(o);
}

static int
cmd_settle(int argc, char **argv)
{
	const char *resolver = NULL;
	bool reject = false;
	struct opt opts[] = {
		{ "resolver", &resolver, NULL },
		{ "reject", NULL, &reject },
		{ NULL, NULL, NULL },
	};
	uint8_t res[AF_RESOLVER_LEN];
	char *pos[2];
	Asyncflow__Value *val;
	Asyncflow__VowInfo *vi;
	uint64_t vow;
	af_conn *c;
	json_t *o;
	int n, rc;

	n = parse_args(argc, argv, opts, pos, 2);
	if (n < 1)
		usage_error("missing VOW");
	vow = parse_id("VOW", pos[0]);
	if (resolver == NULL)
		usage_error("missing --resolver HEX");
	parse_resolver(resolver, res);
	if (n < 2)
		usage_error("missing %s", reject ? "ERROR_JSON" : "VALUE_JSON");
	val = parse_value(reject ? "ERROR_JSON" : "VALUE_JSON", pos[1]);
	c = connect_daemon();
	if ((rc = af_settle(c, vow, res, reject, val, &vi)) != AF_OK)
		call_failed(c, rc);
	af_close(c);
	af_msg_free(val);
	o = vow_json(vi, false);
	af_msg_free(vi);
	return print_json(o);
}

/*
 * vow --wait --timeout S bounds the wait for the settlement: connecting,
 * the handshake and a first look without waiting get max(S, VOW_LOOK_MS),
 * so that a settled vow is printed even with --timeout 0 and a daemon that
 * does not answer (stopped) fails the command in about S seconds, not
 * AF_CONNECT_TIMEOUT_MS. Only if the vow is pending does it then wait, for
 * what is left of S.
 */
#define VOW_LOOK_MS 1000

/* Milliseconds from now until `deadline` (ms of now_ms), at least 0. */
static int
ms_until(int64_t deadline)
{
	int64_t left = deadline - now_ms();

	return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

static int
cmd_vow(int argc, char **argv)
{
	const char *timeout = NULL;
	bool wait = false;
	struct opt opts[] = {
		{ "wait", NULL, &wait },
		{ "timeout", &timeout, NULL },
		{ NULL, NULL, NULL },
	};
	char *pos[1], *end;
	Asyncflow__VowInfo *vi;
	uint64_t vow;
	double secs;
	int64_t start, look_end;
	int n, rc, ms = -1;
	af_conn *c;
	json_t *o;

	n = parse_args(argc, argv, opts, pos, 1);
	if (n < 1)
		usage_error("missing VOW");
	vow = parse_id("VOW", pos[0]);
	if (timeout != NULL) {
		errno = 0;
		secs = strtod(timeout, &end);
		if (errno != 0 || end == timeout || *end != '\0' ||
		    !(secs >= 0) || secs > 2000000.0)
			usage_error("--timeout needs a number of seconds, not \"%s\"",
			    timeout);
		ms = (int)ceil(secs * 1000.0);
	}
	if (timeout == NULL) {
		c = connect_daemon();
		if ((rc = af_get_vow(c, vow, wait, -1, &vi)) != AF_OK)
			call_failed(c, rc);
		goto done;
	}
	start = now_ms();
	look_end = start + (ms > VOW_LOOK_MS ? ms : VOW_LOOK_MS);
	c = connect_within(ms_until(look_end));
	rc = af_get_vow(c, vow, false, ms_until(look_end), &vi);
	if (rc == AF_ETIMEDOUT)
		fail(EXIT_FAILURE, "vow %llu: the daemon did not answer within "
		    "%lld ms", (unsigned long long)vow,
		    (long long)(look_end - start));
	if (rc != AF_OK)
		call_failed(c, rc);
	if (wait && vi->state == ASYNCFLOW__VOW_STATUS__VOW_STATUS_PENDING) {
		af_msg_free(vi);
		rc = af_get_vow(c, vow, true, ms_until(start + ms), &vi);
		if (rc == AF_ETIMEDOUT)
			fail(EXIT_FAILURE, "vow %llu was not settled within %s s",
			    (unsigned long long)vow, timeout);
		if (rc != AF_OK)
			call_failed(c, rc);
	}
done:
	af_close(c);
	o = vow_json(vi, true);
	af_msg_free(vi);
	return print_json(o);
}

/*
 * Every activation (in `state`; NULL: all), as a JSON array, in pages. The
 * daemon refuses (AF_ELIMIT) a page whose answer would not fit one frame:
 * then the page is halved and asked again, down to one activation, and
 * grows back after each page that came.
 */
#define LIST_PAGE 1000u

static json_t *
list_all(af_conn *c, const char *state)
{
	Asyncflow__ActivationList *l;
	uint32_t page = LIST_PAGE;
	uint64_t after = 0;
	json_t *arr = jnew(json_array());
	size_t i;
	int rc;

	for (;;) {
		rc = af_list(c, state, after, page, &l);
		if (rc == AF_ELIMIT && page > 1) {
			page /= 2;
			continue;
		}
		if (rc == AF_ELIMIT) {
			if (after == 0)
				fail(EXIT_FAILURE, "the first activation is too "
				    "large to list: even alone it does not fit "
				    "one answer of the daemon (%s)",
				    af_conn_errmsg(c));
			fail(EXIT_FAILURE, "the activation after %llu is too "
			    "large to list: even alone it does not fit one "
			    "answer of the daemon (%s)",
			    (unsigned long long)after, af_conn_errmsg(c));
		}
		if (rc != AF_OK)
			call_failed(c, rc);
		for (i = 0; i < l->n_activations; i++) {
			jpush(arr, activation_json(l->activations[i]));
			if (l->activations[i]->id <= after)
				fail(EXIT_FAILURE, "the daemon listed activation "
				    "%llu after %llu", (unsigned long long)
				    l->activations[i]->id, (unsigned long long)after);
			after = l->activations[i]->id;
		}
		i = l->n_activations;
		af_msg_free(l);
		if (i < page)
			break;
		if (page < LIST_PAGE)
			page = page * 2 < LIST_PAGE ? page * 2 : LIST_PAGE;
	}
	return arr;
}

static int
cmd_ls(int argc, char **argv)
{
	static const char *const states[] = {
		"Running", "Sleeping", "Replaying", "Failed", "Done", NULL,
	};
	const char *state = NULL;
	struct opt opts[] = { { "state", &state, NULL }, { NULL, NULL, NULL } };
	af_conn *c;
	json_t *arr;
	size_t i;

	parse_args(argc, argv, opts, NULL, 0);
	if (state != NULL) {
		for (i = 0; states[i] != NULL; i++)
			if (strcmp(states[i], state) == 0)
				break;
		if (states[i] == NULL)
			usage_error("--state is one of Running, Sleeping, Replaying, "
			    "Failed, Done; not \"%s\"", state);
	}
	c = connect_daemon();
	arr = list_all(c, state);
	af_close(c);
	return print_json(arr);
}

static int
cmd_show(int argc, char **argv)
{
	Asyncflow__ActivationInfo *a;
	char *pos[1];
	uint64_t act;
	af_conn *c;
	json_t *o;
	int rc;

	if (parse_args(argc, argv, NULL, pos, 1) < 1)
		usage_error("missing A (an activation id)");
	act = parse_id("A", pos[0]);
	c = connect_daemon();
	if ((rc = af_show(c, act, &a)) != AF_OK)
		call_failed(c, rc);
	af_close(c);
	o = activation_json(a);
	af_msg_free(a);
	return print_json(o);
}

static json_t *
entry_json(size_t index, const Asyncflow__JournalEntry *e)
{
	json_t *o = jnew(json_object());

	jset(o, "index", juint(index));
	switch (e->kind) {
	case ASYNCFLOW__ENTRY_KIND__CHECK_CALL:
	case ASYNCFLOW__ENTRY_KIND__CHECK_SEND:
		jset(o, "kind", jstr(e->kind == ASYNCFLOW__ENTRY_KIND__CHECK_CALL ?
		    "checkCall" : "checkSend"));
		jset(o, "target", jstr(e->target));
		jset(o, "method", jstr(e->method));
		jset(o, "args", value_to_json(e->args));
		jset(o, "callIndex", juint(e->call_index));
		break;
	case ASYNCFLOW__ENTRY_KIND__DO_RETURN:
		jset(o, "kind", jstr("doReturn"));
		jset(o, "callIndex", juint(e->call_index));
		jset(o, "result", value_to_json(e->value));
		break;
	case ASYNCFLOW__ENTRY_KIND__DO_THROW:
		jset(o, "kind", jstr("doThrow"));
		jset(o, "callIndex", juint(e->call_index));
		jset(o, "error", value_to_json(e->value));
		break;
	case ASYNCFLOW__ENTRY_KIND__DO_FULFILL:
		jset(o, "kind", jstr("doFulfill"));
		jset(o, "vow", vow_ref(e->vow));
		jset(o, "value", value_to_json(e->value));
		break;
	case ASYNCFLOW__ENTRY_KIND__DO_REJECT:
		jset(o, "kind", jstr("doReject"));
		jset(o, "vow", vow_ref(e->vow));
		jset(o, "reason", value_to_json(e->value));
		break;
	default:
		/* An entry kind newer than this program. */
		jset(o, "kind", jstr("unknown"));
		jset(o, "code", jnew(json_integer((json_int_t)e->kind)));
		break;
	}
	jset(o, "incarnation", juint(e->incarnation));
	return o;
}

#define JOURNAL_PAGE 4096u

static int
cmd_journal(int argc, char **argv)
{
	Asyncflow__JournalDump *d;
	char *pos[1];
	uint64_t act, from = 0, length;
	uint32_t page = JOURNAL_PAGE;
	af_conn *c;
	json_t *arr;
	size_t i, n;
	int rc;

	if (parse_args(argc, argv, NULL, pos, 1) < 1)
		usage_error("missing A (an activation id)");
	act = parse_id("A", pos[0]);
	c = connect_daemon();
	arr = jnew(json_array());
	/* In pages, halved when one does not fit an answer (large values). */
	for (;;) {
		rc = af_journal_range(c, act, from, page, &d);
		if (rc == AF_ELIMIT && page > 1) {
			page /= 2;
			continue;
		}
		if (rc == AF_ELIMIT)
			fail(EXIT_FAILURE, "journal entry %llu is too large for "
			    "one answer of the daemon (%s)",
			    (unsigned long long)from, af_conn_errmsg(c));
		if (rc != AF_OK)
			call_failed(c, rc);
		for (i = 0; i < d->n_entries; i++)
			jpush(arr, entry_json(from + i, d->entries[i]));
		from += d->n_entries;
		n = d->n_entries;
		length = d->length;
		af_msg_free(d);
		if (n == 0 || from >= length)
			break;
		if (page < JOURNAL_PAGE)
			page = page * 2 < JOURNAL_PAGE ? page * 2 : JOURNAL_PAGE;
	}
	af_close(c);
	return print_json(arr);
}

/* The Failed activations, paged with af_list (af_failures stops at the
 * daemon's cap of 10,000 in one answer). */
static int
cmd_failures(int argc, char **argv)
{
	af_conn *c;
	json_t *arr;

	parse_args(argc, argv, NULL, NULL, 0);
	c = connect_daemon();
	arr = list_all(c, "Failed");
	af_close(c);
	return print_json(arr);
}

static int
cmd_wake(int argc, char **argv)
{
	char *pos[1];
	uint64_t act = 0;
	af_conn *c;
	json_t *o;
	int rc;

	if (parse_args(argc, argv, NULL, pos, 1) == 1)
		act = parse_id("A", pos[0]);
	c = connect_daemon();
	if ((rc = af_wake(c, act)) != AF_OK)
		call_failed(c, rc);
	af_close(c);
	o = jnew(json_object());
	jset(o, "woken", act ? juint(act) : jstr("all"));
	return print_json(o);
}

/* Every field of StatsReply by its proto name, by reflection, so fields
 * added to the proto show up without a change here. */
static int
cmd_stats(int argc, char **argv)
{
	const ProtobufCMessageDescriptor *d = &asyncflow__stats_reply__descriptor;
	const ProtobufCFieldDescriptor *f;
	Asyncflow__StatsReply *st;
	const char *mem;
	af_conn *c;
	json_t *o;
	size_t i;
	int rc;

	parse_args(argc, argv, NULL, NULL, 0);
	c = connect_daemon();
	if ((rc = af_stats(c, &st)) != AF_OK)
		call_failed(c, rc);
	af_close(c);
	o = jnew(json_object());
	for (i = 0; i < d->n_fields; i++) {
		f = &d->fields[i];
		mem = (const char *)st + f->offset;
		if (f->label == PROTOBUF_C_LABEL_REPEATED)
			continue;
		switch (f->type) {
		case PROTOBUF_C_TYPE_UINT64:
		case PROTOBUF_C_TYPE_FIXED64:
			jset(o, f->name, juint(*(const uint64_t *)mem));
			break;
		case PROTOBUF_C_TYPE_INT64:
		case PROTOBUF_C_TYPE_SINT64:
		case PROTOBUF_C_TYPE_SFIXED64:
			jset(o, f->name, jnew(json_integer(*(const int64_t *)mem)));
			break;
		case PROTOBUF_C_TYPE_UINT32:
		case PROTOBUF_C_TYPE_FIXED32:
			jset(o, f->name, juint(*(const uint32_t *)mem));
			break;
		case PROTOBUF_C_TYPE_INT32:
		case PROTOBUF_C_TYPE_SINT32:
		case PROTOBUF_C_TYPE_SFIXED32:
			jset(o, f->name, jnew(json_integer(*(const int32_t *)mem)));
			break;
		case PROTOBUF_C_TYPE_BOOL:
			jset(o, f->name, jnew(json_boolean(*(const protobuf_c_boolean *)mem)));
			break;
		case PROTOBUF_C_TYPE_DOUBLE:
			note_double(*(const double *)mem);
			jset(o, f->name, jnew(json_real(*(const double *)mem)));
			break;
		case PROTOBUF_C_TYPE_STRING:
			jset(o, f->name, jstr(*(char *const *)mem));
			break;
		default:
			break;
		}
	}
	af_msg_free(st);
	return print_json(o);
}

/* ---- serve ----------------------------------------------------------------------- *
 *
 * One invocation at a time, in arrival order: its JSON goes to CMD's stdin
 * while CMD's stdout and stderr are read, all three pipes non-blocking
 * under one poll, so a CMD that writes much before it reads, or never
 * reads its stdin, cannot deadlock with us. Whatever goes wrong with one
 * invocation becomes its rejection; what goes wrong with the daemon or
 * with running CMD at all ends the command with exit 1 and leaves the
 * invocation unanswered, for the daemon to hand out again.
 */

#define SERVE_STDOUT_MAX (8u << 20)	/* a result beyond this cannot fit
					 * a frame anyway */
#define SERVE_STDERR_MAX (64u << 10)	/* kept for the rejection message */
#define SERVE_EXCERPT 200		/* bytes of bad output quoted */
#define SERVE_LINGER_MS 2000		/* after CMD exited, for the pipes'
					 * EOF (a background child of CMD
					 * may hold them open) */

static bool serve_quiet;
static char *const *serve_cmd;		/* CMD [ARGS...], NULL-terminated */

static void PRINTFLIKE(1, 2)
note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
}

/* What CMD wrote on one pipe: the first `max` bytes, and a count of the
 * rest. p is always NUL-terminated. */
struct outbuf {
	char	*p;
	size_t	 len, cap, max, dropped;
};

static void
outbuf_init(struct outbuf *b, size_t max)
{
	b->cap = 4096;
	b->p = xcalloc(1, b->cap);
	b->len = b->dropped = 0;
	b->max = max;
}

static void
outbuf_add(struct outbuf *b, const char *p, size_t n)
{
	size_t keep = n < b->max - b->len ? n : b->max - b->len;
	char *np;

	b->dropped += n - keep;
	if (keep == 0)
		return;
	if (b->len + keep + 1 > b->cap) {
		while (b->len + keep + 1 > b->cap)
			b->cap *= 2;
		if ((np = realloc(b->p, b->cap)) == NULL)
			nomem();
		b->p = np;
	}
	memcpy(b->p + b->len, p, keep);
	b->len += keep;
	b->p[b->len] = '\0';
}

/* p[0..n) as a string a Value may hold (valid UTF-8, no NUL): every byte
 * that is not part of a valid sequence, and NUL, becomes U+FFFD. */
static char *
utf8_text(const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;
	char *out = xcalloc(n * 3 + 1, 1), *o = out;
	size_t i = 0, k, len;
	unsigned char c, lo, hi;
	bool ok;

	while (i < n) {
		c = s[i];
		if (c >= 0x01 && c < 0x80) {
			*o++ = (char)c;
			i++;
			continue;
		}
		len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 :
		    c >= 0xf0 && c <= 0xf4 ? 4 : 0;
		lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
		ok = len > 0 && i + len <= n && s[i + 1] >= lo && s[i + 1] <= hi;
		for (k = 2; ok && k < len; k++)
			ok = s[i + k] >= 0x80 && s[i + k] <= 0xbf;
		if (!ok) {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(o, s + i, len);
		o += len;
		i += len;
	}
	*o = '\0';
	return out;
}

/* The start of what CMD printed, for a message, on one line: "TEXT" or
 * "TEXT"... (N bytes), control characters written \n, \t, \xNN. */
static void
excerpt(char *dst, size_t dstlen, const struct outbuf *b)
{
	size_t total = b->len + b->dropped, i, o = 0;
	char *t = utf8_text(b->p, b->len < SERVE_EXCERPT ? b->len : SERVE_EXCERPT);
	char *e = xcalloc(strlen(t) * 4 + 1, 1);

	for (i = 0; t[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)t[i];

		if (ch == '\n' || ch == '\t' || ch == '\r') {
			e[o++] = '\\';
			e[o++] = ch == '\n' ? 'n' : ch == '\t' ? 't' : 'r';
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(e + o, 5, "\\x%02x", ch);
		} else {
			e[o++] = (char)ch;
		}
	}
	if (total > SERVE_EXCERPT)
		snprintf(dst, dstlen, "\"%s\"... (%zu bytes)", e, total);
	else
		snprintf(dst, dstlen, "\"%s\"", e);
	free(e);
	free(t);
}

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		fail(EXIT_FAILURE, "fcntl: %s", strerror(errno));
}

/*
 * Runs CMD with input[0..inlen) on its stdin and collects its stdout and
 * stderr (copying the stderr to ours as it comes) and its wait status.
 * Exits 1 if CMD cannot be run at all (no such program, no processes
 * left): then nothing is answered.
 */
static void
run_cmd(const char *input, size_t inlen, struct outbuf *out,
    struct outbuf *err, int *status)
{
	int in[2], op[2], ep[2], xp[2], e = 0;
	int ifd, ofd, efd, *which[3];
	struct pollfd pfd[3];
	char buf[65536];
	size_t off = 0;
	int64_t linger_until = 0;
	bool exited = false;
	ssize_t n;
	pid_t pid;
	int i, np, timeout;

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(op, O_CLOEXEC) < 0 ||
	    pipe2(ep, O_CLOEXEC) < 0 || pipe2(xp, O_CLOEXEC) < 0)
		fail(EXIT_FAILURE, "cannot make pipes for %s: %s", serve_cmd[0],
		    strerror(errno));
	if ((pid = fork()) < 0)
		fail(EXIT_FAILURE, "cannot run %s: fork: %s", serve_cmd[0],
		    strerror(errno));
	if (pid == 0) {
		/* The pipes are close-on-exec; dup2 gives CMD its copies. */
		signal(SIGPIPE, SIG_DFL);
		if (dup2(in[0], 0) >= 0 && dup2(op[1], 1) >= 0 &&
		    dup2(ep[1], 2) >= 0)
			execvp(serve_cmd[0], serve_cmd);
		e = errno;
		if (write(xp[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(in[0]);
	close(op[1]);
	close(ep[1]);
	close(xp[1]);
	/* EOF: exec succeeded (the pipe closed on exec); else its errno. */
	do
		n = read(xp[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(xp[0]);
	if (n > 0) {
		while (waitpid(pid, status, 0) < 0 && errno == EINTR)
			;
		fail(EXIT_FAILURE, "cannot run %s: %s", serve_cmd[0], strerror(e));
	}
	ifd = in[1];
	ofd = op[0];
	efd = ep[0];
	set_nonblock(ifd);
	set_nonblock(ofd);
	set_nonblock(efd);
	if (inlen == 0)
		close_fd(&ifd);

	while (ifd >= 0 || ofd >= 0 || efd >= 0) {
		if (!exited && waitpid(pid, status, WNOHANG) == pid) {
			exited = true;
			linger_until = now_ms() + SERVE_LINGER_MS;
		}
		timeout = 100;		/* to notice CMD's exit */
		if (exited) {
			if (ofd < 0 && efd < 0)
				break;	/* only its stdin left: never read */
			if ((timeout = (int)(linger_until - now_ms())) <= 0) {
				note("%s exited, but something it started "
				    "keeps its stdout or stderr open: not "
				    "waiting for it", serve_cmd[0]);
				break;
			}
		}
		np = 0;
		if (ifd >= 0) {
			pfd[np].fd = ifd;
			pfd[np].events = POLLOUT;
			which[np++] = &ifd;
		}
		if (ofd >= 0) {
			pfd[np].fd = ofd;
			pfd[np].events = POLLIN;
			which[np++] = &ofd;
		}
		if (efd >= 0) {
			pfd[np].fd = efd;
			pfd[np].events = POLLIN;
			which[np++] = &efd;
		}
		if (poll(pfd, (nfds_t)np, timeout) < 0) {
			if (errno == EINTR)
				continue;
			fail(EXIT_FAILURE, "poll: %s", strerror(errno));
		}
		for (i = 0; i < np; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (which[i] == &ifd) {
				n = write(ifd, input + off, inlen - off);
				if (n > 0 && (off += (size_t)n) == inlen)
					close_fd(&ifd);
				else if (n < 0 && errno != EAGAIN &&
				    errno != EINTR)
					close_fd(&ifd);	/* EPIPE: CMD does
							 * not read it */
				continue;
			}
			n = read(*which[i], buf, sizeof(buf));
			if (n > 0 && which[i] == &ofd) {
				outbuf_add(out, buf, (size_t)n);
			} else if (n > 0) {
				outbuf_add(err, buf, (size_t)n);
				fwrite(buf, 1, (size_t)n, stderr);
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				close_fd(which[i]);
			}
		}
	}
	close_fd(&ifd);
	close_fd(&ofd);
	close_fd(&efd);
	if (!exited)
		while (waitpid(pid, status, 0) < 0 && errno == EINTR)
			;
}

/* The JSON object CMD reads, one line; NULL with a message in err if the
 * invocation cannot be written in JSON. */
static char *
invocation_json(const Asyncflow__Invocation *inv, char *err, size_t errlen)
{
	json_t *o = jnew(json_object()), *m, *res;
	char key[24], *hex, *s;
	size_t i, k, len;

	real_precision = 1;
	if ((m = json_string(inv->method)) == NULL) {
		snprintf(err, errlen, "the daemon sent a method name that is "
		    "not UTF-8");
		goto bad;
	}
	jset(o, "method", m);
	if ((m = value_to_json_soft(inv->args, err, errlen)) == NULL)
		goto bad;
	jset(o, "args", m);
	if (inv->vow > (uint64_t)INT64_MAX ||
	    inv->activation > (uint64_t)INT64_MAX) {
		snprintf(err, errlen, "the daemon sent a number beyond int64");
		goto bad;
	}
	jset(o, "vow", jnew(json_integer((json_int_t)inv->vow)));
	jset(o, "activation", jnew(json_integer((json_int_t)inv->activation)));
	res = jnew(json_object());
	jset(o, "resolvers", res);
	for (i = 0; i < inv->n_grants; i++) {
		const ProtobufCBinaryData *r = &inv->grants[i]->resolver;

		snprintf(key, sizeof(key), "%llu",
		    (unsigned long long)inv->grants[i]->vow);
		hex = xcalloc(2 * r->len + 1, 1);
		for (k = 0; k < r->len; k++)
			snprintf(hex + 2 * k, 3, "%02x", r->data[k]);
		jset(res, key, jstr(hex));
		memset(hex, 0, 2 * r->len);
		free(hex);
	}
	s = json_dumps(o, JSON_ENCODE_ANY | JSON_COMPACT |
	    JSON_REAL_PRECISION(real_precision));
	json_decref(o);
	len = s != NULL ? strlen(s) : 0;
	if (s == NULL || (s = realloc(s, len + 2)) == NULL)
		nomem();
	s[len] = '\n';
	s[len + 1] = '\0';
	return s;
bad:
	json_decref(o);
	return NULL;
}

/* Why a settlement's value was refused (the value was at fault). */
static bool
value_refused(int rc)
{
	return rc == AF_ELIMIT || rc == AF_EDECODE || rc == AF_ECYCLE ||
	    rc == AF_EINVAL;
}

/*
 * Settles the invocation's result vow. Returns AF_OK when that is done (or
 * needs no more doing: answered already, or the daemon will not let us),
 * or the code of a value the daemon refused, for the caller to reject
 * instead. Exits 1 when the daemon cannot be reached.
 */
static int
answer(af_conn *c, const Asyncflow__Invocation *inv, const char *label,
    bool reject, const Asyncflow__Value *v, const char *logtext)
{
	int rc = af_settle(c, inv->vow, inv->resolver.data, reject, v, NULL);
	const char *m = af_conn_errmsg(c);

	if (rc == AF_OK) {
		if (!serve_quiet)
			note("%s: %s", label, logtext);
		return AF_OK;
	}
	if (m[0] == '\0')
		m = af_strerror(rc);
	if (rc == AF_ESETTLED) {
		note("%s: already answered otherwise (a redelivery?): %s; "
		    "ignored", label, m);
		return AF_OK;
	}
	if (rc == AF_ENOTFOUND || rc == AF_EDENIED) {
		note("%s: cannot answer: %s: %s; ignored", label,
		    af_errname(rc), m);
		return AF_OK;
	}
	if (value_refused(rc) && !reject)
		return rc;
	if (value_refused(rc)) {
		note("%s: the daemon refused the rejection: %s: %s; ignored",
		    label, af_errname(rc), m);
		return AF_OK;
	}
	fail(EXIT_FAILURE, "%s: cannot answer: %s: %s (the daemon hands the "
	    "invocation out again)", label, af_errname(rc), m);
	return rc;
}

/* Rejects the invocation with {"@error": {"name": name, "message": msg}}. */
static void
reject_with(af_conn *c, const Asyncflow__Invocation *inv, const char *label,
    const char *name, const char *msg)
{
	Asyncflow__Value v = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Error e = ASYNCFLOW__ERROR__INIT;
	/* Valid UTF-8 even where a message was cut short. */
	char *text = utf8_text(msg, strlen(msg));
	size_t show = strcspn(text, "\n");
	char logtext[300];

	e.name = (char *)name;
	e.message = text;
	v.kind_case = ASYNCFLOW__VALUE__KIND_ERROR_VALUE;
	v.error_value = &e;
	if (show > 200)
		show = 200;
	snprintf(logtext, sizeof(logtext), "rejected: %s: %.*s%s", name,
	    (int)show, text, text[show] != '\0' ? "..." : "");
	answer(c, inv, label, true, &v, logtext);
	free(text);
}

/* Fulfils the invocation with what CMD printed on stdout, or rejects it
 * with BadResult saying why that is not possible. */
static void
fulfil_with(af_conn *c, const Asyncflow__Invocation *inv, const char *label,
    const struct outbuf *out)
{
	const char *cmd = serve_cmd[0];
	char msg[4096], ex[SERVE_EXCERPT * 12 + 64];
	Asyncflow__Value *v;
	json_error_t jerror;
	struct jpath jp;
	json_t *j;
	size_t i;
	int rc;

	if (out->dropped > 0) {
		excerpt(ex, sizeof(ex), out);
		snprintf(msg, sizeof(msg), "%s printed more than %u MiB on "
		    "stdout, more than a value may be: %s", cmd,
		    SERVE_STDOUT_MAX >> 20, ex);
		reject_with(c, inv, label, "BadResult", msg);
		return;
	}
	for (i = 0; i < out->len && strchr(" \t\r\n", out->p[i]) != NULL; i++)
		;
	if (i == out->len) {
		snprintf(msg, sizeof(msg), "%s exited with status 0 but printed "
		    "nothing on stdout: it must print its result, one JSON "
		    "value", cmd);
		reject_with(c, inv, label, "BadResult", msg);
		return;
	}
	j = json_loadb(out->p, out->len, JSON_DECODE_ANY |
	    JSON_REJECT_DUPLICATES, &jerror);
	if (j == NULL) {
		excerpt(ex, sizeof(ex), out);
		snprintf(msg, sizeof(msg), "%s exited with status 0 but its "
		    "stdout is not one JSON value (%s, at line %d, column %d); "
		    "it printed %s", cmd, jerror.text, jerror.line,
		    jerror.column, ex);
		reject_with(c, inv, label, "BadResult", msg);
		return;
	}
	snprintf(msg, sizeof(msg), "the JSON %s printed", cmd);
	jp.arg = msg;
	jp.buf[0] = '\0';
	jp.msg[0] = '\0';
	v = json_to_value(j, &jp, 0);
	json_decref(j);
	if (v == NULL) {
		reject_with(c, inv, label, "BadResult", jp.msg);
		return;
	}
	rc = answer(c, inv, label, false, v, "fulfilled");
	af_msg_free(v);
	if (rc != AF_OK) {
		snprintf(msg, sizeof(msg), "the daemon refused the value %s "
		    "printed: %s: %s", cmd, af_errname(rc), af_conn_errmsg(c));
		reject_with(c, inv, label, "BadResult", msg);
	}
}

static void
serve_one(af_conn *c, Asyncflow__Invocation *inv)
{
	char label[300], why[512], msg[700], *input, *text;
	struct outbuf out, err;
	int status;

	snprintf(label, sizeof(label), "%.100s.%.100s (vow %llu)", inv->object,
	    inv->method, (unsigned long long)inv->vow);
	if (inv->resolver.len != AF_RESOLVER_LEN) {
		note("%s: the daemon sent no resolver: cannot answer it; "
		    "ignored", label);
		return;
	}
	if ((input = invocation_json(inv, why, sizeof(why))) == NULL) {
		snprintf(msg, sizeof(msg), "asyncflowctl cannot pass this "
		    "invocation to %s: %s", serve_cmd[0], why);
		reject_with(c, inv, label, "BadArgs", msg);
		return;
	}
	outbuf_init(&out, SERVE_STDOUT_MAX);
	outbuf_init(&err, SERVE_STDERR_MAX);
	run_cmd(input, strlen(input), &out, &err, &status);
	memset(input, 0, strlen(input));	/* it may hold secrets */
	free(input);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		fulfil_with(c, inv, label, &out);
	} else {
		while (err.len > 0 && (err.p[err.len - 1] == '\n' ||
		    err.p[err.len - 1] == '\r'))
			err.p[--err.len] = '\0';
		if (err.len > 0) {
			/* NULs would cut it short: utf8_text replaces them. */
			text = utf8_text(err.p, err.len);
			if (err.dropped > 0) {
				snprintf(msg, sizeof(msg), "... (%zu more bytes)",
				    err.dropped);
				if ((text = realloc(text, strlen(text) +
				    strlen(msg) + 1)) == NULL)
					nomem();
				strcat(text, msg);
			}
			reject_with(c, inv, label, "Error", text);
			free(text);
		} else {
			if (WIFSIGNALED(status))
				snprintf(msg, sizeof(msg), "%s killed by signal "
				    "%d", serve_cmd[0], WTERMSIG(status));
			else
				snprintf(msg, sizeof(msg), "%s exited with "
				    "status %d", serve_cmd[0],
				    WEXITSTATUS(status));
			reject_with(c, inv, label, "Error", msg);
		}
	}
	free(out.p);
	free(err.p);
}

/* Wipes the secrets an event carries before it is freed. */
static void
scrub_event(Asyncflow__Event *ev)
{
	Asyncflow__Invocation *inv;
	size_t i;

	if (ev->kind_case != ASYNCFLOW__EVENT__KIND_INVOCATION ||
	    (inv = ev->invocation) == NULL)
		return;
	if (inv->resolver.data != NULL)
		memset(inv->resolver.data, 0, inv->resolver.len);
	for (i = 0; i < inv->n_grants; i++)
		if (inv->grants[i]->resolver.data != NULL)
			memset(inv->grants[i]->resolver.data, 0,
			    inv->grants[i]->resolver.len);
}

static int
cmd_serve(int argc, char **argv)
{
	static char quiet_opt[] = "--quiet";
	struct opt opts[] = {
		{ "quiet", NULL, &serve_quiet },
		{ NULL, NULL, NULL },
	};
	Asyncflow__Event *ev;
	uint64_t pending;
	char *pos[1];
	af_conn *c;
	int dd, fd, rc;

	/* NAME and options before "--", CMD [ARGS...] after it. */
	for (dd = 0; dd < argc && strcmp(argv[dd], "--") != 0; dd++)
		if (strcmp(argv[dd], "-q") == 0)
			argv[dd] = quiet_opt;
	if (parse_args(dd, argv, opts, pos, 1) < 1)
		usage_error("missing NAME (the object to serve)");
	if (pos[0][0] == '\0')
		usage_error("NAME must not be empty");
	if (dd >= argc)
		usage_error("missing -- CMD [ARGS...]");
	if (dd + 1 >= argc || argv[dd + 1][0] == '\0')
		usage_error("missing CMD after --");
	serve_cmd = argv + dd + 1;	/* argv[argc] is NULL */

	/* Descriptors 0-2 open, so that no pipe lands there. */
	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
	/* CMD may exit without reading its stdin. */
	signal(SIGPIPE, SIG_IGN);

	c = connect_daemon();
	if ((rc = af_serve(c, pos[0], &pending)) != AF_OK)
		call_failed(c, rc);
	if (!serve_quiet)
		note("serving %s with %s (%llu invocation%s waiting)", pos[0],
		    serve_cmd[0], (unsigned long long)pending,
		    pending == 1 ? "" : "s");
	while ((rc = af_next_event(c, -1, &ev)) == AF_OK) {
		if (ev->kind_case == ASYNCFLOW__EVENT__KIND_INVOCATION)
			serve_one(c, ev->invocation);
		scrub_event(ev);
		af_msg_free(ev);
	}
	if (rc == AF_ENOMEM)
		nomem();
	note("lost the connection to the daemon: %s: %s", af_errname(rc),
	    af_conn_errmsg(c)[0] ? af_conn_errmsg(c) : af_strerror(rc));
	af_close(c);
	return EXIT_FAILURE;
}

/* ---- Main ---------------------------------------------------------------------- */

static const struct command commands[] = {
	{ "mkvow", cmd_mkvow,
	  "usage: asyncflowctl mkvow\n"
	  "Creates a pending vow. Prints {\"vow\": N, \"resolver\": \"HEX\"}: the\n"
	  "resolver (32 hex digits) is the secret that settles the vow.\n" },
	{ "start", cmd_start,
	  "usage: asyncflowctl start FLOW [ARGS_JSON] [--key K]\n"
	  "Starts an activation of FLOW with ARGS_JSON (default null). With\n"
	  "--key, starting again with the same key, flow and args answers the\n"
	  "same activation. Prints {\"activation\": A, \"outcome\": {\"@vow\": N}}.\n" },
	{ "settle", cmd_settle,
	  "usage: asyncflowctl settle VOW --resolver HEX VALUE_JSON\n"
	  "       asyncflowctl settle VOW --resolver HEX --reject ERROR_JSON\n"
	  "Fulfils (or rejects) VOW. Repeating the same settlement succeeds.\n"
	  "Prints {\"vow\": N, \"state\": \"fulfilled\" | \"rejected\"} (\"pending\"\n"
	  "if VALUE_JSON is a vow that is not settled yet: VOW now follows it).\n"
	  "ERROR_JSON is usually {\"@error\": {\"name\": ..., \"message\": ...}}.\n" },
	{ "vow", cmd_vow,
	  "usage: asyncflowctl vow VOW [--wait] [--timeout SECONDS]\n"
	  "Prints {\"vow\": N, \"state\": \"pending\" | \"fulfilled\" | \"rejected\"}\n"
	  "and, once settled, \"value\" (the value or the reason). --wait answers\n"
	  "only once VOW is settled; with --timeout it fails (exit 1) if that\n"
	  "takes longer than SECONDS (0: unless VOW is settled already).\n"
	  "Connecting and a first look count too, but get at least 1 s.\n" },
	{ "ls", cmd_ls,
	  "usage: asyncflowctl ls [--state STATE]\n"
	  "Prints a JSON array of activations, in id order; STATE is Running,\n"
	  "Sleeping, Replaying, Failed or Done. Each is {\"activation\", \"flow\",\n"
	  "\"state\", \"args\", \"outcome\", \"waiting_on\", \"journal_length\",\n"
	  "\"failure\" (only when Failed), \"incarnation\"}.\n" },
	{ "show", cmd_show,
	  "usage: asyncflowctl show A\n"
	  "Prints activation A: {\"activation\", \"flow\", \"state\", \"args\",\n"
	  "\"outcome\", \"waiting_on\", \"journal_length\", \"failure\" (only when\n"
	  "Failed), \"incarnation\"}.\n" },
	{ "journal", cmd_journal,
	  "usage: asyncflowctl journal A\n"
	  "Prints activation A's journal, a JSON array of entries {\"index\",\n"
	  "\"kind\", ..., \"incarnation\"} where kind is checkCall or checkSend\n"
	  "(\"target\", \"method\", \"args\", \"callIndex\"), doReturn (\"callIndex\",\n"
	  "\"result\"), doThrow (\"callIndex\", \"error\"), doFulfill (\"vow\",\n"
	  "\"value\") or doReject (\"vow\", \"reason\").\n" },
	{ "failures", cmd_failures,
	  "usage: asyncflowctl failures\n"
	  "Prints the Failed activations, a JSON array shaped like ls's.\n" },
	{ "wake", cmd_wake,
	  "usage: asyncflowctl wake [A]\n"
	  "Replays activation A now with the code registered now (Failed or\n"
	  "Sleeping); without A every Failed activation. Prints {\"woken\": A}\n"
	  "or {\"woken\": \"all\"}.\n" },
	{ "stats", cmd_stats,
	  "usage: asyncflowctl stats\n"
	  "Prints the daemon's counters as an object keyed by their names.\n" },
	{ "serve", cmd_serve,
	  "usage: asyncflowctl serve NAME [-q] -- CMD [ARGS...]\n"
	  "Serves the host object NAME: for each invocation a flow sends to it\n"
	  "(af_send(f, \"NAME\", method, args)), runs CMD [ARGS...] (no shell,\n"
	  "found in $PATH), one at a time, in arrival order. CMD reads one JSON\n"
	  "object, one line, on stdin:\n"
	  "  {\"method\": M, \"args\": ARGS, \"vow\": N, \"activation\": A,\n"
	  "   \"resolvers\": {\"R\": \"HEX\", ...}}\n"
	  "vow is the id of the result vow. Delivery is at least once (an\n"
	  "invocation comes again after a server or the daemon restarted before\n"
	  "it was answered): use vow as the idempotency key. resolvers holds the\n"
	  "secrets of the resolvers ({\"@resolver\": R}) in ARGS, for settle.\n"
	  "  exit 0, one JSON value on stdout  fulfils the result vow with it\n"
	  "  exit non-zero                     rejects it with {\"@error\":\n"
	  "                                    {\"name\": \"Error\", \"message\": STDERR}}\n"
	  "  exit 0, anything else on stdout   rejects it with name \"BadResult\"\n"
	  "CMD's stderr is copied to asyncflowctl's. Unlike the other commands,\n"
	  "serve prints nothing on stdout: it logs one line per invocation on\n"
	  "stderr (not with -q, --quiet) and runs until the connection to the\n"
	  "daemon is lost, then exits 1 (restarting it is safe). If CMD cannot\n"
	  "be run at all it exits 1 too, leaving the invocation unanswered.\n" },
	{ NULL, NULL, NULL },
};

static void
print_main_usage(FILE *f)
{
	fputs(main_usage, f);
	fputs(value_help, f);
}

int
main(int argc, char **argv)
{
	const struct command *k;
	int i = 1;

	socket_path = getenv("ASYNCFLOW_SOCKET");
	if (socket_path != NULL && socket_path[0] == '\0')
		socket_path = NULL;
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			print_main_usage(stdout);
			return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
		}
		if (strcmp(argv[i], "-s") == 0 || strcmp(argv[i], "--socket") == 0) {
			if (i + 1 >= argc || argv[i + 1][0] == '\0')
				usage_error("%s needs a socket path", argv[i]);
			socket_path = argv[i + 1];
			i += 2;
			continue;
		}
		usage_error("unknown option \"%s\"", argv[i]);
	}
	if (i >= argc)
		usage_error("missing command");
	for (k = commands; k->name != NULL; k++)
		if (strcmp(k->name, argv[i]) == 0)
			break;
	if (k->name == NULL) {
		if (strcmp(argv[i], "help") == 0) {
			print_main_usage(stdout);
			return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
		}
		usage_error("unknown command \"%s\"", argv[i]);
	}
	cur = k;
	cmd_name = k->name;
	return k->run(argc - i - 1, argv + i + 1);
}
