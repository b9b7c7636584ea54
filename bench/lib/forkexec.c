/*
 * forkexec: the fork + exec + exit + wait rate of this machine for one
 * program (bench/run, "physical limits").  What inetd pays per connection
 * before the server has read a byte.
 *
 *   forkexec SECONDS MAXCOUNT PROGRAM [ARG...]
 *
 * Runs PROGRAM (stdout/stderr to /dev/null) over and over, one at a time,
 * until SECONDS have passed or MAXCOUNT runs are done; prints one JSON line.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double limit, t0, t;
	long max, n = 0, bad = 0;
	int devnull, st;
	pid_t pid;

	if (argc < 4) {
		fprintf(stderr, "usage: forkexec SECONDS MAXCOUNT PROGRAM [ARG...]\n");
		return 2;
	}
	limit = strtod(argv[1], NULL);
	max = strtol(argv[2], NULL, 10);
	if ((devnull = open("/dev/null", O_RDWR)) < 0)
		return 1;
	t0 = now();
	do {
		pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			dup2(devnull, 1);
			dup2(devnull, 2);
			execv(argv[3], argv + 3);
			_exit(127);
		}
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st) == 127)
			bad++;
		n++;
		t = now();
	} while (t - t0 < limit && n < max);
	printf("{\"runs\": %ld, \"failed\": %ld, \"seconds\": %.4f, \"per_s\": %.1f, \"us_each\": %.1f}\n",
	    n, bad, t - t0, n / (t - t0), 1e6 * (t - t0) / n);
	return 0;
}
