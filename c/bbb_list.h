/* bbb_list.h: getMeetings from the live view, after bbb_api.c verified the frontend and
 * checksum. No node is asked. */
#ifndef B3S_BBB_LIST_H
#define B3S_BBB_LIST_H

#include "bbb_task.h"

struct lb_config;

void bbb_list_meetings(struct bbb_ctx *c);
/* The thread that rebuilds kept lists off the request path (its own database connection). */
int bbb_list_start(const struct lb_config *cfg, char *err, size_t errlen);
void bbb_list_stop(void);
/* The frontend's meetings changed here (a create, an end): its kept list goes at once (other
 * instances hear of it through LISTEN/NOTIFY). */
void bbb_list_changed(const char *frontend_key);

#endif
