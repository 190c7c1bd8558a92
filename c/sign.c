/* sign.c: see sign.h. */
#include "sign.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

int sign_mac(const struct lb_config *cfg, const char *kind, const char *a, const char *b,
	     long long n, char *out)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	char msg[1200];
	int i, m;

	if (!cfg->api_jwt_secret[0])
		return -EPERM;
	m = snprintf(msg, sizeof(msg), "%s|%s|%s|%lld", kind, a, b, n);
	if (m < 0 || (size_t)m >= sizeof(msg))
		return -ENAMETOOLONG;
	if (!HMAC(EVP_sha256(), cfg->api_jwt_secret, (int)strlen(cfg->api_jwt_secret),
		  (const unsigned char *)msg, (size_t)m, mac, &len) || len * 2 < SIGN_MAC_HEX)
		return -EIO;
	for (i = 0; i < SIGN_MAC_HEX / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	return 0;
}

int sign_ok(const struct lb_config *cfg, const char *kind, const char *a, const char *b,
	    long long n, const char *got, size_t gotlen)
{
	char want[SIGN_MAC_HEX + 1];

	if (gotlen != SIGN_MAC_HEX || sign_mac(cfg, kind, a, b, n, want) < 0)
		return 0;
	return CRYPTO_memcmp(want, got, SIGN_MAC_HEX) == 0;
}
