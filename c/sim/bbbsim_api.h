/* bbbsim_api.h: the BBB API under /bigbluebutton/api as a real 2.7/3.0 node answers it. */
#ifndef BBBSIM_API_H
#define BBBSIM_API_H

#include "bbbsim_msg.h"
#include "bbbsim_state.h"

/* 1 when path belongs to the BBB API (/bigbluebutton, /bigbluebutton/api...). */
int bbbsim_api_match(const char *path);
int bbbsim_api_handle(struct bbbsim_state *st, const struct bbbsim_msg_request *req,
		      struct bbbsim_msg_reply *rep);

#endif
