/*
 * monitor.c - the root half of smtpd. It parses nothing from the network
 * and does only root's work: it answers the short table of length-checked
 * requests below from its session child: AUTH through PAM (with the
 * throttle), recipient resolution and DELIVER (deliver.c: one child per
 * local account, the relay queue through unpriv_user), and the relay
 * decision, which it alone can make: it remembers who logged in and knows
 * the client's real address (relaying for an authenticated client or one
 * in trusted_networks; a submission sender must belong to the login).
 * The DNSBL lookup and greylisting run in the unprivileged policy child
 * (policy.c); the monitor takes a range-checked number from it and still
 * decides.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth_pam.h"
#include "conf.h"
#include "deliver.h"
#include "dnsbl.h"
#include "log.h"
#include "netaddr.h"
#include "params.h"
#include "privsep.h"
#include "smtpd.h"
#include "tls_server.h"
#include "util.h"

/* What the monitor knows of its client, not the session's word. */
static struct {
	char		 ip[64];	/* daemon_start's getpeername, or "pipe" */
	int		 trusted;	/* ip in trusted_networks: may relay */
	char		 auth_user[USER_NAME_MAX + 1];	/* "" until AUTH */
	unsigned	 auth_fails;
	int		 in_tls;
	struct policy	 policy;	/* DNSBL and greylisting */
} m;

/* A request as the dispatcher read it; the handler's answer detail. */
struct req {
	struct ps_frame	*f;
	char		 arg[2][PS_PAYLOAD_MAX + 1];
	char		 detail[1024];
};

/* Handler results besides the ANS_* answers. */
#define NO_ANSWER	0	/* the request has none */
#define BAD_REQUEST	1	/* the session had no business sending it */

static int
submission(void)
{
	return conf.role == ROLE_SUBMISSION;
}

/* Relaying: for a client that authenticated or is in trusted_networks. */
static int
may_relay(void)
{
	return m.auth_user[0] != '\0' || m.trusted;
}

/* RCPT outside a transaction (VRFY): may the address receive? */
static uint32_t
rq_rcpt(struct req *r)
{
	struct resolved *found;
	int n = rcpt_resolve(r->arg[0], &found);

	return n > 0 ? ANS_OK : n == 0 ? ANS_NOUSER : ANS_TEMP;
}

/* EXPN: the accounts as names, forwarding as addresses. */
static uint32_t
rq_expn(struct req *r)
{
	struct resolved *found;
	size_t i, len;
	int n;

	if ((n = rcpt_resolve(r->arg[0], &found)) <= 0)
		return n == 0 ? ANS_NOUSER : ANS_TEMP;
	for (i = 0; i < found->nusers + found->nremote; i++) {
		len = strlen(r->detail);
		str_fmt(r->detail + len, sizeof(r->detail) - len, "%s%s",
		    i ? " " : "", i < found->nusers ? found->users[i].name :
		    found->remote[i - found->nusers]);
	}
	return ANS_OK;
}

/* RCPT in a transaction: a remote recipient needs a client that may
 * relay; a local one must exist, then greylisting (unless logged in). */
static uint32_t
rq_tx_rcpt(struct req *r)
{
	const char *addr = r->arg[0];
	int64_t wait;
	uint32_t ans;

	if (rcpt_is_remote(addr)) {
		if (may_relay())
			return ANS_OK;
		log_info("event=relay_denied ip=%s to=<%s>", m.ip, pr(addr));
		return ANS_RELAY;
	}
	if ((ans = rq_rcpt(r)) != ANS_OK || m.auth_user[0] != '\0' ||
	    (wait = policy_grey(&m.policy, r->arg[1], addr)) <= 0)
		return ans;
	str_fmt(r->detail, sizeof(r->detail), "%lld", (long long)wait);
	return ANS_GREYLISTED;
}

/* Before the greeting: the DNSBL verdict. */
static uint32_t
rq_connect(struct req *r)
{
	unsigned n = policy_dnsbl(&m.policy);

	if (n == 0 || dnsbl_zone(n, r->detail, sizeof(r->detail)) == -1 ||
	    conf.dnsbl_action == DNSBL_LOG)
		return ANS_OK;
	log_info("event=dnsbl_reject ip=%s zone=%s", m.ip, r->detail);
	return ANS_BLOCKED;
}

