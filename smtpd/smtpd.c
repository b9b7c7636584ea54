/*
 * smtpd.c - entry point: options, configuration, then the split into the
 * root monitor (this process) and the unprivileged SMTP session (a child in
 * chroot_dir as unpriv_user). The client is fd 0 and fd 1 (inetd style).
 * With -q there is no client: smtpd runs the relay queue once (runner.c).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "log.h"
#include "params.h"
#include "privsep.h"
#include "smtpd.h"
#include "throttle.h"
#include "tls_server.h"
#include "util.h"

/* -d was given (then the log already goes to stderr). */
static int
debug_given(void)
{
	char *const *a;

	for (a = daemon_args(); *a != NULL; a++)
		if (strcmp(*a, "-d") == 0)
			return 1;
	return 0;
}

/* The session child, in chroot_dir as unpriv_user. */
static int
session_child(int monitor_fd, void *peer)
{
	session_run(monitor_fd, peer);
	return 0;
}

int
main(int argc, char *argv[])
{
	int fd;
	char err[256];
	const char *why;
	struct passwd *pw;
	struct peer peer;
	pid_t pid;

	if (daemon_start(argc, argv, "smtpd", DAEMON_QUEUE, &peer, err,
	    sizeof(err)) == -1) {
		if (daemon_queue_mode()) {
			/* a timer, cron or an administrator: no SMTP client,
			 * and stderr is theirs (with -d the log has it) */
			log_warnx("configuration: %s", err);
			if (!debug_given())
				fprintf(stderr, "smtpd: configuration: %s\n", err);
			return 1;
		}
		goto conf_error;
	}
	if (daemon_queue_mode())
		return runner_main();

	/* The key is read here, as root, and never after the drop. */
	if (daemon_tls_init(err, sizeof(err)) == -1)
		goto tls_error;
	/* Per-address limits, here since inetd enforces none of its own. */
	if (thr_conn_enter(peer.addr, getpid(), &why) == 1) {
		if (tls_mode() != TLS_IMPLICIT)	/* plaintext would be noise */
			printf("421 4.7.0 %s Too many connections from your "
			    "address, try again later\r\n", conf.hostname);
		return 1;
	}
	if ((pw = getpwnam(conf.unpriv_user)) == NULL)
		goto unavailable_user;
	if ((pid = ps_spawn(pw->pw_name, pw->pw_uid, pw->pw_gid,
	    conf.chroot_dir, 0, session_child, &peer, &fd)) == -1)
		fatalx("cannot start the session");
	tls_server_free();	/* the monitor never speaks TLS */
	monitor_run(fd, &peer, pid);
	thr_conn_leave(peer.addr, getpid());
	return 0;

conf_error:
	log_warnx("configuration: %s", err);
	printf("421 4.3.0 Service not available: configuration error\r\n");
	return 1;
tls_error:
	log_warnx("tls configuration: %s", err);
	printf("421 4.3.0 %s Service not available: TLS configuration error\r\n",
	    conf.hostname);
	return 1;
unavailable_user:
	log_warnx("unpriv_user %s: no such account", pr(conf.unpriv_user));
	printf("421 4.3.0 Service not available: configuration error\r\n");
	return 1;
}
