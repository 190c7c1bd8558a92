/* cb_jwt.c: see cb_jwt.h. libjwt takes whatever algorithm a token names and ignores exp (see
 * PLATFORM-NOTES), so both are checked here. */
#include "cb_jwt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jwt.h>

static jwt_alg_t cb_jwt_alg(const char *alg)
{
	if (strcmp(alg, "HS512") == 0)
		return JWT_ALG_HS512;
	if (strcmp(alg, "HS256") == 0)
		return JWT_ALG_HS256;
	return JWT_ALG_INVAL;
}

char *cb_jwt_sign(const char *alg, const char *secret, const char *claims_json)
{
	jwt_t *jwt = NULL;
	char *out = NULL;

	if (cb_jwt_alg(alg) == JWT_ALG_INVAL || jwt_new(&jwt) != 0)
		return NULL;
	if (jwt_add_grants_json(jwt, claims_json) == 0 &&
	    jwt_set_alg(jwt, cb_jwt_alg(alg), (const unsigned char *)secret,
			(int)strlen(secret)) == 0)
		out = jwt_encode_str(jwt);
	jwt_free(jwt);
	return out;
}

char *cb_jwt_verify(const char *token, const char *alg, const char *secret)
{
	jwt_t *jwt = NULL;
	char *claims = NULL;
	long exp;

	if (!token || strlen(token) > 16384 ||
	    jwt_decode(&jwt, token, (const unsigned char *)secret, (int)strlen(secret)) != 0 || !jwt)
		return NULL;
	/* libjwt answers -1 with errno ENOENT for a token without exp */
	errno = 0;
	exp = jwt_get_grant_int(jwt, "exp");
	if (errno == ENOENT)
		exp = 0;
	if (jwt_get_alg(jwt) == cb_jwt_alg(alg) && (exp == 0 || exp + 30 >= (long)time(NULL)))
		claims = jwt_get_grants_json(jwt, NULL);
	jwt_free(jwt);
	return claims;
}

int cb_jwt_map_id(struct buf *out, const char *src, const char *from, const char *to)
{
	struct buf f = { 0 }, t = { 0 };
	const char *p = src, *hit;

	buf_json_str(&f, from);
	buf_json_str(&t, to);
	while (!f.oom && (hit = strstr(p, buf_str(&f)))) {
		buf_append(out, p, (size_t)(hit - p));
		buf_append(out, t.data, t.len);
		p = hit + f.len;
	}
	buf_puts(out, p);
	buf_free(&f);
	buf_free(&t);
	return out->oom ? -1 : 0;
}
