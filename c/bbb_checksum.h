/* bbb_checksum.h: BBB API checksums (sha1/256/384/512 over call + raw query + secret). */
#ifndef B3S_BBB_CHECKSUM_H
#define B3S_BBB_CHECKSUM_H

#include <stddef.h>

#include "buf.h"

enum bbb_hash {
	BBB_HASH_SHA1,
	BBB_HASH_SHA256,
	BBB_HASH_SHA384,
	BBB_HASH_SHA512,
};

#define BBB_CHECKSUM_HEX_MAX 129

/* Verification outcomes besides 0 (match). */
#define BBB_CHECKSUM_MISSING (-2)   /* no checksum parameter: "You must provide the checksum" */
#define BBB_CHECKSUM_MISMATCH (-13) /* wrong, duplicated, or of an unknown length */

/* Lowercase hex of H(call + query + secret) into hex (BBB_CHECKSUM_HEX_MAX bytes). */
int bbb_checksum_compute(enum bbb_hash alg, const char *call, const char *query, size_t qlen,
			 const char *secret, char *hex);
/* Verifies a raw query string as bbb-web does; constant-time compare, case-insensitive hex. */
int bbb_checksum_verify(const char *call, const char *raw, size_t rawlen, const char *secret);
/* bbb-web 2.7/3.0's rule for a form POST with an empty URL query: the checksum (taken from
 * raw, the body) is computed over the empty query, H(call + secret). */
int bbb_checksum_verify_empty(const char *call, const char *raw, size_t rawlen,
			      const char *secret);
/* Both verifications against the frontend's secret and, while a rotation runs, its previous
 * secret (NULL or "": none). Both checksums are always computed and compared in constant
 * time, so timing tells neither which matched nor whether a rotation runs. */
int bbb_checksum_verify_pair(const char *call, const char *raw, size_t rawlen, const char *secret,
			     const char *previous);
int bbb_checksum_verify_empty_pair(const char *call, const char *raw, size_t rawlen,
				   const char *secret, const char *previous);
/* Appends "&checksum=<hex>" (no '&' when q is empty) computed over q's current content. */
int bbb_checksum_sign(struct buf *q, const char *call, const char *secret, enum bbb_hash alg);

#endif