/* sender_check (role submission): the null sender, or an address in a
 * local domain that resolves to exactly the authenticated account (its
 * +tag forms and aliases of it alone included). */
static uint32_t
sender_verdict(const char *addr)
{
	struct resolved *found;
	int n;

	if (addr[0] == '\0')
		return ANS_OK;	/* bounces and receipts, as Postfix allows */
	if (m.auth_user[0] == '\0' || strchr(addr, '@') == NULL ||
	    rcpt_is_remote(addr))
		return ANS_NOT_OWNER;
	if ((n = rcpt_resolve(addr, &found)) < 0)
		return ANS_TEMP;
	if (n == 1 && found->nusers == 1 &&
	    strcmp(found->users[0].name, m.auth_user) == 0)
		return ANS_OK;
	return ANS_NOT_OWNER;
}

static uint32_t
rq_sender(struct req *r)
{
	uint32_t ans = sender_verdict(r->arg[0]);

	if (ans == ANS_NOT_OWNER)
		log_info("event=sender_rejected ip=%s user=%s from=<%s>", m.ip,
		    m.auth_user, pr(r->arg[0]));
	str_copy(r->detail, sizeof(r->detail), m.auth_user);
	return ans;
}

/* AUTH: offered only on submission, once, after TLS when required, and
 * at most SMTP_AUTH_TRIES failures; the frame holds a password. */
static uint32_t
rq_auth(struct req *r)
{
	char user[USER_NAME_MAX + 1], pass[SMTP_PASS_MAX + 1], mech[16];
	struct ps_frame *f = r->f;
	struct mailuser u;
	uint32_t len, ans = BAD_REQUEST;

	if (submission() && m.auth_user[0] == '\0' &&
	    m.auth_fails < SMTP_AUTH_TRIES && (!conf.auth_require_tls ||
	    tls_mode() == TLS_IMPLICIT || m.in_tls) &&
	    ps_get_str(f, user, sizeof(user)) == 0 && ps_get_u32(f, &len) == 0 &&
	    len <= SMTP_PASS_MAX && ps_get_bytes(f, pass, len) == 0 &&
	    ps_get_str(f, mech, sizeof(mech)) == 0 && ps_done(f) &&
	    (strcmp(mech, "PLAIN") == 0 || strcmp(mech, "LOGIN") == 0)) {
		switch (auth_password(m.ip, user, pass, len, mech, &u)) {
		case AUTHP_OK:
			str_copy(m.auth_user, sizeof(m.auth_user), u.name);
			str_copy(r->detail, sizeof(r->detail), u.name);
			ans = ANS_OK;
			break;
		case AUTHP_TEMP:
			ans = ANS_TEMP;
			break;
		case AUTHP_REFUSED:
			ans = ANS_AUTH_BLOCKED;
			break;
		default:
			m.auth_fails++;
			ans = ANS_AUTH_FAIL;
		}
	}
	explicit_bzero(pass, sizeof(pass));
	explicit_bzero(f->data, sizeof(f->data));
	return ans;
}

/* One recipient of the next DELIVER, which answers for all of them. */
static uint32_t
rq_deliver_rcpt(struct req *r)
{
	uint32_t ans = delivery_add(r->arg[0], may_relay());

	if (ans != ANS_OK)
		log_warnx("recipient %s accepted at RCPT but %s now",
		    pr(r->arg[0]), ans == ANS_RELAY ? "not relayable" :
		    "not resolvable");
	return NO_ANSWER;
}

static uint32_t
rq_tls(struct req *r)
{
	(void)r;
	/* only STARTTLS can start TLS, once: a session that says it did
	 * without TLS configured, or twice, is not to be believed */
	if (tls_mode() != TLS_STARTTLS || m.in_tls)
		return BAD_REQUEST;
	m.in_tls = 1;
	m.auth_user[0] = '\0';	/* RFC 3207 4.2: nothing from before counts */
	return NO_ANSWER;
}

/* The sender is checked again here: the session's earlier word is not
 * enough. */
static uint32_t
rq_deliver(struct req *r)
{
	const char *sender = r->arg[0];

	if (submission() && (m.auth_user[0] == '\0' ||
	    (conf.sender_check && sender_verdict(sender) != ANS_OK))) {
		log_warnx("msgid=%s from=<%s> refused: not authenticated for it",
		    pr(r->arg[1]), pr(sender));
		delivery_reset();
		return ANS_TEMP;
	}
	return delivery_run(r->f->fd, sender, r->arg[1], m.auth_user);
}

