/* netaddr.c: see netaddr.h. */
#include "netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int netaddr_parse(const char *s, size_t n, struct netaddr *out)
{
	char tmp[INET6_ADDRSTRLEN];

	if (n == 0 || n >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, tmp, out->a) == 1) {
		out->family = AF_INET;
		out->bits = 32;
		return 0;
	}
	if (inet_pton(AF_INET6, tmp, out->a) != 1)
		return -EINVAL;
	out->family = AF_INET6;
	out->bits = 128;
	/* a v4 peer seen through a dual-stack socket (or named ::ffff:a.b.c.d) is that v4 peer */
	if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)out->a)) {
		memmove(out->a, out->a + 12, 4);
		memset(out->a + 4, 0, 12);
		out->family = AF_INET;
		out->bits = 32;
	}
	return 0;
}

int netaddr_from_sockaddr(const struct sockaddr *sa, struct netaddr *out)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
	char tmp[INET6_ADDRSTRLEN];

	if (!sa)
		return -EINVAL;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &s4->sin_addr, tmp, sizeof(tmp));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &s6->sin6_addr, tmp, sizeof(tmp));
	else
		return -EAFNOSUPPORT;
	return netaddr_parse(tmp, strlen(tmp), out);
}

void netaddr_format(const struct netaddr *a, char *out, size_t outlen)
{
	if (!inet_ntop(a->family, a->a, out, (socklen_t)outlen))
		snprintf(out, outlen, "-");
}

int netaddr_in(const struct netaddr *a, const struct netaddr *net)
{
	unsigned full = net->bits / 8, rest = net->bits % 8;

	if (a->family != net->family || memcmp(a->a, net->a, full) != 0)
		return 0;
	return rest == 0 || ((a->a[full] ^ net->a[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

int netaddr_list_parse(const char *text, const char *what, struct netaddr_list *out, char *err,
		       size_t errlen)
{
	const char *p = text;

	out->n = 0;
	while (*p) {
		size_t n = strcspn(p, ", \t");
		const char *slash = memchr(p, '/', n);
		struct netaddr *net = &out->v[out->n];
		char *end;
		long bits;

		if (n == 0) {
			p++;
			continue;
		}
		if (out->n == NETADDR_LIST_MAX) {
			snprintf(err, errlen, "%s: more than %d entries", what, NETADDR_LIST_MAX);
			return -EINVAL;
		}
		if (netaddr_parse(p, slash ? (size_t)(slash - p) : n, net) < 0)
			goto bad;
		if (slash) {
			bits = strtol(slash + 1, &end, 10);
			if (end != p + n || end == slash + 1 || bits < 0 || bits > (long)net->bits)
				goto bad;
			net->bits = (unsigned)bits;
		}
		out->n++;
		p += n;
		continue;
bad:
		snprintf(err, errlen, "%s: '%.*s' is not an IP address or CIDR", what,
			 (int)(n > 64 ? 64 : n), p);
		return -EINVAL;
	}
	return 0;
}

int netaddr_list_has(const struct netaddr_list *l, const struct netaddr *a)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (netaddr_in(a, &l->v[i]))
			return 1;
	return 0;
}
