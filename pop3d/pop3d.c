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
#include <security/pam_appl.h>
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
#include "tls.h"
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

/*
 * The account checks every login method shares, once the credentials are
 * right: an account that exists, not root, uid >= min_uid. Returns AUTHP_*.
 */
static int
account_check(const char *name, struct mailuser *u, const char **why)
{
	switch (user_lookup(name, u)) {
	case 0:
		if (u->uid < conf.min_uid || u->uid == 0) {
			*why = "uid_below_min_uid";
			return AUTHP_PERM;
		}
		return AUTHP_OK;
	case 1:
		*why = "no_account";
		return AUTHP_PERM;
	default:
		*why = "account_lookup";
		return AUTHP_TEMP;
	}
}

/* Ends one attempt: logs it, and a failure returns only after
 * auth_fail_delay from start. */
static uint32_t
conclude(int r, const char *why, const char *user, const struct mailuser *u,
    const char *mech, const struct peer *peer, uint64_t start)
{
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
	if (r == AUTHP_OK)
		r = account_check(canon, u, &why);
	else if (r == AUTHP_TEMP)
		why = "pam_error";
	return conclude(r, why, user, u, mech, peer, start);
}

/* PAM conversation for pam_acct_mgmt alone: messages are accepted, any
 * prompt ends the attempt (there is no password to answer with). */
static int
acct_conv(int n, const struct pam_message **msg, struct pam_response **resp,
    void *arg)
{
	int i;

	(void)arg;
	*resp = NULL;
	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	for (i = 0; i < n; i++)
		if (msg[i]->msg_style != PAM_ERROR_MSG &&
		    msg[i]->msg_style != PAM_TEXT_INFO)
			return PAM_CONV_ERR;
	if ((*resp = calloc((size_t)n, sizeof(**resp))) == NULL)
		return PAM_BUF_ERR;
	return PAM_SUCCESS;
}

/*
 * pam_acct_mgmt for an APOP login: the account rules (expired, locked,
 * pam_access, ...) apply as they do after pam_authenticate for USER/PASS.
 * Returns AUTHP_*.
 */
