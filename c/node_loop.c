/* node_loop.c: placeholder while the loop is written; replaced in the next commit. */
#include "node_loop.h"

int node_loop_start(const struct lb_config *cfg, char *err, size_t errlen)
{
	(void)cfg;
	(void)err;
	(void)errlen;
	return 0;
}

void node_loop_stop(void)
{
}
