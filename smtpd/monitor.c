/*
 * monitor.c - the root half of smtpd. It parses nothing from the network:
 * it answers length-checked frames from its session child (may ADDRESS
 * receive? deliver this fd to these recipients) and forks one delivery
 * child per local account, which drops to that account before it touches
 * the Maildir. A message is acknowledged only when every copy is safe; a
 * partial failure undoes the copies already made.
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
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "dnsbl.h"
#include "greylist.h"
#include "log.h"
#include "maildir.h"
#include "params.h"
#include "privsep.h"
#include "smtpd.h"
#include "tls.h"
#include "util.h"

/* Exit codes of a delivery child, sysexits style. */
#define EX_DELIVERED	0
#define EX_TEMP		75
#define EX_FULL		73

static struct mailuser *users;	/* accounts of the pending DELIVER */
static size_t nusers, maxusers;
static unsigned nrcpts;
static int pending_failed;	/* a recipient could not be added */

static int
answer(int fd, uint32_t status, const char *detail)
{
	struct ps_frame f;

	ps_init(&f, status);
	if (ps_put_str(&f, detail) == -1)
		return -1;
	return ps_send(fd, &f, -1);
}

/*
 * Recipients resolved at RCPT are remembered until the transaction's
 * DELIVER, so each address costs one account lookup, not two.
 */
struct resolved {
	char		 addr[SMTP_PATH_MAX + 1];
	int		 n;
	struct mailuser	*users;
};
static struct resolved *cache;
static size_t ncache;

/* Resolves addr (through the cache); *out stays valid until cache_clear. */
static int
resolve(const char *addr, struct mailuser **out)
{
	static struct mailuser *found;
	struct resolved *r;
	size_t i;
	int n;

	for (i = 0; i < ncache; i++)
		if (strcmp(cache[i].addr, addr) == 0) {
			*out = cache[i].users;
			return cache[i].n;
		}
	if (found == NULL)
		found = xcalloc(ALIAS_TARGETS_MAX, sizeof(*found));
	*out = found;
	if ((n = user_resolve(addr, found, ALIAS_TARGETS_MAX)) <= 0 ||
	    ncache >= conf.max_recipients)
		return n;
	cache = xreallocarray(cache, ncache + 1, sizeof(*cache));
	r = &cache[ncache++];
	str_copy(r->addr, sizeof(r->addr), addr);
	r->n = n;
	r->users = xcalloc((size_t)n, sizeof(*r->users));
	memcpy(r->users, found, (size_t)n * sizeof(*found));
	*out = r->users;
	return n;
}

static void
cache_clear(void)
{
	while (ncache > 0)
		free(cache[--ncache].users);
}

/* Adds the accounts of one recipient to the pending delivery. */
static uint32_t
add_recipient(const char *addr)
{
	struct mailuser *found;
	int i, j, n;

	if (++nrcpts > conf.max_recipients)
		return ANS_TEMP;
	if ((n = resolve(addr, &found)) <= 0)
		return n == 0 ? ANS_NOUSER : ANS_TEMP;
	for (i = 0; i < n; i++) {
		for (j = 0; j < (int)nusers; j++)
			if (users[j].uid == found[i].uid &&
			    strcmp(users[j].name, found[i].name) == 0)
				break;
		if (j < (int)nusers)
			continue;
		if (nusers == maxusers) {
			maxusers = maxusers ? maxusers * 2 : 16;
			users = xreallocarray(users, maxusers, sizeof(*users));
		}
		users[nusers++] = found[i];
	}
	return ANS_OK;
}

