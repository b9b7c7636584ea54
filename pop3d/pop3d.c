/*
 * pop3d.c - entry point and root monitor. The client is fd 0 and fd 1
 * (inetd style). The monitor parses nothing from the network: it answers
 * one length-checked request from the unprivileged pre-auth child,
 * AUTH(user, password) through PAM, or APOP(user, digest, timestamp)
 * against apop_db, and on success starts the post-auth child as that user
 * on the same client fds.
 *
 * TLS: the certificate and key are loaded here, before the fork, and the
 * pre-auth child inherits the context. After a login over TLS the pre-auth
 * child keeps the TLS session and becomes a proxy: it sends a socketpair
 * end instead of the leftover memfd, and the post-auth child gets that
 * socket as its fd 0 and 1 (Dovecot's model). A plain connection's client
 * fd goes to the post-auth child directly, as before.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apop.h"
#include "auth_pam.h"
#include "conf.h"
#include "daemon.h"
#include "log.h"
#include "params.h"
#include "pop3d.h"
#include "privsep.h"
#include "throttle.h"
#include "tls_server.h"
#include "util.h"

/* Waits for pid; a death by signal is logged and, when errfd >= 0,
 * told to the client on errfd. */
static int
wait_child(pid_t pid, const char *what, int errfd)
{
	int status = 0;

	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	if (WIFSIGNALED(status)) {
		static const char msg[] = "-ERR [SYS/TEMP] Internal error, closing connection\r\n";

		log_warnx("%s child died with signal %d", what, WTERMSIG(status));
		if (errfd >= 0)
			(void)write_all(errfd, msg, sizeof(msg) - 1);
		return -1;
	}
	return 0;
}

/* APOP (RFC 1939 7), the credential check of auth_attempt. */
struct apop_req {
	const char	*digest;
	const char	*ts;
	const char	*ip;
};

/*
 * MD5(ts || secret) from apop_db against the digest, in constant time, then
 * the account checks, the password entry's lock and aging as PASS would
 * meet them (pam_unix's pam_acct_mgmt passes a locked account) and
 * pam_acct_mgmt. A user without a secret costs a digest too, and
 * auth_attempt's failure delay hides the rest.
 */
static int
apop_verify(void *arg, const char *user, struct mailuser *u, const char **why)
{
	struct apop_req *a = arg;
	char secret[APOP_SECRET_MAX];
	size_t slen = 0;
	int r = AUTHP_PERM;

	*why = "bad_digest";
	switch (apop_get(conf.apop_db, user, secret, sizeof(secret), &slen)) {
	case 0:
		if (apop_check(a->ts, secret, slen, a->digest))
			r = AUTHP_OK;
		break;
	case 1:
		(void)apop_check(a->ts, "", 0, a->digest);
		*why = "no_apop_secret";
		break;
	default:
		*why = "apop_db";
		r = AUTHP_TEMP;
	}
	explicit_bzero(secret, sizeof(secret));
	if (r == AUTHP_OK && (r = auth_account_check(user, u, why)) == AUTHP_OK &&
	    (r = auth_password_usable(u->name, why)) == AUTHP_OK &&
	    (r = auth_pam_account(conf.pam_service, user, a->ip)) != AUTHP_OK)
		*why = r == AUTHP_TEMP ? "pam_error" : "pam_account";
	return r;
}

static void
answer(int fd, uint32_t type)
{
	struct ps_frame f;

	ps_init(&f, type);
	(void)ps_send(fd, &f, -1);
}

struct post_auth_args {
	const struct mailuser *u;
	int		 leftover, proxy, client2;
	const char	*mech;
	const struct peer *peer;
};

/* The post-auth child, as the user: the proxy socket (if any) becomes
 * its fd 0 and 1. */
static int
post_auth_child(int unused, void *arg)
{
	struct post_auth_args *a = arg;

	(void)unused;
	if (a->proxy >= 0 && (dup2(a->proxy, 0) == -1 || dup2(a->proxy, 1) == -1))
		fatal("dup2");
	if (a->proxy >= 0)
		close(a->proxy);
	/* under inetd fd 2 is the client socket: not for this process */
	if (a->proxy >= 0 && a->client2) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (null == -1 || dup2(null, 2) == -1)
			fatal("/dev/null");
		close(null);
	}
	maildrop_run(a->u, a->leftover, a->mech, a->peer->addr);
	return 0;
}

