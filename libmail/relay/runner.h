/*
 * runner.h - the queue runner: one run delivers what is due in the relay
 * queue (queue_dir) and exits (`smtpd -q` is its root half and the
 * daemon's local delivery); runner_kick() starts one in the background
 * right after a message was queued.
 */
#ifndef INETMAIL_RUNNER_H
#define INETMAIL_RUNNER_H

#include "user.h"

/*
 * The daemon's delivery of a bounce (a memfd at offset 0, the null
 * sender) to a LOCAL address, on behalf of queue record qid: 0 delivered,
 * 1 no such local recipient (the bounce is dropped), -1 try again later.
 */
typedef int (*runner_local_fn)(const char *to, int msgfd, const char *qid,
    void *arg);

/*
 * As root, before the worker is started: role mx (no client here), reads
 * relay_auth_file and the TLS client settings (smtpc_init), prepares
 * queue_dir for unpriv_user, whose account goes into u. 0, or -1 logged.
 */
int	runner_prepare(struct mailuser *u);

/*
 * The worker, as unpriv_user: takes queue_dir/runner.lock (busy: another
 * runner is at work, return 0), then passes over the queue until nothing
 * new is due; bounces to local senders go through local(..., arg).
 * Returns the exit status.
 */
int	runner_run(runner_local_fn local, void *arg);

/*
 * Starts `smtpd -q` (this binary, with the -d/-f/-o options this process
 * was given) detached in its own session, output to /dev/null, no fd of
 * the caller inherited. Never waits for the runner; failures are logged.
 */
void	runner_kick(void);

#endif
