/* placement_size.h: the size a new meeting is expected to reach, which placement reserves on
 * its node until the meeting's own numbers arrive (policies/README.md, "The load"). */
#ifndef B3S_PLACEMENT_SIZE_H
#define B3S_PLACEMENT_SIZE_H

#include "db.h"
#include "query.h"

/* the largest size a create may claim; larger hints count as this */
#define PLACEMENT_SIZE_MAX 100000L

/* A positive size in s ("300", at most PLACEMENT_SIZE_MAX once clamped), or 0 when s is
 * absent, empty, not a whole decimal number, or not above 0. */
long placement_size_parse(const char *s);

/* The expected size of a new meeting, from the first of: the create's
 * meta_bbb-meeting-size-hint, its maxParticipants (> 0), the largest peak_attendees of the
 * last 3 instances of the same frontend + meeting ID (meeting_usage).
 * 0 with *source "hint", "max_participants" or "history", or with *source NULL when none
 * applies (the policy's default then stands). The history is read only when the parameters
 * say nothing; -EIO with err when that read fails (*source NULL: the caller may go on). */
int placement_size_expect(struct db *db, const char *frontend_id, const char *meeting_id,
			  const struct query *params, long *size, const char **source, char *err,
			  size_t errlen);

#endif
