/* cb_target.h: where a callback may go (the SSRF guard). A target is an http(s) URL whose
 * host resolves only to public addresses, or to addresses inside
 * B3SCALE_CALLBACK_ALLOWED_NETWORKS; the transfer is then pinned to exactly the addresses
 * that were checked (CURLOPT_RESOLVE), every socket is checked again as it is opened, no
 * proxy from the environment is used and no redirect is followed. */
#ifndef B3S_CB_TARGET_H
#define B3S_CB_TARGET_H

#include <stddef.h>

#include <curl/curl.h>

#include "config.h"
#include "netaddr.h"

#define CB_TARGET_MAX_ADDRS 16

struct cb_target {
	char host[256];     /* as in the URL, without IPv6 brackets */
	long port;
	int literal;        /* the host is an IP address: nothing to resolve or pin */
	char resolve[1024]; /* "host:port:addr[,addr...]", "" for a literal */
	struct curl_slist *pin;
	int blocked;        /* set when a socket to an unchecked address was refused */
};

/* Parses B3SCALE_CALLBACK_ALLOWED_NETWORKS (a bad entry: -EINVAL and a one-line err). */
int cb_target_setup(const struct lb_config *cfg, char *err, size_t errlen);

/* Checks url and resolves its host (blocking: the deliverer's own thread only). 0 with *t
 * filled; -EACCES when the target is refused for good (not http(s), unparsable, or an
 * address neither public nor allowed; the reason in err); -EAGAIN when the host did not
 * resolve now (worth a retry); -ENOMEM. */
int cb_target_check(const char *url, struct cb_target *t, char *err, size_t errlen);

/* 1 when a connection to a may be made: public, or inside the allowed networks. */
int cb_target_permitted(const struct netaddr *a);

/* Sets the guard's options on easy (which must keep t alive until it is cleaned up): the
 * pinned addresses, the socket check, no proxy, no redirects. 0 or -ENOMEM/-EINVAL. */
int cb_target_apply(CURL *easy, struct cb_target *t);
/* Frees what cb_target_apply allocated (after the transfer). */
void cb_target_release(struct cb_target *t);

#endif
