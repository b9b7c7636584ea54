/*
 * pop3d.c - entry point and root monitor. The client is fd 0 and fd 1
 * (inetd style). The monitor parses nothing from the network: it answers
 * one length-checked request from the unprivileged pre-auth child,
 * AUTH(user, password), through PAM, and on success starts the post-auth
 * child as that user on the same client fds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth_pam.h"
#include "conf.h"
#include "log.h"
#include "params.h"
#include "pop3d.h"
#include "privsep.h"
#include "util.h"

static void
usage(void)
{
	fprintf(stderr, "usage: pop3d [-dV] [-f file] [-o key=value]\n");
	exit(2);
}

static void
peer_of_fd0(struct peer *p)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char ip[INET6_ADDRSTRLEN];

	str_copy(p->addr, sizeof(p->addr), "pipe");
	if (getpeername(0, (struct sockaddr *)&ss, &len) == -1)
		return;
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof(ip));
	else if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof(ip));
	else
		return;
	str_copy(p->addr, sizeof(p->addr), ip);
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

static int
wait_child(pid_t pid, const char *what)
{
	int status = 0;

	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	if (WIFSIGNALED(status)) {
		static const char msg[] = "-ERR [SYS/TEMP] Internal error, closing connection\r\n";

		log_warnx("%s child died with signal %d", what, WTERMSIG(status));
		(void)write_all(1, msg, sizeof(msg) - 1);
		return -1;
	}
	return 0;
}

/*
 * One login attempt. Every failure, whatever its cause, returns only after
 * auth_fail_delay from the start of the attempt.
 */
static uint32_t
authenticate(const char *user, const char *pass, size_t passlen,
    const char *mech, const struct peer *peer, struct mailuser *u)
{
	uint64_t start = now_ms();
	char canon[USER_NAME_MAX + 1];
	const char *why = "bad_password";
	int r;

	if (!user_name_ok(user)) {
		why = "bad_name";
		r = AUTHP_PERM;
	} else
		r = auth_pam(conf.pam_service, user, pass, passlen, peer->addr,
		    canon, sizeof(canon));
	if (r == AUTHP_OK) {
		switch (user_lookup(canon, u)) {
		case 0:
			if (u->uid < conf.min_uid || u->uid == 0) {
				why = "uid_below_min_uid";
				r = AUTHP_PERM;
			}
			break;
		case 1:
			why = "no_account";
			r = AUTHP_PERM;
			break;
		default:
			why = "account_lookup";
			r = AUTHP_TEMP;
		}
	} else if (r == AUTHP_TEMP)
		why = "pam_error";
	if (r == AUTHP_OK) {
		log_info("login user=%s ip=%s method=%s status=ok", u->name,
		    peer->addr, mech);
		return ANS_OK;
	}
	auth_fail_wait(start, conf.auth_fail_delay);
	log_info("login user=%s ip=%s method=%s status=%s reason=%s",
	    pr(user), peer->addr, mech, r == AUTHP_TEMP ? "tempfail" : "failed",
	    why);
	return r == AUTHP_TEMP ? ANS_TEMP : ANS_PERM;
}

static void
answer(int fd, uint32_t type)
{
	struct ps_frame f;

	ps_init(&f, type);
	(void)ps_send(fd, &f, -1);
}

/* Starts the post-auth child as u; returns after it ended. */
static void
post_auth(const struct mailuser *u, int leftover, const char *mech,
    const struct peer *peer)
{
	pid_t pid;

	if ((pid = fork()) == -1) {
		static const char msg[] = "-ERR [SYS/TEMP] Cannot start session\r\n";

		log_warn("fork");
		(void)write_all(1, msg, sizeof(msg) - 1);
		return;
	}
	if (pid == 0) {
		priv_drop(u->name, u->uid, u->gid, NULL, 0);
		session_run(u, leftover, mech, peer->addr);
		_exit(0);
	}
	if (leftover != -1)
		close(leftover);
	close(0);
	(void)wait_child(pid, "session");
}

static void
monitor_run(int fd, pid_t child, const struct peer *peer)
{
	struct ps_frame f;
	struct mailuser u;
	char user[USER_NAME_MAX + 1], mech[16], pass[POP3_PASS_MAX + 1];
	unsigned tries = 0;
	uint32_t len, ans;

	for (;;) {
		if (ps_recv(fd, &f, -1) == -1)
			break;	/* the pre-auth child is gone */
		if (f.type != REQ_AUTH || ++tries > POP3_AUTH_TRIES ||
		    ps_get_str(&f, user, sizeof(user)) == -1 ||
		    ps_get_u32(&f, &len) == -1 || len > POP3_PASS_MAX ||
		    ps_get_bytes(&f, pass, len) == -1 ||
		    ps_get_str(&f, mech, sizeof(mech)) == -1 || !ps_done(&f)) {
			log_warnx("monitor: bad request type %u from session, "
			    "closing", (unsigned)f.type);
			if (f.fd != -1)
				close(f.fd);
			kill(child, SIGKILL);
			break;
		}
		ans = authenticate(user, pass, len, mech, peer, &u);
		explicit_bzero(pass, sizeof(pass));
		explicit_bzero(f.data, sizeof(f.data));
		answer(fd, ans);
		if (ans != ANS_OK) {
			if (f.fd != -1)
				close(f.fd);
			continue;
		}
		/* the pre-auth child exits without touching the client again */
		close(fd);
		if (wait_child(child, "pre-auth") == -1) {
			if (f.fd != -1)
				close(f.fd);
			return;
		}
		post_auth(&u, f.fd, mech, peer);
		return;
	}
	close(fd);
	(void)wait_child(child, "pre-auth");
}

int
main(int argc, char *argv[])
{
	const char *cfile = CONF_FILE;
	int ch, debug = 0, explicit_file = 0, sv[2];
	char err[256], id[16];
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
			printf("inetmail pop3d %s\n", INETMAIL_VERSION);
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
	log_open("pop3d", debug);
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

	if ((pw = getpwnam(conf.unpriv_user)) == NULL)
		goto unavailable_user;
	if (ps_pair(sv) == -1)
		fatal("socketpair");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		close(sv[0]);
		priv_drop(pw->pw_name, pw->pw_uid, pw->pw_gid, conf.chroot_dir, 0);
		preauth_run(sv[1]);
		_exit(0);
	}
	close(sv[1]);
	monitor_run(sv[0], pid, &peer);
	return 0;

conf_error:
	log_warnx("configuration: %s", err);
	printf("-ERR [SYS/PERM] Service not available: configuration error\r\n");
	return 1;
unavailable_user:
	log_warnx("unpriv_user %s: no such account", pr(conf.unpriv_user));
	printf("-ERR [SYS/PERM] Service not available: configuration error\r\n");
	return 1;
}
