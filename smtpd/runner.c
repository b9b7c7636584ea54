/*
 * runner.c - `smtpd -q`, the root half of a queue run: runner_prepare()
 * as root (relay_auth_file, the TLS client settings, queue_dir), then the
 * worker (runner_run in libmail/relay, as unpriv_user) is started, and
 * its bounces to local senders are delivered here through deliver.c,
 * exactly as SMTP mail is. REQ_BOUNCE is the one request it may send.
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deliver.h"
#include "log.h"
#include "privsep.h"
#include "queue.h"
#include "runner.h"
#include "smtpc.h"
#include "smtpd.h"

/* In the worker: hands a bounce to the root half (runner_local_fn). */
static int
bounce_by_root(const char *to, int msgfd, const char *qid, void *arg)
{
	struct ps_frame f;
	int fd = *(int *)arg;

	ps_init(&f, REQ_BOUNCE);
	if (ps_put_str(&f, to) == -1 || ps_put_str(&f, qid) == -1 ||
	    ps_send(fd, &f, msgfd) == -1 || ps_recv(fd, &f, -1) == -1)
		return -1;
	if (f.fd != -1)
		close(f.fd);
	return f.type == ANS_OK ? 0 : f.type == ANS_NOUSER ? 1 : -1;
}

static int
worker(int fd, void *unused)
{
	(void)unused;
	return runner_run(bounce_by_root, &fd);
}

int
runner_main(void)
{
	char to[SMTP_PATH_MAX + 1], qid[QID_MAX];
	struct mailuser u;
	struct ps_frame f;
	int fd, r, status;
	pid_t pid;

	if (runner_prepare(&u) == -1 || (pid = ps_spawn(u.name, u.uid, u.gid,
	    NULL, 0, worker, NULL, &fd)) == -1)
		return 1;
	smtpc_set_auth(NULL, NULL);	/* the root half sends nothing */
	while (ps_recv(fd, &f, -1) == 0) {
		if (f.type != REQ_BOUNCE || f.fd == -1 ||
		    ps_get_str(&f, to, sizeof(to)) == -1 ||
		    ps_get_str(&f, qid, sizeof(qid)) == -1 || !ps_done(&f)) {
			log_warnx("runner: bad request type %u from the worker, "
			    "closing", (unsigned)f.type);
			if (f.fd != -1)
				close(f.fd);
			kill(pid, SIGKILL);
			break;
		}
		r = delivery_bounce(to, f.fd, qid, NULL);
		close(f.fd);
		ps_init(&f, r == 0 ? ANS_OK : r == 1 ? ANS_NOUSER : ANS_TEMP);
		(void)ps_send(fd, &f, -1);
	}
	close(fd);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	return 0;
}
