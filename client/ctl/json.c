/*
 * json.c: asyncflowctl's JSON, with jansson: base64, JSON -> Value (the
 * values given on the command line and printed by serve's CMD) and
 * Value -> JSON (the replies printed). It lives in the program, not in
 * the library, which depends on protobuf-c and libc only.
 *
 * Values are written in JSON as DESIGN.md §2 says (main.c's value_help
 * sums it up). One extension: a double that JSON cannot hold (infinite,
 * NaN) is written {"@double": "inf" | "-inf" | "nan"}, and read back the
 * same way.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* ---- Base64 (RFC 4648, standard alphabet, padded) ---------------------------- */

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *
b64_encode(const uint8_t *p, size_t n)
{
	char *out, *o;
	size_t i;
	uint32_t v;

	if (n > (SIZE_MAX - 1) / 4 * 3 - 3 ||
	    (out = malloc((n + 2) / 3 * 4 + 1)) == NULL)
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
 * AF_VALUE_MAX_DEPTH, which the daemon refuses too) makes json_to_value
 * return NULL with a message in jp->msg naming the argument and the path
 * inside it: parse_value turns it into a usage error (nothing has been
 * sent yet), serve into a rejection. Only running out of memory exits.
 *
 * `depth` counts the levels of the value above j (0 for the whole value):
 * a tagged value such as {"@vow": 3} is one level, like a scalar, and
 * {"@record": {...}} is the record it holds.
 */

