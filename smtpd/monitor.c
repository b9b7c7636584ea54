/*
 * monitor.c - the root half of smtpd. It parses nothing from the network:
 * it answers length-checked frames from its session child (may ADDRESS
 * receive? is this login right? deliver this fd to these recipients) and
 * forks one delivery child per local account, which drops to that account
 * before it touches the Maildir. A message is acknowledged only when every
 * copy is safe; a partial failure undoes the copies already made.
 *
 * The monitor is the authority on who may do what: it checks AUTH through
 * PAM (auth_pam.c, with the throttle), remembers who logged in, and knows
 * the client's real address, so it alone decides relaying (authenticated,
 * or a client in trusted_networks) and whether a sender belongs to the
 * authenticated user. Remote recipients, and alias targets in other
 * domains, go into the relay queue first, through a child running as
 * unpriv_user; then the local copies are made; a failed local copy takes
 * the queued record back out.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth_pam.h"
#include "conf.h"
#include "deliver.h"
#include "dnsbl.h"
#include "greylist.h"
#include "index.h"
#include "log.h"
#include "maildir.h"
#include "params.h"
#include "privsep.h"
#include "queue.h"
#include "smtpd.h"
#include "netaddr.h"
#include "throttle.h"
#include "tls_server.h"
#include "util.h"

/* What the monitor knows of its client, not the session's word. */
static char ip[INET6_ADDRSTRLEN];	/* "pipe" when no socket */
static int trusted;		/* ip in trusted_networks: may relay */
static char auth_user[USER_NAME_MAX + 1];	/* "" until AUTH succeeded */
static unsigned auth_fails;

static int
answer(int fd, uint32_t status, const char *detail)
{
	struct ps_frame f;

	ps_init(&f, status);
	if (ps_put_str(&f, detail) == -1)
		return -1;
	return ps_send(fd, &f, -1);
}

static int
submission(void)
{
	return strcmp(conf.role, "submission") == 0;
}

/* Relaying: for a client that authenticated or is in trusted_networks. */
static int
may_relay(void)
{
	return auth_user[0] != '\0' || trusted;
}

/*
 * The client's address as the monitor sees it (getpeername on the client
 * socket, not the session's word): "pipe" when it is no socket (or there
 * is no client), which relaying, greylisting, DNSBL and the throttle then
 * treat as such.
 */
static void
client_addr(int fd, char *out, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	str_copy(out, size, "pipe");
	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
		return;
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out,
		    (socklen_t)size);
	else if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
		    out, (socklen_t)size);
}

/*
 * The answer to REQ_TX_RCPT: a remote recipient needs a client that may
 * relay; a local one must exist, then greylisting (not for a client that
 * authenticated).
 */
static void
tx_rcpt(int fd, const char *addr, const char *sender)
{
	struct resolved *found;
	char secs[32];
	int64_t wait;
	int n;

	if (rcpt_is_remote(addr)) {
		if (!may_relay()) {
			log_info("event=relay_denied ip=%s to=<%s>", ip, pr(addr));
			answer(fd, ANS_RELAY, "");
		} else
			answer(fd, ANS_OK, "");
		return;
	}
	if ((n = rcpt_resolve(addr, &found)) <= 0) {
		answer(fd, n == 0 ? ANS_NOUSER : ANS_TEMP, "");
		return;
	}
	if (auth_user[0] == '\0' && (wait = grey_check(ip, sender, addr)) > 0) {
		str_fmt(secs, sizeof(secs), "%lld", (long long)wait);
		answer(fd, ANS_GREYLISTED, secs);
		return;
	}
	answer(fd, ANS_OK, "");
}

/*
 * sender_check (role submission): the null sender, or an address in a
 * local domain that resolves to exactly the authenticated account (its
 * +tag forms and aliases of it alone included).
 */
static uint32_t
sender_verdict(const char *addr)
{
	struct resolved *found;
	int n;

	if (addr[0] == '\0')
		return ANS_OK;	/* bounces and receipts, as Postfix allows */
	if (auth_user[0] == '\0' || strchr(addr, '@') == NULL ||
	    rcpt_is_remote(addr))
		return ANS_NOT_OWNER;
	if ((n = rcpt_resolve(addr, &found)) < 0)
		return ANS_TEMP;
	if (n == 1 && found->nusers == 1 &&
	    strcmp(found->users[0].name, auth_user) == 0)
		return ANS_OK;
	return ANS_NOT_OWNER;
}

