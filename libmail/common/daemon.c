/*
 * daemon.c - the start shared by smtpd and pop3d (see daemon.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
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
#include "tls_server.h"
#include "util.h"

static int queue_mode;
static int flags_given;	/* daemon_start's flags, for usage() */
/* -d, -f FILE, -o KEY=VALUE as given, for daemon_args(). */
static char **kept;
static size_t nkept;

static void
usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-dV%s] [-f file] [-o key=value]\n", prog,
	    (flags_given & DAEMON_QUEUE) ? "q" : "");
	exit(2);
}

static void
keep(const char *opt, const char *arg)
{
	kept = xreallocarray(kept, nkept + 3, sizeof(*kept));
	kept[nkept++] = xstrdup(opt);
	if (arg != NULL)
		kept[nkept++] = xstrdup(arg);
	kept[nkept] = NULL;
}

int
daemon_queue_mode(void)
{
	return queue_mode;
}

char *const *
daemon_args(void)
{
	static char *none[1];

	return kept != NULL ? kept : none;
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
daemon_start(int argc, char *argv[], const char *prog, int flags,
    struct peer *peer, char *err, size_t errsize)
{
	const char *cfile = CONF_FILE;
	int ch, debug = 0, explicit_file = 0;
	char id[16];

	flags_given = flags;
	conf_defaults();
	while ((ch = getopt(argc, argv, "dVqf:o:")) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			keep("-d", NULL);
			break;
		case 'q':
			/* only a program with a queue to run takes -q */
			if (!(flags & DAEMON_QUEUE))
				usage(prog);
			queue_mode = 1;
			break;
		case 'V':
			printf("inetmail %s %s\n", prog, INETMAIL_VERSION);
			exit(0);
		case 'f':
			cfile = optarg;
			explicit_file = 1;
			keep("-f", optarg);
			break;
		case 'o':
			keep("-o", optarg);
			break;	/* applied after the file, below */
		default:
			usage(prog);
		}
	}
	if (optind != argc)
		usage(prog);
	log_open(prog, debug);
	if (conf_load(cfile, !explicit_file, err, errsize) == -1)
		return -1;
	optind = 1;
	while ((ch = getopt(argc, argv, "dVqf:o:")) != -1)
		if (ch == 'o' && conf_option(optarg, err, errsize) == -1)
			return -1;
	conf_finish();
	signal(SIGPIPE, SIG_IGN);
	/* A launcher may leave SIGCHLD ignored; then waitpid could not work. */
	signal(SIGCHLD, SIG_DFL);

	make_id(id, sizeof(id));
	log_set_id(id);
	if (queue_mode) {
		/* fd 0 is no client (a timer, cron or runner_kick) */
		str_copy(peer->addr, sizeof(peer->addr), "pipe");
		str_copy(peer->name, sizeof(peer->name), "[local]");
		return 0;
	}
	peer_of_fd0(peer);
	log_info("connect ip=%s", peer->addr);
	return 0;
}

int
daemon_tls_init(char *err, size_t errsize)
{
	struct tls_server_conf tc = {
		.mode = conf.tls,
		.cert = conf.tls_cert,
		.key = conf.tls_key,
		.min_version = conf.tls_min_version,
		.ciphers = conf.tls_ciphers,
		.ciphersuites = conf.tls_ciphersuites,
	};

	return tls_server_init(&tc, err, errsize);
}
