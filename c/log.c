/* log.c: the process logger. Where the fields of a line are comes from the format string
 * (a literal, see log.h), never from the formatted text: each key=VALUE item of the format
 * is formatted on its own into its own buffer, walking the va_list by each conversion's
 * type, then escaped for text or JSON. The line is at most LOG_LINE_MAX bytes and goes out
 * with one write(2), so lines from threads never interleave. */
#include "log.h"

#include "buf.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#define LOG_VALUE_MAX 2048 /* raw bytes kept of one value */
#define LOG_VALUE_MIN 32   /* escaped bytes a value keeps at least when the line is cut */
#define LOG_FIELDS_MAX 32  /* key=VALUE items of one line; later ones are left out */
#define LOG_KEY_MAX 48
#define LOG_SUBSYS_MAX 32
#define LOG_NUM_MAX 512 /* width and precision of one conversion */
#define LOG_CUT "...(truncated)"

static int log_level = LOG_LVL_INFO;
static int log_json;

static const char *const log_names[] = { "error", "warn", "info", "debug" };

int log_setup(const char *level, const char *format)
{
	int i, found = -1;

	if (level && *level) {
		for (i = 0; i < 4; i++)
			if (strcmp(level, log_names[i]) == 0)
				found = i;
		if (found < 0)
			return -EINVAL;
		log_level = found;
	}
	if (format && *format) {
		if (strcmp(format, "json") == 0)
			log_json = 1;
		else if (strcmp(format, "text") == 0)
			log_json = 0;
		else
			return -EINVAL;
	}
	return 0;
}

int log_enabled(enum log_level lvl)
{
	return (int)lvl <= log_level;
}

struct log_field {
	const char *key; /* points into the format (or "msg"): [a-z0-9_]+ */
	size_t klen;
	int quoted;	 /* key="..." in the format: quoted in text even when it need not be */
	int cut;	 /* the value was truncated: val ends in LOG_CUT */
	int skip;	 /* left out of the line */
	size_t raw;	 /* bytes of val that are the value itself */
	struct buf val;	 /* the formatted value (at most LOG_VALUE_MAX + LOG_CUT) */
	struct buf out;	 /* val escaped for the output format */
};

struct log_line {
	struct log_field f[LOG_FIELDS_MAX];
	int n;
	int msg; /* index of the msg field (format text that is no key=VALUE), or -1 */
	va_list *ap;
};

/* One conversion specification: %[flags][width][.precision][length]conv. */
struct log_spec {
	char flags[8];
	int width; /* -1: none */
	int prec;  /* -1: none */
	char len[3];
	char conv;
};

/* ---- formatting one value ----------------------------------------------------------- */

static void log_add(struct log_field *f, const char *s, size_t n)
{
	if (f->cut)
		return;
	if (n > LOG_VALUE_MAX - f->val.len) {
		n = LOG_VALUE_MAX - f->val.len;
		f->cut = 1;
	}
	buf_append(&f->val, s, n);
}

static void log_pad(struct log_field *f, size_t n)
{
	static const char spaces[] = "                                ";

	while (n > 0 && !f->cut) {
		size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;

		log_add(f, spaces, k);
		n -= k;
	}
}

static int log_num(const char **pp)
{
	const char *p = *pp;
	int v = 0;

	while (*p >= '0' && *p <= '9') {
		if (v < LOG_NUM_MAX * 10)
			v = v * 10 + (*p - '0');
		p++;
	}
	*pp = p;
	return v;
}

static void log_spec_flag(struct log_spec *sp, char c)
{
	size_t n = strlen(sp->flags);

	if (!strchr(sp->flags, c) && n < sizeof(sp->flags) - 1) {
		sp->flags[n] = c;
		sp->flags[n + 1] = '\0';
	}
}

/* Parses the conversion after a '%' at *pp (taking '*' width and precision from ap) and
 * moves *pp past it. -1 for a conversion this logger does not know: the arguments can then
 * no longer be walked. */
