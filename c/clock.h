/* clock.h: the one way the daemon reads time. */
#ifndef B3S_CLOCK_H
#define B3S_CLOCK_H

#include <time.h>

/* Monotonic: for deadlines, ages and intervals (a wall-clock jump changes nothing). */
long long clock_mono_ms(void);
/* The same in microseconds, for short costs (a policy call). */
long long clock_mono_us(void);
/* Wall clock since the epoch: for times compared with the database's. */
long long clock_wall_ms(void);
/* *ts = clock clk's now plus ms: the deadline of a timed wait (pthread_cond_timedwait). */
void clock_after(struct timespec *ts, clockid_t clk, long ms);

#endif