/*
 * Starts the post-auth child as u; returns after it ended. proxy >= 0 is
 * the socket to the TLS pre-auth child, which becomes the child's fd 0
 * and 1 (the client's own fds stay with the proxy); else the child gets
 * the client fds and the leftover input.
 */
static void
post_auth(const struct mailuser *u, int leftover, int proxy, const char *mech,
    const struct peer *peer)
{
	struct post_auth_args a = { u, leftover, proxy, 0, mech, peer };
	int out = proxy >= 0 ? proxy : 1;
	struct stat s0, s2;
	pid_t pid;

	if (fstat(0, &s0) == 0 && fstat(2, &s2) == 0 && S_ISSOCK(s2.st_mode) &&
	    s0.st_dev == s2.st_dev && s0.st_ino == s2.st_ino)
		a.client2 = 1;
	if (proxy >= 0) {
		close(0);
		close(1);
	}
	if ((pid = ps_spawn(u->name, u->uid, u->gid, NULL, 0, post_auth_child,
	    &a, NULL)) == -1) {
		static const char msg[] = "-ERR [SYS/TEMP] Cannot start session\r\n";

		(void)write_all(out, msg, sizeof(msg) - 1);
		return;
	}
	if (leftover != -1)
		close(leftover);
	close(0);
	(void)wait_child(pid, "session", out);
}

/*
 * Reads one login request into its fields; 0 ok, -1 malformed (or APOP
 * when it is off, or for a timestamp that is not this greeting's).
 */
static int
read_request(struct ps_frame *f, const char *apop_ts, char *user,
    char *pass, uint32_t *len, char *mech, char *digest)
{
	char ts[APOP_TS_MAX];

	switch (f->type) {
	case POP_REQ_AUTH:
		return ps_get_str(f, user, USER_NAME_MAX + 1) == -1 ||
		    ps_get_u32(f, len) == -1 || *len > POP3_PASS_MAX ||
		    ps_get_bytes(f, pass, *len) == -1 ||
		    ps_get_str(f, mech, 16) == -1 || !ps_done(f) ? -1 : 0;
	case POP_REQ_APOP:
		if (apop_ts == NULL ||
		    ps_get_str(f, user, USER_NAME_MAX + 1) == -1 ||
		    ps_get_str(f, digest, APOP_DIGEST_LEN + 1) == -1 ||
		    ps_get_str(f, ts, sizeof(ts)) == -1 || !ps_done(f) ||
		    !apop_digest_syntax_ok(digest) || strcmp(ts, apop_ts) != 0)
			return -1;
		str_copy(mech, 16, "APOP");
		*len = 0;
		return 0;
	default:
		return -1;
	}
}

