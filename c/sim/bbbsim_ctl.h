/* bbbsim_ctl.h: the /sim/ control endpoints tests use to inspect and steer the simulator. */
#ifndef BBBSIM_CTL_H
#define BBBSIM_CTL_H

#include "bbbsim_msg.h"
#include "bbbsim_state.h"

/* 1 when path is /sim or below. */
int bbbsim_ctl_match(const char *path);
int bbbsim_ctl_handle(struct bbbsim_state *st, const struct bbbsim_msg_request *req,
		      struct bbbsim_msg_reply *rep);

#endif
