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
#include "dnsbl.h"
#include "greylist.h"
#include "index.h"
#include "log.h"
#include "maildir.h"
#include "params.h"
#include "privsep.h"
#include "queue.h"
#include "runner.h"
#include "smtpd.h"
#include "netaddr.h"
#include "throttle.h"
#include "tls_server.h"
#include "util.h"

/* Exit codes of a delivery child, sysexits style. */
#define EX_DELIVERED	0
#define EX_TEMP		75
#define EX_FULL		73

static struct mailuser *users;	/* accounts of the pending DELIVER */
static size_t nusers, maxusers;
static char (*remotes)[SMTP_PATH_MAX + 1];	/* its queued recipients */
static size_t nremotes, maxremotes;
static unsigned nrcpts;
static int pending_failed;	/* a recipient could not be added */

/* What the monitor knows of its client, not the session's word. */
static char ip[INET6_ADDRSTRLEN];	/* "pipe" when no socket */
static int trusted;		/* ip in trusted_networks: may relay */
static char auth_user[USER_NAME_MAX + 1];	/* "" until AUTH succeeded */
static int have_client;		/* else the queue runner's local bounces */
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

/* An address in a domain outside local_domains (a bare name is local). */
static int
is_remote(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL && !conf_is_local_domain(at + 1);
}

/* Relaying: for a client that authenticated or is in trusted_networks. */
static int
may_relay(void)
{
	return auth_user[0] != '\0' || trusted;
}

/*
 * Recipients resolved at RCPT are remembered until the transaction's
 * DELIVER, so each address costs one account lookup, not two.
 */
struct resolved {
	char		 addr[SMTP_PATH_MAX + 1];
	int		 n;		/* accounts + remote targets */
	size_t		 nusers, nremote;
	struct mailuser	*users;
	char		(*remote)[SMTP_PATH_MAX + 1];
};
static struct resolved *cache;
static size_t ncache;

/* Resolves addr (through the cache): accounts and the alias targets in
 * other domains; *out stays valid until the next call or cache_clear. */
static int
resolve(const char *addr, struct resolved **out)
{
	static struct resolved scratch;
	struct resolved *r;
	size_t i;
	int n;

	for (i = 0; i < ncache; i++)
		if (strcmp(cache[i].addr, addr) == 0) {
			*out = &cache[i];
			return cache[i].n;
		}
	if (scratch.users == NULL) {
		scratch.users = xcalloc(ALIAS_TARGETS_MAX, sizeof(*scratch.users));
		scratch.remote = xcalloc(ALIAS_TARGETS_MAX, sizeof(*scratch.remote));
	}
	*out = &scratch;
	n = user_resolve_all(addr, scratch.users, ALIAS_TARGETS_MAX,
	    scratch.remote, ALIAS_TARGETS_MAX, &scratch.nremote);
	scratch.n = n;
	scratch.nusers = n > 0 ? (size_t)n - scratch.nremote : 0;
	if (n <= 0 || ncache >= conf.max_recipients)
		return n;
	cache = xreallocarray(cache, ncache + 1, sizeof(*cache));
	r = &cache[ncache++];
	*r = scratch;
	str_copy(r->addr, sizeof(r->addr), addr);
	r->users = xcalloc(r->nusers + 1, sizeof(*r->users));
	memcpy(r->users, scratch.users, r->nusers * sizeof(*r->users));
	r->remote = xcalloc(r->nremote + 1, sizeof(*r->remote));
	memcpy(r->remote, scratch.remote, r->nremote * sizeof(*r->remote));
	*out = r;
	return n;
}

static void
cache_clear(void)
{
	while (ncache > 0) {
		ncache--;
		free(cache[ncache].users);
		free(cache[ncache].remote);
	}
}

/* Adds a remote recipient of the pending delivery (once). */
static int
add_remote(const char *addr)
{
	size_t i;

	for (i = 0; i < nremotes; i++)
		if (strcmp(remotes[i], addr) == 0)
			return 0;
	if (nremotes >= QUEUE_RCPT_MAX)
		return -1;
	if (nremotes == maxremotes) {
		maxremotes = maxremotes ? maxremotes * 2 : 16;
		remotes = xreallocarray(remotes, maxremotes, sizeof(*remotes));
	}
	return str_copy(remotes[nremotes++], sizeof(*remotes), addr);
}

/* Adds the accounts and remote targets of one recipient to the pending
 * delivery. */