static void
monitor_run(int fd, pid_t child, const struct peer *peer, const char *apop_ts)
{
	struct ps_frame f;
	struct mailuser u;
	char user[USER_NAME_MAX + 1], mech[16], pass[POP3_PASS_MAX + 1];
	char digest[APOP_DIGEST_LEN + 1];
	unsigned tries = 0;
	/* plaintext on an implicit TLS connection would only be noise */
	int errfd = tls_mode() == TLS_IMPLICIT ? -1 : 1;
	struct stat st;
	uint32_t len, ans;
	int r;

	for (;;) {
		if (ps_recv(fd, &f, -1) == -1)
			break;	/* the pre-auth child is gone */
		if (++tries > POP3_AUTH_TRIES || read_request(&f, apop_ts,
		    user, pass, &len, mech, digest) == -1) {
			log_warnx("monitor: bad request type %u from session, "
			    "closing", (unsigned)f.type);
			explicit_bzero(pass, sizeof(pass));
			explicit_bzero(f.data, sizeof(f.data));
			if (f.fd != -1)
				close(f.fd);
			kill(child, SIGKILL);
			break;
		}
		if (f.type == POP_REQ_APOP) {
			struct apop_req a = { digest, apop_ts, peer->addr };

			r = auth_attempt(peer->addr, user, "APOP", apop_verify,
			    &a, &u);
		} else
			r = auth_password(peer->addr, user, pass, len, mech, &u);
		ans = r == AUTHP_OK ? POP_ANS_OK : r == AUTHP_TEMP ?
		    POP_ANS_TEMP : r == AUTHP_REFUSED ? POP_ANS_DELAY :
		    POP_ANS_PERM;
		explicit_bzero(pass, sizeof(pass));
		explicit_bzero(f.data, sizeof(f.data));
		answer(fd, ans);
		if (ans != POP_ANS_OK) {
			if (f.fd != -1)
				close(f.fd);
			continue;
		}
		close(fd);
		if (f.fd != -1 && fstat(f.fd, &st) == 0 && S_ISSOCK(st.st_mode)) {
			/* TLS: the pre-auth child stays on as the proxy */
			post_auth(&u, -1, f.fd, mech, peer);
			close(f.fd);
			(void)wait_child(child, "pre-auth", -1);
			return;
		}
		/* the pre-auth child exits without touching the client again */
		if (wait_child(child, "pre-auth", errfd) == -1) {
			if (f.fd != -1)
				close(f.fd);
			return;
		}
		post_auth(&u, f.fd, -1, mech, peer);
		return;
	}
	close(fd);
	(void)wait_child(child, "pre-auth", errfd);
}

/* The pre-auth child, in chroot_dir as unpriv_user. */
static int
preauth_child(int monitor_fd, void *apop_ts)
{
	preauth_run(monitor_fd, apop_ts);
	return 0;
}

int
main(int argc, char *argv[])
{
	int fd;
	char err[256], apop_ts[APOP_TS_MAX];
	const char *why;
	struct passwd *pw;
	struct peer peer;
	pid_t pid;

	if (daemon_start(argc, argv, "pop3d", 0, &peer, err, sizeof(err)) == -1)
		goto conf_error;
	/*
	 * The APOP timestamp is made here, before the fork, so the monitor
	 * checks digests against its own copy: a subverted pre-auth child
	 * cannot pick a timestamp to replay a digest it sniffed elsewhere.
	 */
	if (conf.apop && apop_timestamp(apop_ts, sizeof(apop_ts),
	    conf.hostname) == -1)
		fatalx("apop timestamp");

	/* The key is read here, as root, and never after the drop. */
	if (daemon_tls_init(err, sizeof(err)) == -1)
		goto tls_error;
	/* Per-address limits, here since inetd enforces none of its own. */
	if (thr_conn_enter(peer.addr, getpid(), &why) == 1) {
		if (tls_mode() != TLS_IMPLICIT)	/* plaintext would be noise */
			printf("-ERR [SYS/TEMP] too many connections from your "
			    "address, try again later\r\n");
		return 1;
	}
	if ((pw = getpwnam(conf.unpriv_user)) == NULL)
		goto unavailable_user;
	if ((pid = ps_spawn(pw->pw_name, pw->pw_uid, pw->pw_gid,
	    conf.chroot_dir, 0, preauth_child, conf.apop ? apop_ts : NULL,
	    &fd)) == -1)
		fatalx("cannot start the pre-auth child");
	tls_server_free();	/* the monitor never speaks TLS */
	monitor_run(fd, pid, &peer, conf.apop ? apop_ts : NULL);
	thr_conn_leave(peer.addr, getpid());
	return 0;

conf_error:
	log_warnx("configuration: %s", err);
	printf("-ERR [SYS/PERM] Service not available: configuration error\r\n");
	return 1;
tls_error:
	log_warnx("tls configuration: %s", err);
	printf("-ERR [SYS/TEMP] Service not available: TLS configuration error\r\n");
	return 1;
unavailable_user:
	log_warnx("unpriv_user %s: no such account", pr(conf.unpriv_user));
	printf("-ERR [SYS/PERM] Service not available: configuration error\r\n");
	return 1;
}
