/*
 * fake_clock.h - a wall clock the test moves forward, for the stores whose
 * windows are minutes or days (throttle, greylist). Included by one test
 * program, it defines clock_gettime() and time() in the executable, which
 * take precedence over libc's for every caller (libmail's objects and
 * libdb alike); CLOCK_REALTIME and time() read the real clock plus the
 * offset, every other clock is passed through untouched. The code under
 * test is not changed and does not know.
 *
 *	fake_clock_advance(61);		a minute and a second later
 */
#ifndef FAKE_CLOCK_H
#define FAKE_CLOCK_H

#include <sys/syscall.h>

#include <stdint.h>
#include <time.h>
#include <unistd.h>

static int64_t fake_clock_offset;	/* seconds */

static inline void
fake_clock_advance(int64_t seconds)
{
	fake_clock_offset += seconds;
}

int
clock_gettime(clockid_t id, struct timespec *ts)
{
	if (syscall(SYS_clock_gettime, id, ts) == -1)
		return -1;
	if (id == CLOCK_REALTIME)
		ts->tv_sec += (time_t)fake_clock_offset;
	return 0;
}

time_t
time(time_t *t)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return (time_t)-1;
	if (t != NULL)
		*t = ts.tv_sec;
	return ts.tv_sec;
}

#endif