static int
pam_account(const char *user, const char *rhost)
{
	struct pam_conv pc = { acct_conv, NULL };
	pam_handle_t *h = NULL;
	int r;

	if ((r = pam_start(conf.pam_service, user, &pc, &h)) != PAM_SUCCESS) {
		log_warnx("pam_start %s: error %d", pr(conf.pam_service), r);
		return AUTHP_TEMP;
	}
	(void)pam_set_item(h, PAM_RHOST, rhost);
	r = pam_acct_mgmt(h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (r != PAM_SUCCESS)
		log_debug("pam acct_mgmt: %s", pam_strerror(h, r));
	pam_end(h, r);
	switch (r) {
	case PAM_SUCCESS:
		return AUTHP_OK;
	case PAM_USER_UNKNOWN:
	case PAM_AUTH_ERR:
	case PAM_PERM_DENIED:
	case PAM_ACCT_EXPIRED:
	case PAM_AUTHTOK_EXPIRED:
	case PAM_NEW_AUTHTOK_REQD:
		return AUTHP_PERM;
	default:
		return AUTHP_TEMP;
	}
}

/*
 * One APOP attempt (RFC 1939 7): MD5(ts || secret) from apop_db against
 * digest, in constant time, then the same account checks and the same
 * failure delay as authenticate(). A user without a secret costs a digest
 * too, and the delay hides the rest.
 */
static uint32_t
authenticate_apop(const char *user, const char *digest, const char *ts,
    const struct peer *peer, struct mailuser *u)
{
	uint64_t start = now_ms();
	char secret[APOP_SECRET_MAX];
	const char *why = "bad_digest";
	size_t slen = 0;
	int r = AUTHP_PERM;

	if (!user_name_ok(user))
		why = "bad_name";
	else {
		switch (apop_get(conf.apop_db, user, secret, sizeof(secret), &slen)) {
		case 0:
			if (apop_check(ts, secret, slen, digest))
				r = AUTHP_OK;
			break;
		case 1:
			(void)apop_check(ts, "", 0, digest);
			why = "no_apop_secret";
			break;
		default:
			why = "apop_db";
			r = AUTHP_TEMP;
		}
		explicit_bzero(secret, sizeof(secret));
	}
	if (r == AUTHP_OK && (r = account_check(user, u, &why)) == AUTHP_OK &&
	    (r = pam_account(user, peer->addr)) != AUTHP_OK)
		why = r == AUTHP_TEMP ? "pam_error" : "pam_account";
	return conclude(r, why, user, u, "APOP", peer, start);
}

static void
answer(int fd, uint32_t type)
{
	struct ps_frame f;

	ps_init(&f, type);
	(void)ps_send(fd, &f, -1);
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
	int out = proxy >= 0 ? proxy : 1, client2 = 0;
	struct stat s0, s2;
	pid_t pid;

	if (fstat(0, &s0) == 0 && fstat(2, &s2) == 0 && S_ISSOCK(s2.st_mode) &&
	    s0.st_dev == s2.st_dev && s0.st_ino == s2.st_ino)
		client2 = 1;
	if (proxy >= 0) {
		close(0);
		close(1);
	}
	if ((pid = fork()) == -1) {
		static const char msg[] = "-ERR [SYS/TEMP] Cannot start session\r\n";

		log_warn("fork");
		(void)write_all(out, msg, sizeof(msg) - 1);
		return;
	}
	if (pid == 0) {
		if (proxy >= 0 && (dup2(proxy, 0) == -1 || dup2(proxy, 1) == -1))
			fatal("dup2");
		if (proxy >= 0)
			close(proxy);
		/* under inetd fd 2 is the client socket: not for this process */
		if (proxy >= 0 && client2) {
			int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

			if (null == -1 || dup2(null, 2) == -1)
				fatal("/dev/null");
			close(null);
		}
		priv_drop(u->name, u->uid, u->gid, NULL, 0);
		session_run(u, leftover, mech, peer->addr);
		_exit(0);
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
	case REQ_AUTH:
		return ps_get_str(f, user, USER_NAME_MAX + 1) == -1 ||
		    ps_get_u32(f, len) == -1 || *len > POP3_PASS_MAX ||
		    ps_get_bytes(f, pass, *len) == -1 ||
		    ps_get_str(f, mech, 16) == -1 || !ps_done(f) ? -1 : 0;
	case REQ_APOP:
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
	struct thr_verdict tv;
	uint32_t len, ans;

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
		thr_auth_check(peer->addr, user, &tv);
		if (tv.refuse)
			ans = ANS_DELAY;
		else {
			/* the penalty comes before the check, so a client
			 * cannot learn the verdict early by timing out */
			if (tv.delay_ms > 0)
				sleep_ms(tv.delay_ms);
			if (f.type == REQ_APOP)
				ans = authenticate_apop(user, digest, apop_ts,
				    peer, &u);
			else
				ans = authenticate(user, pass, len, mech, peer,
				    &u);
			if (ans != ANS_TEMP)
				thr_auth_result(peer->addr, user, ans == ANS_OK);
		}
		explicit_bzero(pass, sizeof(pass));
		explicit_bzero(f.data, sizeof(f.data));
		answer(fd, ans);
		if (ans != ANS_OK) {
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

int
main(int argc, char *argv[])
{
	int sv[2];
	char err[256], apop_ts[APOP_TS_MAX];
	const char *why;
	struct passwd *pw;
	struct peer peer;
	pid_t pid;

	if (daemon_start(argc, argv, "pop3d", &peer, err, sizeof(err)) == -1)
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
	if (tls_server_init(err, sizeof(err)) == -1)
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
	if (ps_pair(sv) == -1)
		fatal("socketpair");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		close(sv[0]);
		priv_drop(pw->pw_name, pw->pw_uid, pw->pw_gid, conf.chroot_dir, 0);
		preauth_run(sv[1], conf.apop ? apop_ts : NULL);
		_exit(0);
	}
	close(sv[1]);
	tls_server_free();	/* the monitor never speaks TLS */
	monitor_run(sv[0], pid, &peer, conf.apop ? apop_ts : NULL);
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