static uint32_t
add_recipient(const char *addr)
{
	struct resolved *found;
	size_t i, j;
	int n;

	if (++nrcpts > conf.max_recipients)
		return ANS_TEMP;
	if (is_remote(addr)) {
		if (!may_relay())
			return ANS_RELAY;
		return add_remote(addr) == 0 ? ANS_OK : ANS_TEMP;
	}
	if ((n = resolve(addr, &found)) <= 0)
		return n == 0 ? ANS_NOUSER : ANS_TEMP;
	for (i = 0; i < found->nremote; i++)
		if (add_remote(found->remote[i]) == -1)
			return ANS_TEMP;
	for (i = 0; i < found->nusers; i++) {
		for (j = 0; j < nusers; j++)
			if (users[j].uid == found->users[i].uid &&
			    strcmp(users[j].name, found->users[i].name) == 0)
				break;
		if (j < nusers)
			continue;
		if (nusers == maxusers) {
			maxusers = maxusers ? maxusers * 2 : 16;
			users = xreallocarray(users, maxusers, sizeof(*users));
		}
		users[nusers++] = found->users[i];
	}
	return ANS_OK;
}

/*
 * Runs fn as account u (priv_drop flags) in a child that may write one
 * NUL-terminated answer (a file name, a queue id) to its socket: into
 * out ("" when none). Returns the child's exit status.
 */
