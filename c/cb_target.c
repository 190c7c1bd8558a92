/* cb_target.c: see cb_target.h. The host is resolved here and every address is checked; a
 * name with one address inside a private network is refused even when others are public,
 * since a resolver (or an attacker's DNS server) decides which one a client would get. */
#include "cb_target.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* Not public: unspecified, "this network", private (RFC 1918), CGNAT, loopback, link-local,
 * IETF protocol assignments, documentation and benchmarking ranges, 6to4 relays, multicast
 * and reserved; for IPv6 also v4-compatible, discard, IETF (Teredo included), 6to4,
 * unique-local, site-local and NAT64 local use. IPv4-mapped addresses are checked as IPv4
 * (netaddr.h); NAT64 (64:ff9b::/96) by the IPv4 address it embeds. */
static const char cb_target_special[] =
	"0.0.0.0/8 10.0.0.0/8 100.64.0.0/10 127.0.0.0/8 169.254.0.0/16 172.16.0.0/12 "
	"192.0.0.0/24 192.0.2.0/24 192.88.99.0/24 192.168.0.0/16 198.18.0.0/15 "
	"198.51.100.0/24 203.0.113.0/24 224.0.0.0/4 240.0.0.0/4 "
	"::/96 ::1/128 64:ff9b:1::/48 100::/64 2001::/23 2001:db8::/32 2002::/16 3fff::/20 "
	"fc00::/7 fe80::/10 fec0::/10 ff00::/8";

static struct {
	struct netaddr_list allowed, special;
	struct netaddr nat64;
} cbt;

int cb_target_setup(const struct lb_config *cfg, char *err, size_t errlen)
{
	int rc = netaddr_list_parse(cb_target_special, "callback special networks", &cbt.special,
				    err, errlen);

	if (rc < 0)
		return rc;
	netaddr_parse("64:ff9b::", 9, &cbt.nat64);
	cbt.nat64.bits = 96;
	return netaddr_list_parse(cfg->callback_allowed_networks,
				  "B3SCALE_CALLBACK_ALLOWED_NETWORKS", &cbt.allowed, err, errlen);
}

static int cb_target_public(const struct netaddr *a)
{
	struct netaddr v4;

	if (a->family == AF_INET6 && netaddr_in(a, &cbt.nat64)) {
		memset(&v4, 0, sizeof(v4));
		v4.family = AF_INET;
		v4.bits = 32;
		memcpy(v4.a, a->a + 12, 4);
		return !netaddr_list_has(&cbt.special, &v4);
	}
	return !netaddr_list_has(&cbt.special, a);
}

int cb_target_permitted(const struct netaddr *a)
{
	return netaddr_list_has(&cbt.allowed, a) || cb_target_public(a);
}

/* The scheme, host and port of url: 0, or -EACCES with why. */
static int cb_target_parse(const char *url, struct cb_target *t, char *err, size_t errlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *zone = NULL;
	size_t n;
	int rc = -EACCES;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
		snprintf(err, errlen, "not a valid URL");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
		snprintf(err, errlen, "only http and https targets are allowed");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_ZONEID, &zone, 0) == CURLUE_OK) {
		snprintf(err, errlen, "an IPv6 zone ID is not allowed");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		snprintf(err, errlen, "the URL has no host");
		goto out;
	}
	n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		memmove(host, host + 1, n - 2);
		host[n - 2] = '\0';
	}
	if (strlen(host) == 0 || strlen(host) >= sizeof(t->host)) {
		snprintf(err, errlen, "the URL's host is empty or too long");
		goto out;
	}
	snprintf(t->host, sizeof(t->host), "%s", host);
	t->port = strtol(port, NULL, 10);
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(zone);
	curl_url_cleanup(u);
	return rc;
}