static int log_spec_parse(const char **pp, struct log_spec *sp, va_list *ap)
{
	const char *p = *pp;

	memset(sp, 0, sizeof(*sp));
	sp->width = sp->prec = -1;
	while (*p == '-' || *p == '+' || *p == ' ' || *p == '#' || *p == '0' || *p == '\'')
		log_spec_flag(sp, *p++);
	if (*p == '*') {
		int w = va_arg(*ap, int);

		if (w < 0) {
			log_spec_flag(sp, '-');
			w = w == INT_MIN ? INT_MAX : -w;
		}
		sp->width = w;
		p++;
	} else if (*p >= '0' && *p <= '9') {
		sp->width = log_num(&p);
	}
	if (*p == '.') {
		p++;
		if (*p == '*') {
			int pr = va_arg(*ap, int);

			sp->prec = pr < 0 ? -1 : pr;
			p++;
		} else {
			sp->prec = log_num(&p);
		}
	}
	if ((p[0] == 'h' && p[1] == 'h') || (p[0] == 'l' && p[1] == 'l')) {
		memcpy(sp->len, p, 2);
		p += 2;
	} else if (*p && strchr("hlzjtLq", *p)) {
		sp->len[0] = *p++;
	}
	if (!*p || !strchr("diuxXocspfFeEgGaAn", *p))
		return -1;
	sp->conv = *p++;
	if (sp->width > LOG_NUM_MAX)
		sp->width = LOG_NUM_MAX;
	*pp = p;
	return 0;
}

/* The specification for snprintf of one value, with length modifier len. */
static void log_spec_fmt(char *dst, size_t cap, const struct log_spec *sp, const char *len)
{
	char w[16] = "", pr[16] = "";

	if (sp->width >= 0)
		snprintf(w, sizeof(w), "%d", sp->width);
	if (sp->prec >= 0)
		snprintf(pr, sizeof(pr), ".%d", sp->prec > LOG_NUM_MAX ? LOG_NUM_MAX : sp->prec);
	snprintf(dst, cap, "%%%s%s%s%s%c", sp->flags, w, pr, len, sp->conv);
}

static void log_str(struct log_field *f, const struct log_spec *sp, const char *s)
{
	size_t lim = sp->prec >= 0 ? (size_t)sp->prec : SIZE_MAX, len, pad = 0;

	if (!s)
		s = "(null)";
	if (lim > LOG_VALUE_MAX + 1)
		lim = LOG_VALUE_MAX + 1; /* more would be cut anyway; never read past prec */
	len = strnlen(s, lim);
	if (sp->width > 0 && (size_t)sp->width > len)
		pad = (size_t)sp->width - len;
	if (!strchr(sp->flags, '-'))
		log_pad(f, pad);
	log_add(f, s, len);
	if (strchr(sp->flags, '-'))
		log_pad(f, pad);
}