static void PRINTFLIKE(2, 3) jerr(struct jpath *jp, const char *fmt, ...)
{
	char m[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	snprintf(jp->msg, sizeof(jp->msg), "%s: %s%s%s%s", jp->arg,
	    jp->buf[0] ? "at " : "", jp->buf, jp->buf[0] ? ": " : "", m);
}

static Asyncflow__Value *
new_value(Asyncflow__Value__KindCase kind)
{
	Asyncflow__Value *v = xcalloc(1, sizeof(*v));

	asyncflow__value__init(v);
	v->kind_case = kind;
	return v;
}

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
		snprintf(jp->buf + plen, sizeof(jp->buf) - plen, ".%s",
		    keys[i]);
		f->value = json_to_value(json_object_get(j, keys[i]), jp,
		    depth + 1);
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

/* Whether JSON string x holds a NUL (which only `"\u0000"` can put
 * there): strings may, names (tags' strings, @error's fields) may not. */
static bool
has_nul(json_t *x)
{
	return memchr(json_string_value(x), '\0', json_string_length(x)) !=
	    NULL;
}

static const char *
tag_string(json_t *x, const char *tag, struct jpath *jp)
{
	if (!json_is_string(x)) {
		jerr(jp, "%s needs a string", tag);
		return NULL;
	}
	if (has_nul(x)) {
		jerr(jp, "%s needs a string without NUL bytes", tag);
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
			jerr(jp,
			    "@bytes needs base64 (standard alphabet, padded)");
			af_msg_free(v);
			return NULL;
		}
	} else if (strcmp(tag, "@error") == 0) {
		if (!json_is_object(x)) {
			jerr(jp,
			    "@error needs an object {\"name\": ..., \"message\": ...}");
			return NULL;
		}
		json_object_foreach(x, key, m) {
			if (strcmp(key, "name") != 0 &&
			    strcmp(key, "message") != 0) {
				jerr(jp,
				    "@error has only \"name\" and \"message\", "
				    "not \"%s\"",
				    key);
				return NULL;
			}
			if (!json_is_string(m) || has_nul(m)) {
				jerr(jp,
				    "@error's \"%s\" must be a string without "
				    "NUL bytes",
				    key);
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
		v->double_value = s[0] == 'n' ? NAN :
		    s[0] == '-'               ? -INFINITY :
						INFINITY;
	} else {
		jerr(jp,
		    "unknown tag \"%s\" (a record key starting with @ is "
		    "written {\"@record\": {...}})",
		    tag);
		return NULL;
	}
	return v;
}

Asyncflow__Value *
json_to_value(json_t *j, struct jpath *jp, int depth)
{
	Asyncflow__Value *v;
	Asyncflow__List *l;
	size_t i, n, plen;
	const char *key;
	json_t *m;

	if (depth >= AF_VALUE_MAX_DEPTH) {
		jerr(jp, "nested too deeply: a value has at most %d levels",
		    AF_VALUE_MAX_DEPTH);
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
		/* json_string_length: the text may hold NULs ("\u0000"). */
		v = new_value(ASYNCFLOW__VALUE__KIND_STRING_VALUE);
		v->string_value.len = json_string_length(j);
		v->string_value.data = xcalloc(1, v->string_value.len + 1);
		memcpy(v->string_value.data, json_string_value(j),
		    v->string_value.len + 1);
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
			snprintf(jp->buf + plen, sizeof(jp->buf) - plen,
			    "[%zu]", i);
			l->items[i] = json_to_value(json_array_get(j, i), jp,
			    depth + 1);
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
				jerr(jp,
				    "key \"%s\" starts with @: a tagged value "
				    "has one key, and a record with such keys is "
				    "written {\"@record\": {...}}",
				    key);
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
Asyncflow__Value *
parse_value(const char *arg, const char *text)
{
	struct jpath jp;
	json_error_t err;
	Asyncflow__Value *v;
	json_t *j;

	j = json_loads(text,
	    JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
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
int json_real_precision = 1;

void
note_double(double d)
{
	char buf[40];
	int p;

	for (p = json_real_precision; p < 17; p++) {
		snprintf(buf, sizeof(buf), "%.*g", p, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	json_real_precision = p;
}

json_t *
jnew(json_t *j)
{
	if (j == NULL)
		nomem();
	return j;
}

void
jset(json_t *obj, const char *key, json_t *val)
{
	if (json_object_set_new(obj, key, val) != 0)
		nomem();
}

void
jpush(json_t *arr, json_t *val)
{
	if (json_array_append_new(arr, val) != 0)
		nomem();
}

json_t *
jstr(const char *s)
{
	json_t *j;

	if (s == NULL)
		s = "";
	if ((j = json_string(s)) == NULL)
		fail(EXIT_FAILURE,
		    "the daemon sent a string that is not UTF-8");
	return j;
}

json_t *
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
json_t *
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
		    v->double_value > 0    ? "inf" :
					     "-inf";
		return tagged("@double", jstr(s));
	case ASYNCFLOW__VALUE__KIND_STRING_VALUE:
		/* Length-counted: a string may hold NULs, printed \u0000. */
		if ((j = json_stringn(v->string_value.len > 0 ?
			     (const char *)v->string_value.data :
			     "",
			 v->string_value.len)) == NULL)
			goto not_utf8;
		return j;
	case ASYNCFLOW__VALUE__KIND_BYTES_VALUE:
		if ((b = b64_encode(v->bytes_value.data, v->bytes_value.len)) ==
		    NULL)
			nomem();
		j = jstr(b);
		free(b);
		return tagged("@bytes", j);
	case ASYNCFLOW__VALUE__KIND_LIST_VALUE:
		j = jnew(json_array());
		for (i = 0; v->list_value != NULL && i < v->list_value->n_items;
		     i++) {
			if ((m = value_to_json_soft(v->list_value->items[i],
				 err, errlen)) == NULL) {
				json_decref(j);
				return NULL;
			}
			jpush(j, m);
		}
		return j;
	case ASYNCFLOW__VALUE__KIND_RECORD_VALUE:
		j = jnew(json_object());
		for (i = 0;
		     v->record_value != NULL && i < v->record_value->n_fields;
		     i++) {
			const Asyncflow__Field *f = v->record_value->fields[i];

			if (f->key[0] == '@')
				at = true;
			if (json_object_get(j, f->key) != NULL) {
				snprintf(err, errlen,
				    "the daemon sent a record "
				    "with key \"%s\" twice",
				    f->key);
				json_decref(j);
				return NULL;
			}
			if ((m = value_to_json_soft(f->value, err, errlen)) ==
			    NULL) {
				json_decref(j);
				return NULL;
			}
			if (json_object_set_new(j, f->key, m) != 0) {
				snprintf(err, errlen,
				    "the daemon sent a record "
				    "key that is not UTF-8");
				json_decref(j);
				return NULL;
			}
		}
		return at ? tagged("@record", j) : j;
	case ASYNCFLOW__VALUE__KIND_VOW_ID:
	case ASYNCFLOW__VALUE__KIND_RESOLVER_ID:
		id = v->kind_case == ASYNCFLOW__VALUE__KIND_VOW_ID ?
		    v->vow_id :
		    v->resolver_id;
		if (id > (uint64_t)INT64_MAX) {
			snprintf(err, errlen,
			    "the daemon sent a number beyond "
			    "int64");
			return NULL;
		}
		return tagged(v->kind_case == ASYNCFLOW__VALUE__KIND_VOW_ID ?
			"@vow" :
			"@resolver",
		    jnew(json_integer((json_int_t)id)));
	case ASYNCFLOW__VALUE__KIND_OBJ_NAME:
		if ((j = json_string(v->obj_name)) == NULL)
			goto not_utf8;
		return tagged("@obj", j);
	case ASYNCFLOW__VALUE__KIND_ERROR_VALUE:
		o = jnew(json_object());
		if ((j = json_string(
			 v->error_value ? v->error_value->name : "")) == NULL ||
		    json_object_set_new(o, "name", j) != 0 ||
		    (j = json_string(v->error_value ? v->error_value->message :
						      "")) == NULL ||
		    json_object_set_new(o, "message", j) != 0) {
			json_decref(o);
			goto not_utf8;
		}
		return tagged("@error", o);
	default:
		snprintf(err, errlen,
		    "the daemon sent a value of unknown kind %d",
		    (int)v->kind_case);
		return NULL;
	}
not_utf8:
	snprintf(err, errlen, "the daemon sent a string that is not UTF-8");
	return NULL;
}

json_t *
value_to_json(const Asyncflow__Value *v)
{
	char err[512];
	json_t *j = value_to_json_soft(v, err, sizeof(err));

	if (j == NULL)
		fail(EXIT_FAILURE, "%s", err);
	return j;
}

/* Prints j, one line, and frees it. */
int
print_json(json_t *j)
{
	char *s = json_dumps(j,
	    JSON_ENCODE_ANY | JSON_COMPACT |
		JSON_REAL_PRECISION(json_real_precision));

	if (s == NULL)
		nomem();
	json_decref(j);
	puts(s);
	free(s);
	if (fflush(stdout) != 0 || ferror(stdout))
		fail(EXIT_FAILURE, "cannot write the answer: %s",
		    strerror(errno));
	return EXIT_SUCCESS;
}

json_t *
vow_ref(uint64_t vow)
{
	return tagged("@vow", juint(vow));
}

static void activation_json_more(json_t *o, const Asyncflow__ActivationInfo *a);

json_t *
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
	/* A Done one has a failure text only if it was terminated. */
	if (strcmp(a->state, "Failed") == 0 ||
	    (strcmp(a->state, "Done") == 0 && a->failure != NULL &&
		*a->failure != '\0'))
		jset(o, "failure", jstr(a->failure));
	jset(o, "incarnation", juint(a->incarnation));
	activation_json_more(o, a);
	return o;
}

/* A time as "NAME" (ISO 8601 UTC) and "NAME_ms"; 0 (unknown): neither. */
static void
jset_time(json_t *o, const char *name, int64_t ms)
{
	char key[64], iso[40];

	if (ms == 0)
		return;
	jset(o, name, jstr(iso_time(ms, iso, sizeof(iso))));
	snprintf(key, sizeof(key), "%s_ms", name);
	jset(o, key, jnew(json_integer(ms)));
}

/* The keys show and ls gained with blocked_on (issue 12): what each
 * waiting coroutine waits for, the activation's times and the
 * incarnation that last wrote its journal. */
static void
activation_json_more(json_t *o, const Asyncflow__ActivationInfo *a)
{
	json_t *bl = jnew(json_array()), *b, *vs, *v;
	const Asyncflow__BlockedVow *bv;
	size_t i, k;

	for (i = 0; i < a->n_blocked_on; i++) {
		b = jnew(json_object());
		jset(b, "coroutine", juint(a->blocked_on[i]->coroutine));
		jset(b, "wait", jstr(a->blocked_on[i]->wait));
		vs = jnew(json_array());
		for (k = 0; k < a->blocked_on[i]->n_vows; k++) {
			bv = a->blocked_on[i]->vows[k];
			v = jnew(json_object());
			jset(v, "vow", vow_ref(bv->vow));
			jset(v, "kind", jstr(bv->kind));
			jset(v, "settled", jnew(json_boolean(bv->settled)));
			if (strcmp(bv->kind, "timer") == 0)
				jset_time(v, "due", bv->due_ms);
			if (strcmp(bv->kind, "send") == 0) {
				jset(v, "object", jstr(bv->object));
				jset(v, "method", jstr(bv->method));
				jset(v, "server_connected",
				    jnew(json_boolean(bv->server_connected)));
			}
			jpush(vs, v);
		}
		jset(b, "vows", vs);
		jpush(bl, b);
	}
	/* Left out when nothing waits, as "invocations" is. */
	if (a->n_blocked_on > 0)
		jset(o, "blocked_on", bl);
	else
		json_decref(bl);
	jset_time(o, "created", a->created_ms);
	jset_time(o, "last_progress", a->last_progress_ms);
	if (a->last_incarnation != 0)
		jset(o, "last_incarnation", juint(a->last_incarnation));
	if (a->parent != 0)
		jset(o, "parent", juint(a->parent));
	if (a->n_children > 0) {
		json_t *l = jnew(json_array());

		for (size_t ci = 0; ci < a->n_children; ci++)
			jpush(l, juint(a->children[ci]));
		jset(o, "children", l);
	}
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
		fail(EXIT_FAILURE, "the daemon sent an unknown vow state %d",
		    (int)s);
		return NULL;
	}
}

/* {"vow", "state"} and, once settled and `with_value`, "value". */
json_t *
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