static int
as_user(const struct mailuser *u, int flags, int (*fn)(int, void *),
    void *arg, char *out, size_t size)
{
	pid_t pid;
	ssize_t n;
	int fd, status;

	out[0] = '\0';
	if ((pid = ps_spawn(u->name, u->uid, u->gid, NULL, flags, fn, arg,
	    &fd)) == -1)
		return EX_TEMP;
	while ((n = read(fd, out, size - 1)) == -1 && errno == EINTR)
		;
	close(fd);
	if (n <= 1 || out[n - 1] != '\0')
		out[0] = '\0';
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return EX_TEMP;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	log_warnx("child as %s killed by signal %d", u->name,
	    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return EX_TEMP;
}

struct deliver_args {
	const struct mailuser *u;
	int		 msgfd;
	const char	*header;
	const char	*name;		/* undo_one: the file to take back */
};

/* As the account: the copy, its file name written to fd. */
static int
deliver_one(int fd, void *arg)
{
	struct deliver_args *a = arg;
	struct idx_rec rec;
	char path[4096];

	if (user_maildir(a->u, path, sizeof(path)) == -1) {
		log_warnx("user=%s bad mailbox path", a->u->name);
		return EX_TEMP;
	}
	if (maildir_deliver(path, a->header, a->msgfd, &rec) == -1) {
		int full = errno == ENOSPC || errno == EDQUOT;

		log_warn("user=%s delivery to %s failed", a->u->name, pr(path));
		return full ? EX_FULL : EX_TEMP;
	}
	if (write_all(fd, rec.name, strlen(rec.name) + 1) == -1)
		return EX_TEMP;
	return EX_DELIVERED;
}

static int
undo_one(int fd, void *arg)
{
	struct deliver_args *a = arg;
	char path[4096];

	(void)fd;
	if (user_maildir(a->u, path, sizeof(path)) == -1)
		return EX_TEMP;
	return idx_undo(path, a->name) == 0 ? EX_DELIVERED : EX_TEMP;
}

/* ---- the relay queue (as unpriv_user, who owns queue_dir) ---- */

struct enqueue_args {
	int		 msgfd;
	const char	*sender;
};

/* As unpriv_user: the queue record, its id written to fd. */
static int
enqueue_one(int fd, void *arg)
{
	struct enqueue_args *a = arg;
	struct queue *q;
	const char **rcpts;
	char id[QID_MAX];
	size_t i;
	int r;

	if (queue_open(&q, conf.queue_dir) == -1)
		return EX_TEMP;
	rcpts = xcalloc(nremotes, sizeof(*rcpts));
	for (i = 0; i < nremotes; i++)
		rcpts[i] = remotes[i];
	r = queue_add(q, a->msgfd, a->sender, auth_user, rcpts, nremotes, id,
	    sizeof(id));
	free(rcpts);
	/* queue_add committed synchronously: a failed close loses nothing */
	(void)queue_close(&q);
	if (r == -1)
		return EX_TEMP;
	return write_all(fd, id, strlen(id) + 1) == -1 ? EX_TEMP :
	    EX_DELIVERED;
}

/* The account the queue belongs to; -1 logged. */
static int
queue_owner(struct mailuser *u)
{
	if (user_lookup(conf.unpriv_user, u) != 0) {
		log_warnx("unpriv_user %s: no such account", pr(conf.unpriv_user));
		return -1;
	}
	if (u->uid == 0) {
		log_warnx("unpriv_user %s is root: refusing to queue",
		    pr(conf.unpriv_user));
		return -1;
	}
	return 0;
}

/*
 * queue_prepare (as root) unless queue_dir already is the owner's
 * private directory: root in the shipped units lacks CAP_DAC_OVERRIDE and
 * cannot look inside a 0700 directory of unpriv_user's, so the work is
 * done once, when the directory is made (that needs CAP_CHOWN).
 */
static int
queue_ready(const struct mailuser *u)
{
	struct stat st;

	if (lstat(conf.queue_dir, &st) == 0 && S_ISDIR(st.st_mode) &&
	    st.st_uid == u->uid && (st.st_mode & 077) == 0)
		return 0;
	return queue_prepare(conf.queue_dir, u->uid, u->gid);
}

/* Queues msgfd for the pending remote recipients; fills qid. 0 or -1. */
static int
enqueue(int msgfd, const char *sender, const char *msgid, char *qid,
    size_t qidsize)
{
	struct enqueue_args a = { msgfd, sender };
	struct mailuser u;

	if (queue_owner(&u) == -1 || queue_ready(&u) == -1)
		return -1;
	if (as_user(&u, PRIV_PRIMARY_GROUP, enqueue_one, &a, qid,
	    qidsize) != EX_DELIVERED || !queue_id_ok(qid)) {
		log_warnx("msgid=%s status=enqueue_failed", msgid);
		return -1;
	}
	log_info("msgid=%s queued=%s nrcpt=%zu", msgid, qid, nremotes);
	return 0;
}

/*
 * Delivers msgfd to every pending recipient; all or nothing: one copy per
 * local account first, then the remote ones into the relay queue. A
 * failed copy or enqueue undoes the local copies made. (Queued last: a
 * record must never be visible to a runner, which may send it at once,
 * before the whole delivery has succeeded.)
 */
static uint32_t
deliver(int msgfd, const char *sender, const char *msgid)
{
	char header[MSG_SENDER_MAX + 32], (*names)[IDX_NAME_MAX];
	char qid[QID_MAX] = "";
	int rv = EX_DELIVERED;
	size_t i, done = 0;

	if (str_fmt(header, sizeof(header), "Return-Path: <%s>\n", sender) == -1)
		return ANS_TEMP;
	names = xcalloc(nusers + 1, sizeof(*names));
	for (i = 0; i < nusers && rv == EX_DELIVERED; i++) {
		struct deliver_args a = { &users[i], msgfd, header, NULL };

		rv = as_user(&users[i], PRIV_ALLOW_ROOT | PRIV_PRIMARY_GROUP,
		    deliver_one, &a, names[i], sizeof(names[i]));
		if (rv == EX_DELIVERED && names[i][0] == '\0')
			rv = EX_TEMP;
		if (rv == EX_DELIVERED) {
			done++;
			log_info("msgid=%s to=%s status=delivered file=%s", msgid,
			    users[i].name, pr(names[i]));
		}
	}
	if (rv == EX_DELIVERED && nremotes > 0 &&
	    enqueue(msgfd, sender, msgid, qid, sizeof(qid)) == -1)
		rv = EX_TEMP;
	if (rv != EX_DELIVERED) {
		for (i = 0; i < done; i++) {
			struct deliver_args a = { &users[i], -1, NULL, names[i] };
			char none[1];

			if (as_user(&users[i], PRIV_ALLOW_ROOT |
			    PRIV_PRIMARY_GROUP, undo_one, &a, none,
			    sizeof(none)) != EX_DELIVERED)
				log_warnx("msgid=%s to=%s undo failed file=%s",
				    msgid, users[i].name, pr(names[i]));
			else
				log_info("msgid=%s to=%s status=undone", msgid,
				    users[i].name);
		}
	} else if (qid[0] != '\0')
		runner_kick();
	free(names);
	return rv == EX_DELIVERED ? ANS_OK : rv == EX_FULL ? ANS_FULL : ANS_TEMP;
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

	if (is_remote(addr)) {
		if (!may_relay()) {
			log_info("event=relay_denied ip=%s to=<%s>", ip, pr(addr));
			answer(fd, ANS_RELAY, "");
		} else
			answer(fd, ANS_OK, "");
		return;
	}
	if ((n = resolve(addr, &found)) <= 0) {
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
	    is_remote(addr))
		return ANS_NOT_OWNER;
	if ((n = resolve(addr, &found)) < 0)
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
	/* the runner (no client) hands over bounces, whatever its -o role */
	if (!have_client || !submission())
		return 1;
	if (auth_user[0] == '\0')
		return 0;
	return !conf.sender_check || sender_verdict(sender) == ANS_OK;
}

static void
reset_pending(void)
{
	nusers = 0;
	nremotes = 0;
	nrcpts = 0;
	pending_failed = 0;
	cache_clear();
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
	if (!have_client || !submission() || auth_user[0] != '\0' ||
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
	have_client = client_fd >= 0;
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
			n = resolve(addr, &found);
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
			if ((ans = add_recipient(addr)) != ANS_OK) {
				log_warnx("recipient %s accepted at RCPT but %s now",
				    pr(addr), ans == ANS_RELAY ? "not relayable" :
				    "not resolvable");
				pending_failed = 1;
			}
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
				pending_failed = 1;
			}
			ans = (nusers > 0 || nremotes > 0) && !pending_failed ?
			    deliver(f.fd, sender, id) : ANS_TEMP;
			close(f.fd);
			reset_pending();
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
