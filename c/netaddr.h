/* netaddr.h: IP addresses and CIDR networks, one implementation for every rule about them:
 * which proxies are trusted (B3SCALE_TRUSTED_PROXIES, http_edge.c) and which networks a
 * callback may reach (B3SCALE_CALLBACK_ALLOWED_NETWORKS, cb_target.c). An IPv4-mapped IPv6
 * address is always stored as the IPv4 address it is, so one rule covers both forms. */
#ifndef B3S_NETADDR_H
#define B3S_NETADDR_H

#include <stddef.h>

#include <sys/socket.h>

#define NETADDR_LIST_MAX 64

struct netaddr {
	int family; /* AF_INET or AF_INET6 */
	unsigned char a[16];
	unsigned bits; /* prefix length of a network; 32 or 128 for an address */
};

struct netaddr_list {
	struct netaddr v[NETADDR_LIST_MAX];
	size_t n;
};

/* A literal address (n bytes of s, no brackets): 0, or -EINVAL. */
int netaddr_parse(const char *s, size_t n, struct netaddr *out);
/* The address of an AF_INET or AF_INET6 socket address: 0, -EINVAL or -EAFNOSUPPORT. */
int netaddr_from_sockaddr(const struct sockaddr *sa, struct netaddr *out);
/* Printable form ("-" when it cannot be printed). */
void netaddr_format(const struct netaddr *a, char *out, size_t outlen);
/* 1 when a lies in network net. */
int netaddr_in(const struct netaddr *a, const struct netaddr *net);

/* "10.0.0.0/8, 127.0.0.1, ::1, fd00::/8" (commas or blanks between entries; "" is an empty
 * list). 0, or -EINVAL with "<what>: '<entry>' is not an IP address or CIDR" in err. */
int netaddr_list_parse(const char *text, const char *what, struct netaddr_list *out, char *err,
		       size_t errlen);
/* 1 when a lies in one of the list's networks. */
int netaddr_list_has(const struct netaddr_list *l, const struct netaddr *a);

#endif