/* The requests (smtpd.h), with their payload: an fd or not, and the
 * size limits of their string arguments; raw: the handler reads it. */
static const struct request {
	uint32_t	 type;
	int		 fd, raw;
	size_t		 arg[2];
	uint32_t	(*fn)(struct req *);
} requests[] = {
	{ REQ_RCPT,		0, 0, { SMTP_PATH_MAX + 1 },	rq_rcpt },
	{ REQ_EXPN,		0, 0, { SMTP_PATH_MAX + 1 },	rq_expn },
	{ REQ_TX_RCPT,		0, 0, { SMTP_PATH_MAX + 1, MSG_SENDER_MAX + 1 },
								rq_tx_rcpt },
	{ REQ_CONNECT,		0, 0, { 0 },			rq_connect },
	{ REQ_AUTH,		0, 1, { 0 },			rq_auth },
	{ REQ_SENDER,		0, 0, { SMTP_PATH_MAX + 1 },	rq_sender },
	{ REQ_DELIVER_RCPT,	0, 0, { SMTP_PATH_MAX + 1 },	rq_deliver_rcpt },
	{ REQ_TLS,		0, 0, { 0 },			rq_tls },
	{ REQ_DELIVER,		1, 0, { MSG_SENDER_MAX + 1, 32 }, rq_deliver },
};

/* Finds the frame's row and reads its payload by the row's rules. */
static const struct request *
request_of(struct ps_frame *f, struct req *r)
{
	const struct request *rq;
	size_t i;

	for (rq = requests; rq < requests + sizeof(requests) /
	    sizeof(requests[0]); rq++) {
		if (rq->type != f->type)
			continue;
		if ((f->fd != -1) != rq->fd)
			return NULL;
		for (i = 0; i < 2 && rq->arg[i] > 0; i++)
			if (ps_get_str(f, r->arg[i], rq->arg[i]) == -1)
				return NULL;
		return rq->raw || ps_done(f) ? rq : NULL;
	}
	return NULL;
}

void
monitor_run(int fd, const struct peer *peer, pid_t child)
{
	static const char msg[] = "421 4.3.0 Internal error, closing connection\r\n";
	const struct request *rq;
	struct ps_frame f;
	struct req r;
	uint32_t ans = NO_ANSWER;
	int status = 0;

	close(0);	/* fd 1 stays, for the 421 below */
	str_copy(m.ip, sizeof(m.ip), peer->addr);
	m.trusted = strcmp(m.ip, "pipe") != 0 &&
	    netaddr_in(m.ip, conf.trusted_networks, "trusted_networks");
	/* DNSBL now, while the session waits for greet_delay or TLS; the
	 * session asks for the verdict (REQ_CONNECT) before its greeting */
	policy_start(&m.policy, m.ip);
	while (ps_recv(fd, &f, -1) == 0) {
		r.f = &f;
		r.detail[0] = '\0';
		ans = (rq = request_of(&f, &r)) != NULL ? rq->fn(&r) : BAD_REQUEST;
		if (f.fd != -1)
			close(f.fd);
		if (ans == BAD_REQUEST)
			break;
		if (ans != NO_ANSWER) {
			ps_init(&f, ans);
			if (ps_put_str(&f, r.detail) == 0)
				(void)ps_send(fd, &f, -1);
		}
	}
	if (ans == BAD_REQUEST) {
		log_warnx("monitor: bad request type %u from session, closing",
		    (unsigned)f.type);
		kill(child, SIGKILL);
	}
	policy_stop(&m.policy);
	while (waitpid(child, &status, 0) == -1 && errno == EINTR)
		;
	if (WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0)) {
		log_warnx("session failed: %s %d", WIFSIGNALED(status) ?
		    "signal" : "exit status", WIFSIGNALED(status) ?
		    WTERMSIG(status) : WEXITSTATUS(status));
		/* A plaintext reply is only right on a plaintext connection. */
		if (!m.in_tls && tls_mode() != TLS_IMPLICIT)
			(void)write_all(1, msg, sizeof(msg) - 1);
	}
}
