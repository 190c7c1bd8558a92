/* bbbsim_http.h: the HTTP server of the simulator; it hands requests to bbbsim_api and
 * bbbsim_ctl in the shapes of bbbsim_msg.h. */
#ifndef BBBSIM_HTTP_H
#define BBBSIM_HTTP_H

#include <stddef.h>
#include <sys/socket.h>

#include "bbbsim_msg.h"
#include "bbbsim_state.h"

struct bbbsim_http;

/* Starts serving n nodes on addr (st[0..n-1]; with n > 1 node i answers under /n/<i>/);
 * *port receives the bound port (useful with port 0). */
int bbbsim_http_start(struct bbbsim_http **out, struct bbbsim_state *st, size_t n,
		      const struct sockaddr *addr, socklen_t alen, unsigned *port);
void bbbsim_http_stop(struct bbbsim_http *h);

#endif
