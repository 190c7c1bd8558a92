/* fuzz_jwt.c: the admin API's bearer tokens (admin_auth_verify, libjwt underneath, with
 * the algorithm, exp/nbf and b3s_noexp checks of admin_auth.c on top).
 *
 * Input, first byte even: the rest is the Authorization header exactly as a client sent it.
 * First byte odd: the rest is "<header JSON>\n<claims JSON>", which is base64url-encoded and
 * signed here with HMAC-SHA384 under the server's secret, so the claim checks past the
 * signature are reached as well (a random token never has a valid signature). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "admin_auth.h"
#include "buf.h"

#define SECRET "fuzz-jwt-secret-0123456789abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void b64url(struct buf *out, const unsigned char *s, size_t n)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
		char c[4] = { a[v >> 18], a[(v >> 12) & 63], a[(v >> 6) & 63], a[v & 63] };
		buf_append(out, c, 4);
	}
	if (n - i == 1) {
		unsigned v = (unsigned)s[i] << 16;
		char c[2] = { a[v >> 18], a[(v >> 12) & 63] };
		buf_append(out, c, 2);
	} else if (n - i == 2) {
		unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8;
		char c[3] = { a[v >> 18], a[(v >> 12) & 63], a[(v >> 6) & 63] };
		buf_append(out, c, 3);
	}
}

static void check(const char *authorization)
{
	struct admin_claims cl;
	int rc = admin_auth_verify(authorization, SECRET, &cl);

	if (rc != 0 && rc != ADMIN_AUTH_MALFORMED && rc != ADMIN_AUTH_INVALID &&
	    rc != ADMIN_AUTH_EXPIRED)
		abort();
	if (rc != 0 && (cl.sub[0] || cl.scope[0])) /* nothing of a refused token is kept */
		abort();
	(void)admin_auth_has_scope(&cl, "b3scale:admin");
	(void)admin_auth_has_scope(&cl, "b3scale:node");
	(void)admin_auth_has_scope(&cl, "");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf tok;
	const char *in = (const char *)data + 1, *nl;
	size_t n = size ? size - 1 : 0;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	if (size == 0 || size > 16384)
		return 0;
	buf_init(&tok);
	if ((data[0] & 1) == 0) {
		buf_append(&tok, in, n); /* NUL-terminated: a header is a C string by then */
		check(buf_str(&tok));
		buf_free(&tok);
		return 0;
	}
	nl = memchr(in, '\n', n);
	if (!nl) {
		buf_free(&tok);
		return 0;
	}
	buf_puts(&tok, "Bearer ");
	b64url(&tok, (const unsigned char *)in, (size_t)(nl - in));
	buf_puts(&tok, ".");
	b64url(&tok, (const unsigned char *)nl + 1, n - (size_t)(nl + 1 - in));
	if (tok.oom || !HMAC(EVP_sha384(), SECRET, (int)strlen(SECRET),
			     (const unsigned char *)tok.data + 7, tok.len - 7, mac, &maclen))
		abort();
	buf_puts(&tok, ".");
	b64url(&tok, mac, maclen);
	check(buf_str(&tok));
	buf_free(&tok);
	return 0;
}
