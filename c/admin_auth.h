/* admin_auth.h: bearer JWT verification for the admin API (libjwt, HS384 only). */
#ifndef B3S_ADMIN_AUTH_H
#define B3S_ADMIN_AUTH_H

#include <stddef.h>

#define ADMIN_AUTH_MALFORMED (-22) /* no/odd header or undecodable token */
#define ADMIN_AUTH_INVALID (-13)   /* signature, algorithm, exp/nbf not integers, no exp */
#define ADMIN_AUTH_EXPIRED (-62)   /* exp passed or nbf in the future */

struct admin_claims {
	char sub[256];
	char scope[1024];  /* space-separated */
};

/* Verifies "Bearer <jwt>" against secret; 0 with claims filled, or one of the codes above. */
int admin_auth_verify(const char *authorization, const char *secret, struct admin_claims *out);
/* 1 when the space-separated scope list contains scope. */
int admin_auth_has_scope(const struct admin_claims *c, const char *scope);

#endif