/* Runs fn as account u in a child; returns the child's exit status. */
static int
as_user(const struct mailuser *u, int (*fn)(const struct mailuser *, void *), void *arg)
{
	pid_t pid;
	int status;

	if ((pid = fork()) == -1) {
		log_warn("fork");
		return EX_TEMP;
	}
	if (pid == 0) {
		priv_drop(u->name, u->uid, u->gid, NULL,
		    PRIV_ALLOW_ROOT | PRIV_PRIMARY_GROUP);
		_exit(fn(u, arg));
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return EX_TEMP;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	log_warnx("delivery child for %s killed by signal %d", u->name,
	    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return EX_TEMP;
}

struct deliver_args {
	int		 msgfd;
	const char	*header;
	int		 namepipe;	/* the child writes the new file name here */
};

static int
deliver_one(const struct mailuser *u, void *arg)
{
	struct deliver_args *a = arg;
	struct idx_rec rec;
	char path[4096];

	if (user_maildir(u, path, sizeof(path)) == -1) {
		log_warnx("user=%s bad mailbox path", u->name);
		return EX_TEMP;
	}
	if (maildir_deliver(path, a->header, a->msgfd, &rec) == -1) {
		int full = errno == ENOSPC || errno == EDQUOT;

		log_warn("user=%s delivery to %s failed", u->name, pr(path));
		return full ? EX_FULL : EX_TEMP;
	}
	if (write_all(a->namepipe, rec.name, strlen(rec.name) + 1) == -1)
		return EX_TEMP;
	return EX_DELIVERED;
}

static int
undo_one(const struct mailuser *u, void *arg)
{
	char path[4096];

	if (user_maildir(u, path, sizeof(path)) == -1)
		return EX_TEMP;
	return maildir_undo(path, arg) == 0 ? EX_DELIVERED : EX_TEMP;
}

/* Delivers msgfd to every pending account; all or nothing. */
static uint32_t
deliver(int msgfd, const char *sender, const char *msgid)
{
	char header[MSG_SENDER_MAX + 32], (*names)[IDX_NAME_MAX];
	int fds[2], rv = EX_DELIVERED;
	size_t i, done = 0;

	if (str_fmt(header, sizeof(header), "Return-Path: <%s>\n", sender) == -1)
		return ANS_TEMP;
	names = xcalloc(nusers, sizeof(*names));
	for (i = 0; i < nusers && rv == EX_DELIVERED; i++) {
		struct deliver_args a = { msgfd, header, -1 };
		ssize_t n;

		if (pipe2(fds, O_CLOEXEC) == -1) {
			rv = EX_TEMP;
			break;
		}
		a.namepipe = fds[1];
		rv = as_user(&users[i], deliver_one, &a);
		close(fds[1]);
		n = read(fds[0], names[i], sizeof(names[i]) - 1);
		close(fds[0]);
		if (rv == EX_DELIVERED && (n <= 1 || names[i][n - 1] != '\0'))
			rv = EX_TEMP;
		if (rv == EX_DELIVERED) {
			done++;
			log_info("msgid=%s to=%s status=delivered file=%s", msgid,
			    users[i].name, pr(names[i]));
		}
	}
	if (rv != EX_DELIVERED)
		for (i = 0; i < done; i++) {
			if (as_user(&users[i], undo_one, names[i]) != EX_DELIVERED)
				log_warnx("msgid=%s to=%s undo failed file=%s",
				    msgid, users[i].name, pr(names[i]));
			else
				log_info("msgid=%s to=%s status=undone", msgid,
				    users[i].name);
		}
	free(names);
	return rv == EX_DELIVERED ? ANS_OK : rv == EX_FULL ? ANS_FULL : ANS_TEMP;
}

/*
 * The client's address as the monitor sees it (getpeername on the client
 * socket, not the session's word): "pipe" when it is no socket, which
 * greylisting and DNSBL then leave alone.
 */
static void
client_addr(int fd, char *ip, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	str_copy(ip, size, "pipe");
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
		return;
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip,
		    (socklen_t)size);
	else if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
		    ip, (socklen_t)size);
}

/* The answer to REQ_TX_RCPT: the recipient must exist, then greylisting. */
static void
tx_rcpt(int fd, const char *ip, const char *addr, const char *sender)
{
	struct mailuser *found;
	char secs[32];
	int64_t wait;
	int n;

	if ((n = resolve(addr, &found)) <= 0) {
		answer(fd, n == 0 ? ANS_NOUSER : ANS_TEMP, "");
		return;
	}
	if ((wait = grey_check(ip, sender, addr)) > 0) {
		str_fmt(secs, sizeof(secs), "%lld", (long long)wait);
		answer(fd, ANS_GREYLISTED, secs);
		return;
	}
	answer(fd, ANS_OK, "");
}

static void
reset_pending(void)
{
	nusers = 0;
	nrcpts = 0;
	pending_failed = 0;
	cache_clear();
}

void
monitor_run(int fd, int client_fd, pid_t child)
{
	struct ps_frame f;
	char addr[SMTP_PATH_MAX + 1], sender[MSG_SENDER_MAX + 1], id[32];
	char ip[INET6_ADDRSTRLEN], zone[256] = "";
	int status, in_tls = 0, listed = 0;

	close(0);
	client_addr(client_fd, ip, sizeof(ip));
	/* DNSBL now, while the session waits for greet_delay or TLS; the
	 * session asks for the verdict (REQ_CONNECT) before its greeting */
	if (!dnsbl_exempt(ip) && dnsbl_check(ip, zone, sizeof(zone)) == 1)
		listed = strcmp(conf.dnsbl_action, "log") != 0;
	for (;;) {
		uint32_t ans;
		struct mailuser *found;
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
				int i;

				for (i = 0; i < n; i++) {
					size_t len = strlen(list);

					str_fmt(list + len, sizeof(list) - len, "%s%s",
					    i ? " " : "", found[i].name);
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
			tx_rcpt(fd, ip, addr, sender);
			break;
		case REQ_CONNECT:
			if (!ps_done(&f))
				goto bad;
			if (listed)
				log_info("event=dnsbl_reject ip=%s zone=%s", ip,
				    zone);
			answer(fd, listed ? ANS_BLOCKED : ANS_OK, zone);
			break;
		case REQ_DELIVER_RCPT:
			if (ps_get_str(&f, addr, sizeof(addr)) == -1 || !ps_done(&f))
				goto bad;
			/* No answer: DELIVER answers for all recipients. */
			if (add_recipient(addr) != ANS_OK) {
				log_warnx("recipient %s accepted at RCPT but not "
				    "resolvable now", pr(addr));
				pending_failed = 1;
			}
			break;
		case REQ_TLS:
			if (!ps_done(&f))
				goto bad;
			in_tls = 1;
			break;
		case REQ_DELIVER:
			if (f.fd == -1 ||
			    ps_get_str(&f, sender, sizeof(sender)) == -1 ||
			    ps_get_str(&f, id, sizeof(id)) == -1 || !ps_done(&f))
				goto bad;
			ans = nusers > 0 && !pending_failed ?
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
		if (!in_tls && tls_mode() != TLS_IMPLICIT)
			(void)write_all(client_fd, msg, sizeof(msg) - 1);
	}
}
