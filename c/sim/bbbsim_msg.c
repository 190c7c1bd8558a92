/* bbbsim_msg.c: replies of the simulator's handlers. */
#include "bbbsim_msg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void bbbsim_msg_reply_init(struct bbbsim_msg_reply *rep)
{
	memset(rep, 0, sizeof(*rep));
	rep->status = 200;
	rep->content_type = "text/plain";
	buf_init(&rep->body);
}

void bbbsim_msg_reply_free(struct bbbsim_msg_reply *rep)
{
	free(rep->location);
	buf_free(&rep->body);
	rep->location = NULL;
}

int bbbsim_msg_reply_text(struct bbbsim_msg_reply *rep, unsigned status, const char *text)
{
	buf_reset(&rep->body);
	buf_puts(&rep->body, text);
	buf_puts(&rep->body, "\n");
	rep->status = status;
	rep->content_type = "text/plain";
	return rep->body.oom ? -ENOMEM : 0;
}
