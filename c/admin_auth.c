/* admin_auth.c: libjwt accepts any HMAC algorithm and ignores exp (see PLATFORM-NOTES), so
 * both are checked here before a single claim is trusted. Every token carries an integer
 * exp, except one that says it never expires with "b3s_noexp": true and no exp at all
 * (b3scalectl --expires 0); anything else about exp is an invalid token. */
#include "admin_auth.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jwt.h>

#define ADMIN_AUTH_LEEWAY 30 /* seconds of clock skew tolerated on exp and nbf */
/* the largest NumericDate taken: 9999-12-31T23:59:59Z (and no overflow near LONG_MAX) */
#define ADMIN_AUTH_MAX_DATE 253402300799LL
#define ADMIN_AUTH_NOEXP "b3s_noexp"

/* A NumericDate claim (RFC 7519 2) as this server takes it: a JSON integer from 0 to
 * ADMIN_AUTH_MAX_DATE. 1 with *v set; 0 when the claim is absent; -1 when it is anything
 * else (a string, a fraction, 1e9, negative, too large, null, an object). */
static int admin_auth_date(jwt_t *jwt, const char *name, long long *v)
{
	/* the claim as compact JSON (malloc'd); NULL when the token does not have it */
	char *js = jwt_get_grants_json(jwt, name);
	size_t n;
	int rc = -1;

	if (!js)
		return 0;
	/* jansson writes an integer as plain digits and a real with '.' or 'e' */
	n = strlen(js);
	if (n >= 1 && n <= 12 && strspn(js, "0123456789") == n) {
		*v = strtoll(js, NULL, 10);
		rc = *v <= ADMIN_AUTH_MAX_DATE ? 1 : -1;
	}
	free(js);
	return rc;
}

/* 1 when the token says it never expires ("b3s_noexp": true), 0 when it has no such
 * claim, -1 when the claim has any other value (false, 1, "true", ...). */
static int admin_auth_noexp(jwt_t *jwt)
{
	char *js = jwt_get_grants_json(jwt, ADMIN_AUTH_NOEXP);
	int rc;

	if (!js)
		return 0;
	rc = strcmp(js, "true") == 0 ? 1 : -1;
	free(js);
	return rc;
}

int admin_auth_verify(const char *authorization, const char *secret, struct admin_claims *out)
{
	jwt_t *jwt = NULL;
	const char *tok, *s;
	long long exp = 0, nbf = 0, now = (long long)time(NULL);
	int rc = 0, has_exp, has_nbf, noexp;

	memset(out, 0, sizeof(*out));
	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return ADMIN_AUTH_MALFORMED;
	tok = authorization + 7;
	while (*tok == ' ')
		tok++;
	if (!*tok || strlen(tok) > 8192)
		return ADMIN_AUTH_MALFORMED;
	if (jwt_decode(&jwt, tok, (const unsigned char *)secret, (int)strlen(secret)) != 0 || !jwt)
		return ADMIN_AUTH_INVALID;
	if (jwt_get_alg(jwt) != JWT_ALG_HS384) {
		rc = ADMIN_AUTH_INVALID;
		goto out;
	}
	has_exp = admin_auth_date(jwt, "exp", &exp);
	has_nbf = admin_auth_date(jwt, "nbf", &nbf);
	noexp = admin_auth_noexp(jwt);
	/* exactly one of: an integer exp, or the marker (true) without exp */
	if (has_exp < 0 || has_nbf < 0 || noexp < 0 || (has_exp == 1) == (noexp == 1)) {
		rc = ADMIN_AUTH_INVALID;
		goto out;
	}
	if ((has_exp == 1 && exp + ADMIN_AUTH_LEEWAY < now) ||
	    (has_nbf == 1 && nbf - ADMIN_AUTH_LEEWAY > now)) {
		rc = ADMIN_AUTH_EXPIRED;
		goto out;
	}
	s = jwt_get_grant(jwt, "sub");
	snprintf(out->sub, sizeof(out->sub), "%s", s ? s : "");
	s = jwt_get_grant(jwt, "scope");
	snprintf(out->scope, sizeof(out->scope), "%s", s ? s : "");
out:
	jwt_free(jwt);
	return rc;
}

int admin_auth_has_scope(const struct admin_claims *c, const char *scope)
{
	size_t n = strlen(scope);
	const char *p = c->scope;

	while (*p) {
		size_t len = strcspn(p, " ");
		if (len == n && strncmp(p, scope, n) == 0)
			return 1;
		p += len;
		while (*p == ' ')
			p++;
	}
	return 0;
}
