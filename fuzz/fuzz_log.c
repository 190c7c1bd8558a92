/* fuzz_log.c: the process logger (log_msg, c/log.c) with values that come from outside:
 * frontend keys, meeting IDs, node error texts, Postgres messages, in both formats (text and
 * JSON). The format string is fuzzed too: log.c walks the va_list by the format's own
 * conversions, so the fuzzed format is first reduced to conversions that match a fixed
 * sequence of arguments (slots below; anything else has its '%' replaced by '_'), which
 * keeps every call well-defined C while the field splitting, quoting, flags, widths,
 * precisions ('*' too) and truncation are all fuzzed.
 *
 * Input: NUL-separated: format, subsystem, then string values. Lines go to /dev/null:
 * stderr is swapped for it around the calls (libFuzzer's own output and the sanitizers'
 * reports still reach the real stderr). */
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sanitizer/common_interface_defs.h>

#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int real_stderr = -1, devnull = -1;

/* the arguments every fuzzed format is called with, in this order */
#define SLOTS "SISZDSLUSPISISDS"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	real_stderr = dup(STDERR_FILENO);
	devnull = open("/dev/null", O_WRONLY);
	if (real_stderr < 0 || devnull < 0)
		abort();
	/* the sanitizers' API takes the descriptor as a pointer */
	__sanitizer_set_report_fd((void *)(intptr_t)real_stderr); // NOLINT(performance-no-int-to-ptr)
	return 0;
}

/* The slot a conversion takes (S string, I int, U unsigned, L long, Z size_t, D double,
 * P pointer), or 0 when it is left out (flags or modifiers whose use with it is undefined
 * in C, or types not in the slots). */
static char log_slot(const char *flags, int prec, const char *len, char conv)
{
	const char *ok;
	char slot;

	switch (conv) {
	case 's':
		slot = len[0] ? 0 : 'S';
		ok = "-";
		break;
	case 'c':
		slot = len[0] || prec ? 0 : 'I';
		ok = "-";
		break;
	case 'p':
		slot = len[0] || prec ? 0 : 'P';
		ok = "-";
		break;
	case 'd':
	case 'i':
		ok = "-+ 0'";
		goto integer;
	case 'u':
		ok = "-0'";
		goto integer;
	case 'x':
	case 'X':
	case 'o':
		ok = "-0#";
integer:
		if (!len[0] || !strcmp(len, "h") || !strcmp(len, "hh"))
			slot = conv == 'd' || conv == 'i' ? 'I' : 'U';
		else if (!strcmp(len, "l"))
			slot = 'L';
		else if (!strcmp(len, "z"))
			slot = 'Z';
		else
			slot = 0;
		break;
	case 'f':
	case 'F':
	case 'e':
	case 'E':
	case 'g':
	case 'G':
	case 'a':
	case 'A':
		slot = len[0] ? 0 : 'D';
		ok = "-+ #0";
		break;
	default:
		return 0;
	}
	for (; *flags; flags++)
		if (!strchr(ok, *flags))
			return 0;
	return slot;
}

/* Copies fmt into out (same size), keeping the conversions that take the next slots. */
static void log_fmt_reduce(const char *fmt, char *out)
{
	const char *p = fmt;
	size_t o = 0, slot = 0;

	while (*p) {
		const char *q = p + 1;
		char flags[8] = "", len[3] = "", need[3];
		size_t nf = 0, nn = 0, k;
		int prec = 0;

		if (*p != '%') {
			out[o++] = *p++;
			continue;
		}
		if (q[0] == '%') {
			out[o++] = '%';
			out[o++] = '%';
			p += 2;
			continue;
		}
		while (*q && strchr("-+ #0'", *q)) {
			if (nf < sizeof(flags) - 1)
				flags[nf++] = *q;
			q++;
		}
		if (*q == '*') {
			need[nn++] = 'I';
			q++;
		} else {
			for (k = 0; *q >= '0' && *q <= '9'; q++)
				k++;
			if (k > 3)
				goto drop;
		}
		if (*q == '.') {
			prec = 1;
			q++;
			if (*q == '*') {
				need[nn++] = 'I';
				q++;
			} else {
				for (k = 0; *q >= '0' && *q <= '9'; q++)
					k++;
				if (k > 3)
					goto drop;
			}
		}
		if ((q[0] == 'h' && q[1] == 'h') || (q[0] == 'l' && q[1] == 'l')) {
			memcpy(len, q, 2);
			q += 2;
		} else if (*q && strchr("hlzjtLq", *q)) {
			len[0] = *q++;
		}
		if (!*q || !(need[nn] = log_slot(flags, prec, len, *q)))
			goto drop;
		nn++;
		if (slot + nn > sizeof(SLOTS) - 1 || memcmp(&SLOTS[slot], need, nn) != 0)
			goto drop;
		slot += nn;
		q++;
		memcpy(out + o, p, (size_t)(q - p));
		o += (size_t)(q - p);
		p = q;
		continue;
drop:
		out[o++] = '_';
		p++;
	}
	out[o] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int ints[] = { 0, -1, 7, 600, INT_MAX, INT_MIN, -40, 3 };
	char *copy, *fmt, *s[8] = { "", "", "", "", "", "", "", "" };
	size_t i, k = 0;
	int iv[3];

	if (size > 8192)
		return 0;
	copy = malloc(size + 1);
	fmt = malloc(size + 1);
	if (!copy || !fmt)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	s[0] = copy;
	for (i = 0; i < size && k < 7; i++)
		if (copy[i] == '\0')
			s[++k] = copy + i + 1;
	for (i = 0; i < 3; i++)
		iv[i] = ints[size > i ? data[size - 1 - i] % 8 : 0];
	log_fmt_reduce(s[0], fmt);

	dup2(devnull, STDERR_FILENO);
	for (int json = 0; json < 2; json++) {
		if (log_setup("debug", json ? "json" : "text") != 0)
			abort();
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat-security"
		/* S I S Z D S L U S P I S I S D S */
		log_msg((enum log_level)(size % 4), s[1], fmt, s[2], iv[0], s[3], (size_t)size, 1.5e300,
			s[4], -123456789L, 4000000000u, s[5], (void *)copy, iv[1], s[6], iv[2], s[7],
			-0.0, s[2]);
#pragma GCC diagnostic pop
		/* the shapes the daemon's own calls have */
		log_msg(LOG_LVL_WARN, "fuzz", "event=db_error call=%s frontend=%s error=\"%s\"", s[2],
			s[3], s[4]);
		log_msg(LOG_LVL_INFO, "fuzz", "event=x %s key=%.*s n=%zu", s[5], iv[0], s[6], size);
		log_error("fuzz", "%s", s[2]);
	}
	dup2(real_stderr, STDERR_FILENO);
	free(fmt);
	free(copy);
	return 0;
}