/* Checks one resolved address and adds it to the pin list (each address once). */
static int cb_target_take(struct cb_target *t, const struct netaddr *a, struct netaddr *seen,
			  size_t *nseen, char *err, size_t errlen)
{
	char txt[64];
	size_t len = strlen(t->resolve), i;
	int v6 = a->family == AF_INET6;

	netaddr_format(a, txt, sizeof(txt));
	if (!cb_target_permitted(a)) {
		if (t->literal)
			snprintf(err, errlen, "%s is not a public address (allow it with "
					      "B3SCALE_CALLBACK_ALLOWED_NETWORKS)", txt);
		else
			snprintf(err, errlen, "%s resolves to %s, not a public address (allow it "
					      "with B3SCALE_CALLBACK_ALLOWED_NETWORKS)", t->host, txt);
		return -EACCES;
	}
	if (t->literal || *nseen == CB_TARGET_MAX_ADDRS)
		return 0;
	for (i = 0; i < *nseen; i++)
		if (seen[i].family == a->family && memcmp(seen[i].a, a->a, 16) == 0)
			return 0; /* getaddrinfo lists an address per socket type */
	seen[(*nseen)++] = *a;
	snprintf(t->resolve + len, sizeof(t->resolve) - len, "%s%s%s%s", *nseen > 1 ? "," : "",
		 v6 ? "[" : "", txt, v6 ? "]" : "");
	return 0;
}

int cb_target_check(const char *url, struct cb_target *t, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct netaddr a, seen[CB_TARGET_MAX_ADDRS];
	size_t nseen = 0;
	int rc, g;

	memset(t, 0, sizeof(*t));
	rc = cb_target_parse(url, t, err, errlen);
	if (rc < 0)
		return rc;
	if (netaddr_parse(t->host, strlen(t->host), &a) == 0) {
		t->literal = 1;
		return cb_target_take(t, &a, seen, &nseen, err, errlen);
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	g = getaddrinfo(t->host, NULL, &hints, &res);
	if (g != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", t->host,
			 g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
		return -EAGAIN;
	}
	snprintf(t->resolve, sizeof(t->resolve), "%s:%ld:", t->host, t->port);
	for (ai = res; ai; ai = ai->ai_next) {
		if (netaddr_from_sockaddr(ai->ai_addr, &a) < 0)
			continue;
		rc = cb_target_take(t, &a, seen, &nseen, err, errlen);
		if (rc < 0)
			break;
	}
	freeaddrinfo(res);
	if (rc == 0 && nseen == 0) {
		snprintf(err, errlen, "%s has no IPv4 or IPv6 address", t->host);
		rc = -EAGAIN;
	}
	return rc;
}

/* CURLOPT_OPENSOCKETFUNCTION: the last word, whatever curl resolved or reused. */
static curl_socket_t cb_target_socket(void *clientp, curlsocktype purpose,
				      struct curl_sockaddr *addr)
{
	struct cb_target *t = clientp;
	struct netaddr a;

	if (purpose != CURLSOCKTYPE_IPCXN ||
	    netaddr_from_sockaddr(&addr->addr, &a) < 0 || !cb_target_permitted(&a)) {
		t->blocked = 1;
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

int cb_target_apply(CURL *easy, struct cb_target *t)
{
	if (t->resolve[0]) {
		t->pin = curl_slist_append(NULL, t->resolve);
		if (!t->pin)
			return -ENOMEM;
		if (curl_easy_setopt(easy, CURLOPT_RESOLVE, t->pin) != CURLE_OK)
			return -EINVAL;
	}
	/* "" turns off http_proxy and friends: the checked address is the one connected to */
	if (curl_easy_setopt(easy, CURLOPT_PROXY, "") != CURLE_OK ||
	    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, cb_target_socket) != CURLE_OK ||
	    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, t) != CURLE_OK)
		return -EINVAL;
	return 0;
}

void cb_target_release(struct cb_target *t)
{
	curl_slist_free_all(t->pin);
	t->pin = NULL;
}
