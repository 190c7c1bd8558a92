/* bbb_list.h: getMeetings from the live view, after bbb_api.c verified the frontend and
 * checksum. No node is asked. */
#ifndef B3S_BBB_LIST_H
#define B3S_BBB_LIST_H

#include "bbb_task.h"

void bbb_list_meetings(struct bbb_ctx *c);

#endif
