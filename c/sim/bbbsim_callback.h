/* bbbsim_callback.h: the calls a BBB node makes when a meeting ends, so the balancer's
 * callback handling runs against the node's real behaviour: meetingEndedURL and
 * meta_endCallbackUrl (GET, meetingID and recordingmarks appended), the analytics JSON
 * (POST, Bearer HS512 JWT of the node's secret) and, for a recorded meeting, recording ready
 * (POST signed_parameters, HS256 JWT of the node's secret). */
#ifndef B3S_BBBSIM_CALLBACK_H
#define B3S_BBBSIM_CALLBACK_H

#include "bbbsim_state.h"

struct bbbsim_callback;

/* The callbacks of m's end, built under the state lock (m is about to go). */
struct bbbsim_callback *bbbsim_callback_collect(const struct bbbsim_state *st,
						const struct bbbsim_meeting *m);
/* Sends them one by one (2 s each at most), logs each outcome, frees the list. */
void bbbsim_callback_send(struct bbbsim_callback *list);

#endif
