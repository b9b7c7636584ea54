/*
 * smtpd.c - entry point: options, configuration, then the split into the
 * root monitor (this process) and the unprivileged SMTP session (a child in
 * chroot_dir as unpriv_user). The client is fd 0 and fd 1 (inetd style).
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
#include "log.h"
#include "params.h"
#include "privsep.h"
#include "smtpd.h"
#include "throttle.h"
#include "tls.h"
#include "util.h"

static void
usage(void)
{
	fprintf(stderr, "usage: smtpd [-dV] [-f file] [-o key=value]\n");
	exit(2);
}

static void
peer_of_fd0(struct peer *p)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char ip[INET6_ADDRSTRLEN];

	str_copy(p->addr, sizeof(p->addr), "pipe");
	str_copy(p->name, sizeof(p->name), "[local]");
	if (getpeername(0, (struct sockaddr *)&ss, &len) == -1)
		return;
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof(ip));
	else if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof(ip));
	else
		return;
	str_copy(p->addr, sizeof(p->addr), ip);
	str_fmt(p->name, sizeof(p->name), ss.ss_family == AF_INET6 ?
	    "[IPv6:%s]" : "[%s]", ip);
}

/* A connection id: 12 characters from [0-9A-Z], from getrandom. */
static void
make_id(char *id, size_t size)
{
	static const char set[] = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
	unsigned char r[12];
	size_t i;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		fatal("getrandom");
	for (i = 0; i < sizeof(r) && i + 1 < size; i++)
		id[i] = set[r[i] % (sizeof(set) - 1)];
	id[i] = '\0';
}

int
main(int argc, char *argv[])
{
	const char *cfile = CONF_FILE;
	int ch, debug = 0, explicit_file = 0, sv[2];
	char err[256], id[16];
	const char *why;
	struct passwd *pw;
	struct peer peer;
	pid_t pid;

	conf_defaults();
	while ((ch = getopt(argc, argv, "dVf:o:")) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			break;
		case 'V':
			printf("inetmail smtpd %s\n", INETMAIL_VERSION);
			return 0;
		case 'f':
			cfile = optarg;
			explicit_file = 1;
			break;
		case 'o':
			break;	/* applied after the file, below */
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_open("smtpd", debug);
	if (conf_load(cfile, !explicit_file, err, sizeof(err)) == -1)
		goto conf_error;
	optind = 1;
	while ((ch = getopt(argc, argv, "dVf:o:")) != -1)
		if (ch == 'o' && conf_option(optarg, err, sizeof(err)) == -1)
			goto conf_error;
	conf_finish();
	signal(SIGPIPE, SIG_IGN);
	/* A launcher may leave SIGCHLD ignored; then waitpid could not work. */
	signal(SIGCHLD, SIG_DFL);

	make_id(id, sizeof(id));
	log_set_id(id);
	peer_of_fd0(&peer);
	log_info("connect ip=%s", peer.addr);

	/* The key is read here, as root, and never after the drop. */
	if (tls_server_init(err, sizeof(err)) == -1)
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
	if (ps_pair(sv) == -1)
		fatal("socketpair");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		close(sv[0]);
		priv_drop(pw->pw_name, pw->pw_uid, pw->pw_gid, conf.chroot_dir, 0);
		session_run(sv[1], &peer);
		_exit(0);
	}
	close(sv[1]);
	tls_server_free();	/* the monitor never speaks TLS */
	monitor_run(sv[0], 1, pid);
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
