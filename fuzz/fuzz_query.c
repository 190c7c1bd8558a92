/* fuzz_query.c: a frontend's BBB API query string, as bbb_api.c takes it: parsed
 * (query_parse), checksum-verified on the raw bytes (bbb_checksum_verify), then re-encoded
 * without the checksum and re-signed for a node (query_encode, bbb_checksum_sign), which the
 * node must accept: verify(sign(encode(parse(raw)))) == 0 is checked on every input.
 *
 * Input: "<call>\n<raw query>" (no newline: call "create"). The raw query is passed with its
 * length and without a terminating NUL, as the parser's contract says. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bbb_checksum.h"
#include "buf.h"
#include "query.h"

#define FRONTEND_SECRET "frontend-secret"
#define NODE_SECRET "0123456789abcdef0123456789abcdef01234567"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data, *raw = in, *nl;
	char call[64] = "create";
	size_t rawlen = size;
	struct query q;
	struct buf enc;
	enum bbb_hash alg;
	int rc;

	nl = memchr(in, '\n', size < sizeof(call) ? size : sizeof(call));
	if (nl) {
		memcpy(call, in, (size_t)(nl - in));
		call[nl - in] = '\0';
		raw = nl + 1;
		rawlen = size - (size_t)(raw - in);
	}

	/* the frontend's checksum, on the raw bytes (either outcome is fine) */
	rc = bbb_checksum_verify(call, raw, rawlen, FRONTEND_SECRET);
	if (rc != 0 && rc != BBB_CHECKSUM_MISSING && rc != BBB_CHECKSUM_MISMATCH)
		abort(); /* only -ENOMEM is left, which never happens here */
	(void)query_raw_count(raw, rawlen, "meetingID");

	query_init(&q);
	rc = query_parse(&q, raw, rawlen);
	if (rc == 0) {
		(void)query_get(&q, "meetingID");
		(void)query_count(&q, "checksum");
		query_remove(&q, "checksum");
		if (query_set(&q, "meetingID", "fe~room") != 0)
			abort();
		buf_init(&enc);
		if (query_encode(&q, &enc) != 0)
			abort();
		alg = (enum bbb_hash)(size % 4);
		if (bbb_checksum_sign(&enc, call, NODE_SECRET, alg) != 0)
			abort();
		/* what we sign for a node, the node accepts */
		if (bbb_checksum_verify(call, buf_str(&enc), enc.len, NODE_SECRET) != 0)
			abort();
		/* and it parses back to the same number of pairs plus the checksum */
		if (q.n + 1 <= QUERY_MAX_PARAMS) {
			struct query back;
			query_init(&back);
			if (query_parse(&back, buf_str(&enc), enc.len) != 0 || back.n != q.n + 1)
				abort();
			query_free(&back);
		}
		buf_free(&enc);
	} else if (rc != -E2BIG) {
		abort();
	}
	query_free(&q);
	return 0;
}
