/* sign.h: short MACs over what a link or token grants, keyed with B3SCALE_API_JWT_SECRET: the
 * protected-recording links and cookies (rec_access.c) and the callback URLs b3scaled gives
 * nodes (cb_create.c). The kind is part of the message, so one can never stand for another. */
#ifndef B3S_SIGN_H
#define B3S_SIGN_H

#include "config.h"

#define SIGN_MAC_HEX 32 /* 128 bits, hex */

/* Hex HMAC-SHA256 of "kind|a|b|n" into out (SIGN_MAC_HEX + 1 bytes). -EPERM without a
 * secret to sign with. */
int sign_mac(const struct lb_config *cfg, const char *kind, const char *a, const char *b,
	     long long n, char *out);
/* 1 when got (gotlen bytes) is that MAC, compared in constant time. */
int sign_ok(const struct lb_config *cfg, const char *kind, const char *a, const char *b,
	    long long n, const char *got, size_t gotlen);

#endif