/* May the session deliver from sender now (checked again at DELIVER: the
 * session's earlier word is not enough)? */
static int
sender_allowed(const char *sender)
{
	if (!submission())
		return 1;
	if (auth_user[0] == '\0')
		return 0;
	return !conf.sender_check || sender_verdict(sender) == ANS_OK;
}

/* Reads a REQ_AUTH frame; -1 malformed. */
static int
read_auth(struct ps_frame *f, char *user, char *pass, uint32_t *len,
    char *mech)
{
	if (ps_get_str(f, user, USER_NAME_MAX + 1) == -1 ||
	    ps_get_u32(f, len) == -1 || *len > SMTP_PASS_MAX ||
	    ps_get_bytes(f, pass, *len) == -1 ||
	    ps_get_str(f, mech, 16) == -1 || !ps_done(f))
		return -1;
	return strcmp(mech, "PLAIN") == 0 || strcmp(mech, "LOGIN") == 0 ? 0 : -1;
}

/* One AUTH request: -1 when the session had no business sending it. */
static int
do_auth(int fd, struct ps_frame *f, int in_tls)
{
	char user[USER_NAME_MAX + 1], pass[SMTP_PASS_MAX + 1], mech[16];
	struct mailuser u;
	uint32_t len;
	int r;

	/* the session offers AUTH only on submission, once, after TLS when
	 * required, and stops after SMTP_AUTH_TRIES failures */
	if (!submission() || auth_user[0] != '\0' ||
	    auth_fails >= SMTP_AUTH_TRIES || (conf.auth_require_tls &&
	    tls_mode() != TLS_IMPLICIT && !in_tls) ||
	    read_auth(f, user, pass, &len, mech) == -1) {
		explicit_bzero(pass, sizeof(pass));
		explicit_bzero(f->data, sizeof(f->data));
		return -1;
	}
	r = auth_password(ip, user, pass, len, mech, &u);
	explicit_bzero(pass, sizeof(pass));
	explicit_bzero(f->data, sizeof(f->data));
	switch (r) {
	case AUTHP_OK:
		str_copy(auth_user, sizeof(auth_user), u.name);
		answer(fd, ANS_OK, auth_user);
		break;
	case AUTHP_TEMP:
		answer(fd, ANS_TEMP, "");
		break;
	case AUTHP_REFUSED:
		answer(fd, ANS_AUTH_BLOCKED, "");
		break;
	default:
		auth_fails++;
		answer(fd, ANS_AUTH_FAIL, "");
	}
	return 0;
}