/* Takes one argument of the conversion's type from ap and appends it, formatted, to f. */
static void log_conv(struct log_field *f, const struct log_spec *sp, va_list *ap)
{
	char spec[48], tmp[LOG_NUM_MAX + 400];
	const char *len = sp->len;
	int n = -1;

	switch (sp->conv) {
	case 'd':
	case 'i': {
		intmax_t v;

		if (!strcmp(len, "hh"))
			v = (signed char)va_arg(*ap, int);
		else if (!strcmp(len, "h"))
			v = (short)va_arg(*ap, int);
		else if (!strcmp(len, "l"))
			v = va_arg(*ap, long);
		else if (!strcmp(len, "ll") || !strcmp(len, "q") || !strcmp(len, "L"))
			v = va_arg(*ap, long long);
		else if (!strcmp(len, "z"))
			v = va_arg(*ap, ssize_t);
		else if (!strcmp(len, "j"))
			v = va_arg(*ap, intmax_t);
		else if (!strcmp(len, "t"))
			v = va_arg(*ap, ptrdiff_t);
		else
			v = va_arg(*ap, int);
		log_spec_fmt(spec, sizeof(spec), sp, "j");
		n = snprintf(tmp, sizeof(tmp), spec, v);
		break;
	}
	case 'u':
	case 'x':
	case 'X':
	case 'o': {
		uintmax_t v;

		if (!strcmp(len, "hh"))
			v = (unsigned char)va_arg(*ap, unsigned int);
		else if (!strcmp(len, "h"))
			v = (unsigned short)va_arg(*ap, unsigned int);
		else if (!strcmp(len, "l"))
			v = va_arg(*ap, unsigned long);
		else if (!strcmp(len, "ll") || !strcmp(len, "q") || !strcmp(len, "L"))
			v = va_arg(*ap, unsigned long long);
		else if (!strcmp(len, "z"))
			v = va_arg(*ap, size_t);
		else if (!strcmp(len, "j"))
			v = va_arg(*ap, uintmax_t);
		else if (!strcmp(len, "t"))
			v = (size_t)va_arg(*ap, ptrdiff_t);
		else
			v = va_arg(*ap, unsigned int);
		log_spec_fmt(spec, sizeof(spec), sp, "j");
		n = snprintf(tmp, sizeof(tmp), spec, v);
		break;
	}
	case 'c':
		log_spec_fmt(spec, sizeof(spec), sp, len[0] == 'l' ? "l" : "");
		if (len[0] == 'l')
			n = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, wint_t));
		else
			n = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, int));
		break;
	case 's':
		if (len[0] != 'l') {
			log_str(f, sp, va_arg(*ap, const char *));
			return;
		}
		log_spec_fmt(spec, sizeof(spec), sp, "l");
		n = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, const wchar_t *));
		break;
	case 'p':
		log_spec_fmt(spec, sizeof(spec), sp, "");
		n = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, void *));
		break;
	case 'n':
		(void)va_arg(*ap, void *); /* never written through */
		return;
	default: /* f F e E g G a A */
		if (len[0] == 'L') {
			log_spec_fmt(spec, sizeof(spec), sp, "L");
			n = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, long double));
		} else {
			log_spec_fmt(spec, sizeof(spec), sp, "");
			n = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, double));
		}
		break;
	}
	if (n < 0)
		log_add(f, "?", 1); /* a wide character the locale cannot encode */
	else
		log_add(f, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* ---- parsing the format ------------------------------------------------------------- */

/* The length of the key when p starts "key=", else 0. */
static size_t log_is_key(const char *p)
{
	const char *q = p;

	while ((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '_')
		q++;
	return q > p && *q == '=' ? (size_t)(q - p) : 0;
}

static struct log_field *log_field_new(struct log_line *l, const char *key, size_t klen)
{
	struct log_field *f;

	if (l->n >= LOG_FIELDS_MAX)
		return NULL;
	f = &l->f[l->n++];
	memset(f, 0, sizeof(*f));
	buf_init(&f->val);
	buf_init(&f->out);
	f->key = key;
	f->klen = klen < LOG_KEY_MAX ? klen : LOG_KEY_MAX;
	return f;
}

/* The msg field, made at the place of the first bit of free text; a space separates the
 * bits. */
static struct log_field *log_msg_field(struct log_line *l)
{
	struct log_field *f;

	if (l->msg >= 0) {
		f = &l->f[l->msg];
		if (f->val.len > 0)
			log_add(f, " ", 1);
		return f;
	}
	f = log_field_new(l, "msg", 3);
	if (f)
		l->msg = (int)(f - l->f);
	return f;
}

/* Formats the format text at *pp up to the byte end (or the end of the format) into f.
 * -1 at a conversion this logger does not know; *pp then points at its '%'. */
static int log_value(struct log_line *l, struct log_field *f, const char **pp, char end)
{
	const char *p = *pp, *q;
	struct log_spec sp;

	while (*p && *p != end) {
		if (*p != '%') {
			for (q = p; *q && *q != end && *q != '%'; q++)
				;
			log_add(f, p, (size_t)(q - p));
			p = q;
		} else if (p[1] == '%') {
			log_add(f, "%", 1);
			p += 2;
		} else {
			q = p + 1;
			if (log_spec_parse(&q, &sp, l->ap) < 0) {
				*pp = p;
				return -1;
			}
			log_conv(f, &sp, l->ap);
			p = q;
		}
	}
	*pp = p;
	return 0;
}

/* Splits the format into fields: `key=VALUE` where VALUE runs to the next space, or to the
 * closing quote when it starts with one; any other text goes to msg. */
static void log_parse(struct log_line *l, const char *fmt)
{
	const char *p = fmt;

	while (*p) {
		struct log_field *f;
		char end = ' ';
		size_t k;

		if (*p == ' ') {
			p++;
			continue;
		}
		k = log_is_key(p);
		if (k > 0) {
			f = log_field_new(l, p, k);
			p += k + 1;
			if (*p == '"') {
				end = '"';
				p++;
			}
		} else {
			f = log_msg_field(l);
		}
		if (!f)
			return; /* LOG_FIELDS_MAX: the rest is left out */
		f->quoted |= end == '"';
		if (log_value(l, f, &p, end) < 0) {
			/* the rest of the format is kept as text, and its arguments are not read */
			f = log_msg_field(l);
			if (f)
				log_add(f, p, strlen(p));
			return;
		}
		if (end == '"' && *p == '"')
			p++;
	}
}

/* ---- escaping ----------------------------------------------------------------------- */

/* The length of the valid UTF-8 sequence at s (n bytes left) and its code point in *cp;
 * 0 when it is not valid (overlong, surrogate, beyond U+10FFFF, truncated). */
static size_t log_utf8(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len, i;
	uint32_t c = s[0];

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		c &= 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		c &= 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		c &= 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
	    (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

/* n, or less so that s[0..n) does not end inside a UTF-8 sequence. */
static size_t log_utf8_cut(const char *s, size_t n)
{
	size_t i = n, need;
	unsigned char c;

	while (i > 0 && n - i < 3 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
		i--;
	if (i == 0)
		return n;
	c = (unsigned char)s[i - 1];
	if (c < 0xC0)
		return n;
	need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
	return n - (i - 1) < need ? i - 1 : n;
}

/* Printable ASCII without space, quote, '=' or backslash: written without quotes. */
static int log_text_bare(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '=' || c == '\\')
			return 0;
	}
	return 1;
}

static void log_text_hex(struct buf *out, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf_printf(out, "\\x%02x", (unsigned char)s[i]);
}

/* A text value: bare when safe, else quoted with every control character, DEL, C1
 * control, line or paragraph separator and byte that is not UTF-8 escaped. */
static void log_text_value(struct buf *out, const char *s, size_t n, int quoted)
{
	size_t i = 0, len;
	uint32_t cp;

	if (!quoted && log_text_bare(s, n)) {
		buf_append(out, s, n);
		return;
	}
	buf_append(out, "\"", 1);
	while (i < n) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };

			buf_append(out, e, 2);
			i++;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			buf_puts(out, c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t");
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			log_text_hex(out, s + i, 1);
			i++;
		} else if ((len = log_utf8((const unsigned char *)s + i, n - i, &cp)) == 0) {
			log_text_hex(out, s + i, 1);
			i++;
		} else if ((cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029) {
			log_text_hex(out, s + i, len);
			i += len;
		} else {
			buf_append(out, s + i, len);
			i += len;
		}
	}
	buf_append(out, "\"", 1);
}

/* A JSON value through the project's escaper, after making it valid UTF-8 (a byte that is
 * not, or NUL, becomes U+FFFD). */
static void log_json_value(struct buf *out, const char *s, size_t n)
{
	struct buf clean;
	size_t i = 0, len;
	uint32_t cp;

	buf_init(&clean);
	while (i < n) {
		len = s[i] ? log_utf8((const unsigned char *)s + i, n - i, &cp) : 0;
		if (len == 0) {
			buf_append(&clean, "\xEF\xBF\xBD", 3);
			i++;
		} else {
			buf_append(&clean, s + i, len);
			i += len;
		}
	}
	buf_json_str(out, buf_str(&clean));
	if (clean.oom)
		out->oom = 1;
	buf_free(&clean);
}

static void log_escape(struct log_field *f, int json)
{
	buf_reset(&f->out);
	if (json)
		log_json_value(&f->out, buf_str(&f->val), f->val.len);
	else
		log_text_value(&f->out, buf_str(&f->val), f->val.len, f->quoted);
}

/* ---- fitting the line --------------------------------------------------------------- */

/* Keeps the first keep bytes of the value (fewer, to end on a character) and the marker. */
static void log_cut(struct log_field *f, size_t keep)
{
	if (keep > f->raw)
		keep = f->raw;
	keep = log_utf8_cut(buf_str(&f->val), keep);
	if (f->val.data) {
		f->val.len = keep;
		f->val.data[keep] = '\0';
	}
	f->raw = keep;
	f->cut = 1;
	buf_puts(&f->val, LOG_CUT);
}

/* Cuts the value until its escaped form is at most target bytes (or only the marker is
 * left). */
static void log_shrink(struct log_field *f, size_t target, int json)
{
	while (f->out.len > target && f->raw > 0 && !f->out.oom) {
		size_t keep = f->raw * target / f->out.len;

		if (keep >= f->raw)
			keep = f->raw - 1;
		log_cut(f, keep);
		log_escape(f, json);
	}
}

static size_t log_field_size(const struct log_field *f, int json)
{
	/* json: ,"key":out   text: ' 'key=out */
	return f->skip ? 0 : f->klen + f->out.len + (json ? 4 : 2);
}

/* Trims msg, marks cut values, escapes everything, then cuts the longest values until the
 * line fits in LOG_LINE_MAX. */
static void log_fit(struct log_line *l, size_t fixed, int json)
{
	size_t total = fixed;
	int i;

	for (i = 0; i < l->n; i++) {
		struct log_field *f = &l->f[i];

		if (i == l->msg) {
			size_t a = 0, b = f->val.len;
			const char *s = buf_str(&f->val);

			while (a < b && s[a] == ' ')
				a++;
			while (b > a && s[b - 1] == ' ')
				b--;
			if (f->val.data) {
				memmove(f->val.data, s + a, b - a);
				f->val.len = b - a;
				f->val.data[f->val.len] = '\0';
			}
			f->skip = f->val.len == 0 && !f->cut;
		}
		f->raw = f->val.len;
		if (f->cut) {
			f->cut = 0;
			log_cut(f, f->raw);
		}
		log_escape(f, json);
		total += log_field_size(f, json);
	}
	while (total > LOG_LINE_MAX) {
		struct log_field *big = NULL;
		size_t excess = total - LOG_LINE_MAX, target, before;

		for (i = 0; i < l->n; i++)
			if (!l->f[i].skip && l->f[i].out.len > LOG_VALUE_MIN &&
			    (!big || l->f[i].out.len > big->out.len))
				big = &l->f[i];
		if (!big)
			break;
		before = big->out.len;
		target = before >= excess + LOG_VALUE_MIN ? before - excess : LOG_VALUE_MIN;
		log_shrink(big, target, json);
		if (big->out.len >= before)
			break;
		total -= before - big->out.len;
	}
	/* cannot happen with these limits; left out rather than written over the cap */
	for (i = l->n - 1; i >= 0 && total > LOG_LINE_MAX; i--) {
		total -= log_field_size(&l->f[i], json);
		l->f[i].skip = 1;
	}
}

/* ---- the line ----------------------------------------------------------------------- */

static void log_write(const char *s, size_t n)
{
	while (write(STDERR_FILENO, s, n) < 0 && errno == EINTR)
		;
	/* nowhere left to report a failed log write */
}

void log_msg(enum log_level lvl, const char *subsys, const char *fmt, ...)
{
	struct log_line l;
	struct log_field sub;
	struct buf line;
	char ts[64], tm_s[32];
	struct timespec now;
	struct tm tm;
	va_list ap;
	int saved = errno, json = log_json, i, oom = 0;
	size_t fixed;

	if (!log_enabled(lvl))
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(tm_s, sizeof(tm_s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts, sizeof(ts), "%s.%03ldZ", tm_s, now.tv_nsec / 1000000);

	l.n = 0;
	l.msg = -1;
	l.ap = &ap;
	va_start(ap, fmt);
	log_parse(&l, fmt ? fmt : "");
	va_end(ap);

	/* the subsystem is a literal too, but goes through the same escaping */
	memset(&sub, 0, sizeof(sub));
	buf_init(&sub.val);
	buf_init(&sub.out);
	subsys = subsys ? subsys : "";
	buf_append(&sub.val, subsys, strnlen(subsys, LOG_SUBSYS_MAX));
	log_escape(&sub, json);

	buf_init(&line);
	if (json)
		buf_printf(&line, "{\"ts\":\"%s\",\"lvl\":\"%s\",\"subsys\":%s", ts, log_names[lvl],
			   buf_str(&sub.out));
	else
		buf_printf(&line, "ts=%s lvl=%s subsys=%s", ts, log_names[lvl], buf_str(&sub.out));
	fixed = line.len + (json ? 2 : 1);
	log_fit(&l, fixed, json);
	for (i = 0; i < l.n; i++) {
		struct log_field *f = &l.f[i];

		oom |= f->val.oom | f->out.oom;
		if (f->skip)
			continue;
		buf_append(&line, json ? ",\"" : " ", 1 + (size_t)json);
		buf_append(&line, f->key, f->klen);
		buf_append(&line, json ? "\":" : "=", json ? 2 : 1);
		buf_append(&line, buf_str(&f->out), f->out.len);
	}
	buf_append(&line, json ? "}\n" : "\n", json ? 2 : 1);
	oom |= line.oom | sub.val.oom | sub.out.oom;

	if (!oom && line.len <= LOG_LINE_MAX) {
		log_write(line.data, line.len);
	} else {
		char fb[160];
		int n = snprintf(fb, sizeof(fb),
				 json ? "{\"ts\":\"%s\",\"lvl\":\"%s\",\"subsys\":\"log\","
					"\"event\":\"out_of_memory\"}\n"
				      : "ts=%s lvl=%s subsys=log event=out_of_memory\n",
				 ts, log_names[lvl]);

		if (n > 0)
			log_write(fb, (size_t)n < sizeof(fb) ? (size_t)n : sizeof(fb) - 1);
	}

	for (i = 0; i < l.n; i++) {
		buf_free(&l.f[i].val);
		buf_free(&l.f[i].out);
	}
	buf_free(&sub.val);
	buf_free(&sub.out);
	buf_free(&line);
	errno = saved;
}
