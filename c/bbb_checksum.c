/* bbb_checksum.c: checksum computation and verification with OpenSSL EVP. */
#include "bbb_checksum.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "query.h"

static const EVP_MD *bbb_checksum_md(enum bbb_hash alg)
{
	switch (alg) {
	case BBB_HASH_SHA1:
		return EVP_sha1();
	case BBB_HASH_SHA256:
		return EVP_sha256();
	case BBB_HASH_SHA384:
		return EVP_sha384();
	case BBB_HASH_SHA512:
		return EVP_sha512();
	}
	return NULL;
}

int bbb_checksum_compute(enum bbb_hash alg, const char *call, const char *query, size_t qlen,
			 const char *secret, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	const EVP_MD *type = bbb_checksum_md(alg);
	EVP_MD_CTX *ctx;
	int rc = -EIO;

	hex[0] = '\0';
	if (!type)
		return -EINVAL;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	if (EVP_DigestInit_ex(ctx, type, NULL) != 1 ||
	    EVP_DigestUpdate(ctx, call, strlen(call)) != 1 ||
	    EVP_DigestUpdate(ctx, query, qlen) != 1 ||
	    EVP_DigestUpdate(ctx, secret, strlen(secret)) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
		goto out;
	for (i = 0; i < mdlen; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[2 * mdlen] = '\0';
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

static int bbb_checksum_alg_for_len(size_t len, enum bbb_hash *alg)
{
	switch (len) {
	case 40:
		*alg = BBB_HASH_SHA1;
		return 0;
	case 64:
		*alg = BBB_HASH_SHA256;
		return 0;
	case 96:
		*alg = BBB_HASH_SHA384;
		return 0;
	case 128:
		*alg = BBB_HASH_SHA512;
		return 0;
	}
	return -EINVAL;
}

/* The one checksum pair of raw: its lowercased hex in got, its algorithm, and the span of
 * the pair; 0, BBB_CHECKSUM_MISSING or BBB_CHECKSUM_MISMATCH. */
static int bbb_checksum_given(const char *raw, size_t rawlen, char *got, size_t *glen,
			      enum bbb_hash *alg, size_t *ps, size_t *pe)
{
	const char *val;
	size_t vlen, i;

	if (query_raw_find(raw, rawlen, "checksum", &val, &vlen, ps, pe) < 0)
		return BBB_CHECKSUM_MISSING;
	/* bbb-web 3.0 refuses a second checksum: literal stripping would remove both copies */
	if (query_raw_count(raw, rawlen, "checksum") != 1)
		return BBB_CHECKSUM_MISMATCH;
	if (bbb_checksum_alg_for_len(vlen, alg) < 0)
		return BBB_CHECKSUM_MISMATCH;
	for (i = 0; i < vlen; i++) {
		char c = val[i];
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		got[i] = c;
	}
	got[vlen] = '\0';
	*glen = vlen;
	return 0;
}

/* got against H(call + query + secret) and, while a rotation runs, H(call + query +
 * previous). Both hashes are always computed and both compares always made (with no previous,
 * the second runs against the current secret and does not count), so the time taken tells
 * neither which secret matched nor whether a rotation runs. */
static int bbb_checksum_match(enum bbb_hash alg, const char *call, const char *query, size_t qlen,
			      const char *got, size_t vlen, const char *secret, const char *previous)
{
	char want[BBB_CHECKSUM_HEX_MAX], want2[BBB_CHECKSUM_HEX_MAX];
	int has_prev = previous && *previous, rc, ok;

	rc = bbb_checksum_compute(alg, call, query, qlen, secret, want);
	if (rc == 0)
		rc = bbb_checksum_compute(alg, call, query, qlen, has_prev ? previous : secret, want2);
	if (rc < 0) {
		OPENSSL_cleanse(want, sizeof(want));
		OPENSSL_cleanse(want2, sizeof(want2));
		return rc;
	}
	ok = (CRYPTO_memcmp(want, got, vlen) == 0) | (has_prev & (CRYPTO_memcmp(want2, got, vlen) == 0));
	OPENSSL_cleanse(want, sizeof(want));
	OPENSSL_cleanse(want2, sizeof(want2));
	return ok ? 0 : BBB_CHECKSUM_MISMATCH;
}

int bbb_checksum_verify_pair(const char *call, const char *raw, size_t rawlen, const char *secret,
			     const char *previous)
{
	char got[BBB_CHECKSUM_HEX_MAX];
	size_t vlen, ps, pe;
	enum bbb_hash alg;
	struct buf stripped;
	int rc;

	rc = bbb_checksum_given(raw, rawlen, got, &vlen, &alg, &ps, &pe);
	if (rc != 0)
		return rc;
	/* Remove the pair and one joining '&' (the one before it when there is one). */
	buf_init(&stripped);
	if (ps > 0)
		rc = buf_append(&stripped, raw, ps - 1) < 0 ||
		     buf_append(&stripped, raw + pe, rawlen - pe) < 0;
	else
		rc = buf_append(&stripped, pe < rawlen ? raw + pe + 1 : "",
				pe < rawlen ? rawlen - pe - 1 : 0) < 0;
	if (rc) {
		buf_free(&stripped);
		return -ENOMEM;
	}
	rc = bbb_checksum_match(alg, call, buf_str(&stripped), stripped.len, got, vlen, secret,
				previous);
	buf_free(&stripped);
	return rc;
}

int bbb_checksum_verify(const char *call, const char *raw, size_t rawlen, const char *secret)
{
	return bbb_checksum_verify_pair(call, raw, rawlen, secret, NULL);
}

int bbb_checksum_verify_empty_pair(const char *call, const char *raw, size_t rawlen,
				   const char *secret, const char *previous)
{
	char got[BBB_CHECKSUM_HEX_MAX];
	size_t vlen, ps, pe;
	enum bbb_hash alg;
	int rc;

	rc = bbb_checksum_given(raw, rawlen, got, &vlen, &alg, &ps, &pe);
	if (rc != 0)
		return rc;
	return bbb_checksum_match(alg, call, "", 0, got, vlen, secret, previous);
}

int bbb_checksum_verify_empty(const char *call, const char *raw, size_t rawlen,
			      const char *secret)
{
	return bbb_checksum_verify_empty_pair(call, raw, rawlen, secret, NULL);
}

int bbb_checksum_sign(struct buf *q, const char *call, const char *secret, enum bbb_hash alg)
{
	char hex[BBB_CHECKSUM_HEX_MAX];
	int rc;

	rc = bbb_checksum_compute(alg, call, buf_str(q), q->len, secret, hex);
	if (rc < 0)
		return rc;
	if (q->len && buf_append(q, "&", 1) < 0)
		return -ENOMEM;
	if (buf_puts(q, "checksum=") < 0 || buf_puts(q, hex) < 0)
		return -ENOMEM;
	return 0;
}
