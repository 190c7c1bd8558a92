/* cb_jwt.h: the JWTs of BBB's callbacks (libjwt): a node's, verified with the node's secret,
 * and b3scaled's own to the frontend, signed with the frontend's secret. */
#ifndef B3S_CB_JWT_H
#define B3S_CB_JWT_H

#include <stddef.h>

#include "buf.h"

/* Signs claims (a JSON object) with alg "HS256" or "HS512": a malloc'd token, or NULL. */
char *cb_jwt_sign(const char *alg, const char *secret, const char *claims_json);
/* Verifies token with secret, which must be signed with alg and, when it has exp, not
 * expired: its claims as malloc'd JSON, or NULL. */
char *cb_jwt_verify(const char *token, const char *alg, const char *secret);
/* Appends src to out with every JSON string "from" replaced by "to" (both given raw): the
 * namespaced meeting ID the node knows becomes the frontend's own in a callback's JSON. */
int cb_jwt_map_id(struct buf *out, const char *src, const char *from, const char *to);

#endif
