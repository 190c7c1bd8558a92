/* admin_auth.c: libjwt accepts any HMAC algorithm and ignores exp (see PLATFORM-NOTES), so
 * both are checked here before a single claim is trusted. */
#include "admin_auth.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jwt.h>

#define ADMIN_AUTH_LEEWAY 30 /* seconds of clock skew tolerated on exp and nbf */

int admin_auth_verify(const char *authorization, const char *secret, struct admin_claims *out)
{
	jwt_t *jwt = NULL;
	const char *tok, *s;
	long exp, nbf;
	time_t now = time(NULL);
	int rc = 0;

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
	errno = 0;
	exp = jwt_get_grant_int(jwt, "exp");
	if (errno == 0 && exp + ADMIN_AUTH_LEEWAY < now) {
		rc = ADMIN_AUTH_EXPIRED;
		goto out;
	}
	errno = 0;
	nbf = jwt_get_grant_int(jwt, "nbf");
	if (errno == 0 && nbf - ADMIN_AUTH_LEEWAY > now) {
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
