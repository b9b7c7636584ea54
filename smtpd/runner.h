/*
 * runner.h - the queue runner: `smtpd -q` delivers what is due in the
 * relay queue (queue_dir) once and exits; runner_kick() starts one in the
 * background right after smtpd queued a message.
 */
#ifndef SMTPD_RUNNER_H
#define SMTPD_RUNNER_H

/*
 * smtpd -q, after daemon_start(): as root, reads relay_auth_file, takes
 * queue_dir/runner.lock (busy: another runner is at work, return 0), then
 * splits into the root monitor (local bounces go through monitor_run) and
 * an unprivileged child that does the deliveries. Returns the exit status.
 */
int	runner_main(void);

/*
 * Starts `smtpd -q` (this binary, with the -d/-f/-o options this process
 * was given) detached in its own session, output to /dev/null, no fd of
 * the caller inherited. Never waits for the runner; failures are logged.
 */
void	runner_kick(void);

#endif