void
monitor_run(int fd, int client_fd, pid_t child)
{
	struct ps_frame f;
	char addr[SMTP_PATH_MAX + 1], sender[MSG_SENDER_MAX + 1], id[32];
	char zone[256] = "";
	int status, in_tls = 0, listed = 0;
	uint32_t ans;

	if (client_fd >= 0)
		close(0);	/* fd 1 stays, for the 421 below */
	client_addr(client_fd, ip, sizeof(ip));
	trusted = strcmp(ip, "pipe") != 0 &&
	    netaddr_in(ip, conf.trusted_networks, "trusted_networks");
	auth_user[0] = '\0';
	auth_fails = 0;
	/* DNSBL now, while the session waits for greet_delay or TLS; the
	 * session asks for the verdict (REQ_CONNECT) before its greeting */
	if (client_fd >= 0 && !dnsbl_exempt(ip) &&
	    dnsbl_zone(dnsbl_check(ip), zone, sizeof(zone)) == 0)
		listed = strcmp(conf.dnsbl_action, "log") != 0;
	for (;;) {
		struct resolved *found;
		int n;

		if (ps_recv(fd, &f, -1) == -1)
			break;
		switch (f.type) {
		case REQ_RCPT:
		case REQ_EXPN:
			if (ps_get_str(&f, addr, sizeof(addr)) == -1 || !ps_done(&f))
				goto bad;
			n = rcpt_resolve(addr, &found);
			if (n > 0 && f.type == REQ_EXPN) {
				char list[1024] = "";
				size_t i;

				/* accounts as names, forwarding as addresses */
				for (i = 0; i < found->nusers + found->nremote; i++) {
					size_t len = strlen(list);

					str_fmt(list + len, sizeof(list) - len, "%s%s",
					    i ? " " : "", i < found->nusers ?
					    found->users[i].name :
					    found->remote[i - found->nusers]);
				}
				answer(fd, ANS_OK, list);
			} else
				answer(fd, n > 0 ? ANS_OK : n == 0 ? ANS_NOUSER :
				    ANS_TEMP, "");
			break;
		case REQ_TX_RCPT:
			if (ps_get_str(&f, addr, sizeof(addr)) == -1 ||
			    ps_get_str(&f, sender, sizeof(sender)) == -1 ||
			    !ps_done(&f))
				goto bad;
			tx_rcpt(fd, addr, sender);
			break;
		case REQ_CONNECT:
			if (!ps_done(&f))
				goto bad;
			if (listed)
				log_info("event=dnsbl_reject ip=%s zone=%s", ip,
				    zone);
			answer(fd, listed ? ANS_BLOCKED : ANS_OK, zone);
			break;
		case REQ_AUTH:
			if (do_auth(fd, &f, in_tls) == -1)
				goto bad;
			break;
		case REQ_SENDER:
			if (ps_get_str(&f, addr, sizeof(addr)) == -1 || !ps_done(&f))
				goto bad;
			ans = sender_verdict(addr);
			if (ans == ANS_NOT_OWNER)
				log_info("event=sender_rejected ip=%s user=%s "
				    "from=<%s>", ip, auth_user, pr(addr));
			answer(fd, ans, auth_user);
			break;
		case REQ_DELIVER_RCPT:
			if (ps_get_str(&f, addr, sizeof(addr)) == -1 || !ps_done(&f))
				goto bad;
			/* No answer: DELIVER answers for all recipients. */
			if ((ans = delivery_add(addr, may_relay())) != ANS_OK)
				log_warnx("recipient %s accepted at RCPT but %s now",
				    pr(addr), ans == ANS_RELAY ? "not relayable" :
				    "not resolvable");
			break;
		case REQ_TLS:
			if (!ps_done(&f))
				goto bad;
			in_tls = 1;
			/* RFC 3207 4.2: nothing from before TLS counts */
			auth_user[0] = '\0';
			break;
		case REQ_DELIVER:
			if (f.fd == -1 ||
			    ps_get_str(&f, sender, sizeof(sender)) == -1 ||
			    ps_get_str(&f, id, sizeof(id)) == -1 || !ps_done(&f))
				goto bad;
			if (!sender_allowed(sender)) {
				log_warnx("msgid=%s from=<%s> refused: not "
				    "authenticated for it", pr(id), pr(sender));
				delivery_reset();
				ans = ANS_TEMP;
			} else
				ans = delivery_run(f.fd, sender, id, auth_user);
			close(f.fd);
			answer(fd, ans, "");
			break;
		default:
			goto bad;
		}
	}
	goto out;
bad:
	log_warnx("monitor: bad request type %u from session, closing",
	    (unsigned)f.type);
	if (f.fd != -1)
		close(f.fd);
	kill(child, SIGKILL);
out:
	status = 0;
	while (waitpid(child, &status, 0) == -1 && errno == EINTR)
		;
	if (WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0)) {
		static const char msg[] = "421 4.3.0 Internal error, closing connection\r\n";

		log_warnx("session failed: %s %d", WIFSIGNALED(status) ?
		    "signal" : "exit status", WIFSIGNALED(status) ?
		    WTERMSIG(status) : WEXITSTATUS(status));
		/* A plaintext reply is only right on a plaintext connection. */
		if (client_fd >= 0 && !in_tls && tls_mode() != TLS_IMPLICIT)
			(void)write_all(client_fd, msg, sizeof(msg) - 1);
	}
}
