/* bbbsim_record.h: the published recording a meeting created with record=true leaves when
 * it ends, laid out as on a BBB node (published/<format>/<recordID>/metadata.xml and files),
 * so the recording chain runs against the simulator. */
#ifndef BBBSIM_RECORD_H
#define BBBSIM_RECORD_H

#include <stddef.h>

#include "bbbsim_state.h"

/* Writes m's presentation recording under st->recordings_dir, whole or not at all (built in
 * a temporary directory, then renamed into place). 0, or a negative errno with err. Expects
 * the state's lock held. */
int bbbsim_record_write(const struct bbbsim_state *st, const struct bbbsim_meeting *m,
			long long end_ms, char *err, size_t errlen);

#endif
