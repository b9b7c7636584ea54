/*
 * runner.c - the queue run (see runner.h): what `smtpd -q` does once the
 * root half has prepared it, and runner_kick().
 *
 * Process model, the same split as a connection's:
 *   root (smtpd -q): runner_prepare() reads relay_auth_file and the TLS
 *     client settings and prepares queue_dir; then it starts the worker
 *     and answers its bounces to LOCAL senders, which are delivered into
 *     the Maildir by exactly the code that delivers SMTP mail (the
 *     daemon's, passed in as a callback: this layer knows no Maildir);
 *   worker child, unpriv_user, no chroot (it needs DNS and queue_dir):
 *     runner_run() takes queue_dir/runner.lock (busy: another runner is at
 *     work, exit), then passes over the queue: every record that is due is
 *     delivered with smtpc_deliver(), one domain at a time (or all at once
 *     through relay_host), and its verdicts recorded; a record with
 *     nothing left pending is bounced (RFC 3464, dsn.h) for its failed
 *     recipients and removed. The queue store is opened for each short
 *     step only, never across network I/O, so smtpd can enqueue at any
 *     moment.
 * A kill -9 at any instant leaves the record as last committed: at most the
 * one transaction in flight is sent again, nothing is lost.
 *
 * A kick that finds the lock busy exits; the runner holding it passes over
 * the queue again until a pass finds nothing new, and after letting go of
 * the lock looks once more, so no kick is ever lost.
 */
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "daemon.h"
#include "dsn.h"
#include "log.h"
#include "params.h"
#include "queue.h"
#include "runner.h"
#include "smtpc.h"
#include "user.h"
#include "util.h"

#define RUNNER_LOCK		"runner.lock"
/* Passes of one run: each pass handles records no earlier pass of the run
 * saw, so a run ends unless new mail keeps arriving; then the timer's
 * next run (or the next kick) takes over. */
#define RUNNER_PASSES_MAX	1000
/* The relay_auth_file line: "user password" (RFC 4616 allows 255 octets
 * each; the line stays well inside this). */
#define RELAY_AUTH_MAX		1024
/* The systemd unit a kick starts when smtpd itself runs under systemd. */
#define QUEUE_UNIT		"inetmail-queue.service"

/* ---- root: the credentials for relay_host ---- */

/*
 * Reads relay_auth_file ("user password" on one line; the password may
 * contain spaces, not the user name). The file holds a secret: it must be
 * a regular file that group and others cannot read. 0, or -1 logged.
 */
static int
read_relay_auth(void)
{
	char line[RELAY_AUTH_MAX + 2], *sp, *end;
	struct stat st;
	ssize_t n;
	int fd;

	if (conf.relay_auth_file[0] == '\0')
		return 0;
	if ((fd = open(conf.relay_auth_file, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC | O_NONBLOCK)) == -1) {
		log_warn("relay_auth_file %s", pr(conf.relay_auth_file));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (st.st_mode & 077) != 0) {
		log_warnx("relay_auth_file %s: must be a regular file that "
		    "only its owner can read (mode 0600)",
		    pr(conf.relay_auth_file));
		close(fd);
		return -1;
	}
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n < 0 || (size_t)n > RELAY_AUTH_MAX) {
		log_warnx("relay_auth_file %s: unreadable or longer than %d "
		    "octets", pr(conf.relay_auth_file), RELAY_AUTH_MAX);
		explicit_bzero(line, sizeof(line));
		return -1;
	}
	line[n] = '\0';
	if (memchr(line, '\0', (size_t)n) != NULL)
		goto bad;
	/* one line; a final LF (and CR) is not part of the password */
	if ((end = strchr(line, '\n')) != NULL) {
		if (end[1] != '\0')
			goto bad;
		*end = '\0';
	}
	if ((end = strchr(line, '\r')) != NULL && end[1] == '\0')
		*end = '\0';
	sp = strchr(line, ' ');
	if (sp == NULL || sp == line || sp[1] == '\0') {
bad:
		log_warnx("relay_auth_file %s: expected one line \"user "
		    "password\"", pr(conf.relay_auth_file));
		explicit_bzero(line, sizeof(line));
		return -1;
	}
	*sp = '\0';
	smtpc_set_auth(line, sp + 1);
	explicit_bzero(line, sizeof(line));
	return 0;
}

/*
 * relay_auth_file is only used with relay_tls = verify, or with a
 * relay_host on this machine (smtpc_relay_local: [127.0.0.1] or [::1]).
 * With may or encrypt the password would go to whoever answers for
 * relay_host, over TLS nobody verified: a configuration error, and no
 * queue run at all (smtpd -q exits 1). 1 refused (logged), 0 fine.
 */
static int
relay_auth_exposed(void)
{
	if (conf.relay_auth_file[0] == '\0' || conf.relay_host[0] == '\0' ||
	    conf.relay_tls == RELAY_TLS_VERIFY || smtpc_relay_local())
		return 0;
	log_warnx("relay configuration: relay_auth_file needs relay_tls = "
	    "verify (it is %s): the credentials would go to relay_host %s "
	    "over TLS nobody verified (only [127.0.0.1] or [::1] is exempt); "
	    "no queue run", conf.relay_tls == RELAY_TLS_MAY ? "may" :
	    "encrypt", pr(conf.relay_host));
	return 1;
}

/* ---- the worker: one record ---- */

struct run {
	runner_local_fn	 local;	/* the daemon's local delivery */
	void		*local_arg;
	char	(*seen)[QID_MAX];	/* ids handled in this run */
	size_t	 nseen, maxseen;
};

static int
seen(const struct run *r, const char *id)
{
	size_t i;

	for (i = 0; i < r->nseen; i++)
		if (strcmp(r->seen[i], id) == 0)
			return 1;
	return 0;
}

static void
mark_seen(struct run *r, const char *id)
{
	if (r->nseen == r->maxseen) {
		r->maxseen = r->maxseen ? r->maxseen * 2 : 64;
		r->seen = xreallocarray(r->seen, r->maxseen, sizeof(*r->seen));
	}
	str_copy(r->seen[r->nseen++], QID_MAX, id);
}

/* The domain part of addr ("" when there is none). */
static const char *
domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL ? at + 1 : "";
}

/* "5 days", "3 hours", "2 seconds": how long a message waited. */
static void
fmt_age(uint64_t secs, char *out, size_t size)
{
	static const struct { uint64_t n; const char *unit; } u[] = {
		{ 86400, "day" }, { 3600, "hour" }, { 60, "minute" }, { 1, "second" },
	};
	size_t i;

	for (i = 0; i < sizeof(u) / sizeof(u[0]) - 1; i++)
		if (secs >= u[i].n)
			break;
	str_fmt(out, size, "%llu %s%s", (unsigned long long)(secs / u[i].n),
	    u[i].unit, secs / u[i].n == 1 ? "" : "s");
}

/* Opens the store, runs one short step, closes it. */
static int
q_open(struct queue **q)
{
	if (queue_open(q, conf.queue_dir) == -1) {
		log_warnx("queue %s: cannot open", pr(conf.queue_dir));
		return -1;
	}
	return 0;
}

/* Writes m back: 0, 1 deleted meanwhile (maildb queue delete), -1. */
static int
save(const struct qmsg *m)
{
	struct queue *q;
	int r;

	if (q_open(&q) == -1)
		return -1;
	r = queue_update(q, m);
	queue_close(&q);
	if (r == -1)
		log_warnx("qid=%s cannot update its record", m->id);
	return r;
}

static int
drop(const char *id)
{
	struct queue *q;
	int r;

	if (q_open(&q) == -1)
		return -1;
	r = queue_remove(q, id);
	queue_close(&q);
	return r;
}

/* A memfd holding the len octets at p, at offset 0; -1 logged. */
static int
memfd_of(const char *p, size_t len)
{
	int fd = memfd_create("inetmail-dsn", MFD_CLOEXEC);

	if (fd == -1 || write_all(fd, p, len) == -1 ||
	    lseek(fd, 0, SEEK_SET) == -1) {
		log_warn("memfd for a bounce");
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

/* A bounce for a remote sender goes into the queue with the null sender. */
static int
bounce_remote(const char *to, int fd, char *newid, size_t size)
{
	struct queue *q;
	const char *rcpts[1] = { to };
	int r;

	if (q_open(&q) == -1)
		return -1;
	r = queue_add(q, fd, "", "", rcpts, 1, newid, size);
	queue_close(&q);
	return r;
}

/*
 * Sends the DSN for m's failed recipients to its sender. 0 done (or
 * nothing to send), -1 try again later.
 */
static int
bounce(struct run *r, const struct qmsg *m, int msgfd)
{
	struct buf out;
	char newid[QID_MAX];
	size_t i, nfailed = 0;
	int fd, rv;

	for (i = 0; i < m->nrcpt; i++)
		nfailed += m->rcpts[i].state == QR_FAILED;
	if (nfailed == 0)
		return 0;
	if (m->sender[0] == '\0') {
		/* a bounce that bounced: only the log knows (never loop) */
		log_warnx("qid=%s from=<> failed=%zu status=dropped "
		    "reason=\"undeliverable bounce\"", m->id, nfailed);
		return 0;
	}
	buf_init(&out, DSN_SIZE_MAX);
	if (dsn_build(&out, m, msgfd, conf.hostname, (int64_t)time(NULL)) == -1) {
		log_warnx("qid=%s cannot build the bounce", m->id);
		buf_free(&out);
		return -1;
	}
	fd = memfd_of(out.ptr, out.len);
	buf_free(&out);
	if (fd == -1)
		return -1;
	if (conf_is_local_domain(domain_of(m->sender)) ||
	    strchr(m->sender, '@') == NULL) {
		rv = r->local(m->sender, fd, m->id, r->local_arg);
		if (rv == 1)
			log_warnx("qid=%s bounce to <%s>: no such local "
			    "recipient, dropped", m->id, pr(m->sender));
		else if (rv == 0)
			log_info("qid=%s bounce to=<%s> status=delivered", m->id,
			    pr(m->sender));
		else
			log_warnx("qid=%s bounce to=<%s> status=deferred", m->id,
			    pr(m->sender));
		rv = rv == -1 ? -1 : 0;
	} else {
		rv = bounce_remote(m->sender, fd, newid, sizeof(newid));
		if (rv == 0)
			log_info("qid=%s bounce to=<%s> status=queued "
			    "bounce_qid=%s", m->id, pr(m->sender), newid);
		else
			log_warnx("qid=%s bounce to=<%s> status=deferred", m->id,
			    pr(m->sender));
	}
	close(fd);
	return rv;
}

static void
log_verdict(const struct qmsg *m, const struct qrcpt *rc, int64_t now)
{
	static const char *names[] = { "deferred", "sent", "bounced" };
	char from[LOG_TEXT_MAX + 8], to[LOG_TEXT_MAX + 8];
	char relay[LOG_TEXT_MAX + 8], diag[LOG_TEXT_MAX + 8];

	/* pr() has one buffer: one printable() buffer per field */
	printable(m->sender, strlen(m->sender), from, sizeof(from));
	printable(rc->addr, strlen(rc->addr), to, sizeof(to));
	printable(rc->remote[0] ? rc->remote : "none",
	    strlen(rc->remote[0] ? rc->remote : "none"), relay, sizeof(relay));
	printable(rc->diag, strlen(rc->diag), diag, sizeof(diag));
	log_info("qid=%s from=<%s> to=<%s> relay=\"%s\" delay=%lld attempts=%u "
	    "dsn=%s status=%s diag=\"%s\"", m->id, from, to, relay,
	    (long long)(now - m->arrival), m->attempts,
	    rc->status[0] ? rc->status : "-",
	    rc->state >= 0 && rc->state <= 2 ? names[rc->state] : "?", diag);
}

/*
 * Delivers the pending recipients of m: one smtpc_deliver() per domain
 * (per relay_host: one for all), the record saved after each so that a
 * kill never resends more than one transaction. Returns 0, 1 when the
 * record disappeared meanwhile, -1 on a local error (stop this record).
 */
static int
deliver_pending(struct qmsg *m, int msgfd)
{
	struct smtpc_rcpt *sr;
	size_t *idx, i, j, k;
	char dom[SMTP_DOMAIN_MAX + 3], *tried;
	int64_t now;
	int r = 0;

	sr = xcalloc(m->nrcpt, sizeof(*sr));
	idx = xcalloc(m->nrcpt, sizeof(*idx));
	tried = xcalloc(m->nrcpt, 1);	/* in this attempt (a 4xx stays pending) */
	for (i = 0; i < m->nrcpt; i++) {
		struct qrcpt *rc = &m->rcpts[i];

		if (rc->state != QR_PENDING || domain_of(rc->addr)[0] != '\0')
			continue;
		/* no domain: nothing can route it */
		rc->state = QR_FAILED;
		str_copy(rc->status, sizeof(rc->status), "5.1.3");
		rc->remote[0] = '\0';
		str_copy(rc->diag, sizeof(rc->diag),
		    "Bad destination mailbox address syntax: no domain");
	}
	for (i = 0; i < m->nrcpt; i++) {
		if (m->rcpts[i].state != QR_PENDING || tried[i])
			continue;
		/* the group: every pending recipient of this domain (with
		 * relay_host all of them: smtpc sends every group there) */
		str_copy(dom, sizeof(dom), domain_of(m->rcpts[i].addr));
		for (k = 0, j = i; j < m->nrcpt; j++) {
			struct qrcpt *rc = &m->rcpts[j];

			if (rc->state != QR_PENDING || tried[j] ||
			    (conf.relay_host[0] == '\0' &&
			    strcasecmp(domain_of(rc->addr), dom) != 0))
				continue;
			memset(&sr[k], 0, sizeof(sr[k]));
			sr[k].addr = rc->addr;
			tried[j] = 1;
			idx[k++] = j;
		}
		if (smtpc_deliver(dom, m->sender, msgfd, m->size, sr, k) == -1)
			log_warnx("qid=%s local error: %s", m->id,
			    pr(sr[0].diag));
		now = (int64_t)time(NULL);
		for (j = 0; j < k; j++) {
			struct qrcpt *rc = &m->rcpts[idx[j]];

			rc->state = sr[j].state;
			str_copy(rc->status, sizeof(rc->status), sr[j].status);
			str_copy(rc->remote, sizeof(rc->remote), sr[j].remote);
			str_copy(rc->diag, sizeof(rc->diag), sr[j].diag);
			if (rc->state != QR_PENDING && rc->state != QR_SENT &&
			    rc->state != QR_FAILED)
				rc->state = QR_PENDING;
			log_verdict(m, rc, now);
		}
		m->last_try = now;
		if ((r = save(m)) != 0)
			break;
	}
	free(tried);
	free(sr);
	free(idx);
	return r;
}

/* One record, due now. */
static void
run_one(struct run *r, const char *id)
{
	struct queue *q;
	struct qmsg m;
	size_t i, npending;
	int64_t now;
	int fd, g;
	char age[64], diag[QERR_MAX];

	if (q_open(&q) == -1)
		return;
	g = queue_get(q, id, &m);
	queue_close(&q);
	if (g != 0)
		return;	/* gone meanwhile (delivered by maildb, deleted) */
	now = (int64_t)time(NULL);
	if (m.next_try > now) {
		qmsg_free(&m);
		return;
	}
	if ((fd = queue_msg_open(conf.queue_dir, id)) == -1) {
		if (errno == ENOENT) {
			/* cannot be delivered, and cannot be bounced with
			 * its header: say so loudly and drop the record */
			log_warnx("qid=%s from=<%s> message file missing: "
			    "record dropped, %zu recipients NOT delivered",
			    id, pr(m.sender), m.nrcpt);
			drop(id);
		} else
			log_warn("qid=%s cannot open the message file", id);
		qmsg_free(&m);
		return;
	}

	for (npending = 0, i = 0; i < m.nrcpt; i++)
		npending += m.rcpts[i].state == QR_PENDING;
	if (npending > 0) {
		/* a lease first: the attempt and the next retry time are
		 * committed before anything is sent, so a store that fails
		 * after the remote accepted cannot cause a resend every run */
		m.attempts++;
		m.next_try = queue_next_try(m.attempts, now);
		if (save(&m) != 0)
			goto out;
		switch (deliver_pending(&m, fd)) {
		case 1:
			log_info("qid=%s removed during delivery", id);
			goto out;
		case -1:
			goto out;
		}
	}
	now = (int64_t)time(NULL);
	for (npending = 0, i = 0; i < m.nrcpt; i++)
		npending += m.rcpts[i].state == QR_PENDING;
	/* Too old: whatever is still pending after this last try fails.
	 * (Postfix too tries once more before it gives up.) */
	if (npending > 0 &&
	    now - m.arrival >= (int64_t)(conf.queue_lifetime / 1000)) {
		fmt_age((uint64_t)(now - m.arrival), age, sizeof(age));
		for (i = 0; i < m.nrcpt; i++) {
			struct qrcpt *rc = &m.rcpts[i];

			if (rc->state != QR_PENDING)
				continue;
			(void)str_fmt(diag, sizeof(diag), "message expired after "
			    "%s in queue: %s", age, rc->diag[0] ? rc->diag :
			    "no attempt succeeded");
			str_copy(rc->diag, sizeof(rc->diag), diag);
			str_copy(rc->status, sizeof(rc->status), "4.4.7");
			rc->state = QR_FAILED;
			log_verdict(&m, rc, now);
		}
		npending = 0;
	}
	if (npending > 0) {
		m.next_try = queue_next_try(m.attempts, now);
		if (save(&m) == 0)
			log_info("qid=%s pending=%zu next_try=%lld", id,
			    npending, (long long)(m.next_try - now));
		goto out;
	}
	/* Nothing pending: bounce what failed, then the record goes. */
	if (bounce(r, &m, fd) == -1) {
		/* a bounce that cannot be delivered (the sender's mailbox
		 * stays full) is not kept for ever: twice queue_lifetime */
		if (now - m.arrival >=
		    2 * (int64_t)(conf.queue_lifetime / 1000)) {
			log_warnx("qid=%s from=<%s> the bounce could not be "
			    "delivered for %llu s: dropped", id, pr(m.sender),
			    (unsigned long long)(now - m.arrival));
			drop(id);
			goto out;
		}
		m.next_try = queue_next_try(m.attempts ? m.attempts : 1, now);
		save(&m);
		goto out;
	}
	if (drop(id) == 0)
		log_info("qid=%s status=removed", id);
out:
	close(fd);
	qmsg_free(&m);
}

/* ---- the worker: passes over the queue ---- */

struct collect {
	struct run	*run;
	int64_t		 now;
	char		(*ids)[QID_MAX];
	size_t		 n, max;
};

static int
collect_due(const struct qmsg *m, void *arg)
{
	struct collect *c = arg;

	if (m->next_try > c->now || seen(c->run, m->id))
		return 0;
	if (c->n == c->max) {
		c->max = c->max ? c->max * 2 : 64;
		c->ids = xreallocarray(c->ids, c->max, sizeof(*c->ids));
	}
	str_copy(c->ids[c->n++], QID_MAX, m->id);
	return 0;
}

/* The ids due now and not yet handled in this run; -1 on error. */
static ssize_t
due(struct run *r, int clean, char (**ids)[QID_MAX])
{
	struct collect c = { r, (int64_t)time(NULL), NULL, 0, 0 };
	struct queue *q;
	int rv;

	*ids = NULL;
	if (q_open(&q) == -1)
		return -1;
	if (clean && queue_clean(q) > 0)
		log_info("queue: removed orphaned files");
	rv = queue_list(q, collect_due, &c);
	queue_close(&q);
	if (rv == -1) {
		free(c.ids);
		return -1;
	}
	*ids = c.ids;
	return (ssize_t)c.n;
}

static int
lock_runner(int fd)
{
	char pid[32];

	if (flock(fd, LOCK_EX | LOCK_NB) == -1)
		return -1;
	/* who holds it, for the administrator (and the kill test) */
	str_fmt(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == 0)
		(void)pwrite(fd, pid, strlen(pid), 0);
	return 0;
}

int
runner_run(runner_local_fn local, void *local_arg)
{
	struct run r = { local, local_arg, NULL, 0, 0 };
	char path[4096], (*ids)[QID_MAX];
	ssize_t n, i;
	int lockfd, pass, total = 0;

	if (str_fmt(path, sizeof(path), "%s/%s", conf.queue_dir,
	    RUNNER_LOCK) == -1)
		return 1;
	if ((lockfd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600)) == -1) {
		log_warn("%s", pr(path));
		return 1;
	}
	if (lock_runner(lockfd) == -1) {
		if (errno != EWOULDBLOCK) {
			log_warn("flock %s", pr(path));
			return 1;
		}
		log_info("queue: another runner is at work");
		return 0;
	}
	log_info("queue: run starts");
	for (pass = 0; pass < RUNNER_PASSES_MAX; pass++) {
		if ((n = due(&r, pass == 0, &ids)) == -1)
			break;
		for (i = 0; i < n; i++) {
			mark_seen(&r, ids[i]);
			run_one(&r, ids[i]);
		}
		free(ids);
		total += (int)n;
		if (n > 0)
			continue;	/* new mail may have come meanwhile */
		/* Let go, then look once more: a kick that found the lock
		 * busy just before we let go must not wait for the timer. */
		flock(lockfd, LOCK_UN);
		if ((n = due(&r, 0, &ids)) <= 0) {
			if (n == 0)
				free(ids);
			break;
		}
		free(ids);
		if (lock_runner(lockfd) == -1)
			break;	/* another runner took over */
	}
	log_info("queue: run ends messages=%d", total);
	free(r.seen);
	close(lockfd);
	return 0;
}

/* ---- root, before the worker drops ---- */

int
runner_prepare(struct mailuser *u)
{
	char err[256];

	/* The runner serves no client: the listener's role (a kick from a
	 * submission port passes -o role=submission) must not make the
	 * daemon ask for AUTH before it delivers a bounce. */
	if (conf_option("role=mx", err, sizeof(err)) == -1) {
		log_warnx("runner: %s", err);
		return -1;
	}
	if (user_lookup(conf.unpriv_user, u) != 0) {
		log_warnx("unpriv_user %s: no such account", pr(conf.unpriv_user));
		return -1;
	}
	if (u->uid == 0) {
		log_warnx("unpriv_user %s is root: refusing to run the queue",
		    pr(conf.unpriv_user));
		return -1;
	}
	/* As root, before the drop: the CA file and the secrets. */
	if (smtpc_init(err, sizeof(err)) == -1) {
		log_warnx("relay configuration: %s", err);
		return -1;
	}
	if (relay_auth_exposed())
		return -1;
	if (read_relay_auth() == -1)
		return -1;
	return queue_prepare(conf.queue_dir, u->uid, u->gid);
}

/* ---- runner_kick ---- */

/* True when this process runs in one of inetmail's own systemd units: a
 * background process there dies with the connection's service instance. */
static int
in_systemd_unit(void)
{
	char buf[2048];
	ssize_t n;
	int fd;

	if (access("/run/systemd/system", F_OK) == -1 ||
	    (fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strstr(buf, "/inetmail-") != NULL && strstr(buf, ".service") != NULL;
}

/* In the detached grandchild: never returns. */
static void __attribute__((noreturn))
start_runner(void)
{
	char *const *kept = daemon_args();
	char **argv;
	sigset_t none;
	size_t n, i;
	int fd, keep_stderr = 0;

	for (n = 0; kept[n] != NULL; n++)
		if (strcmp(kept[n], "-d") == 0)
			keep_stderr = 1;	/* -d: fd 2 is a log, never a client */
	if ((fd = open("/dev/null", O_RDWR)) == -1)
		_exit(1);
	/* fds 0 and 1 may be the client's connection: never inherit it */
	if (dup2(fd, 0) == -1 || dup2(fd, 1) == -1 ||
	    (!keep_stderr && dup2(fd, 2) == -1))
		_exit(1);
	if (fd > 2)
		close(fd);
	if (close_range(3, ~0U, 0) == -1)
		for (fd = 3; fd < 1024; fd++)
			close(fd);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (in_systemd_unit()) {
		pid_t pid = fork();
		int status;

		if (pid == 0) {
			execlp("systemctl", "systemctl", "--no-block", "--quiet",
			    "start", QUEUE_UNIT, (char *)NULL);
			_exit(127);
		}
		if (pid > 0 && waitpid(pid, &status, 0) == pid &&
		    WIFEXITED(status) && WEXITSTATUS(status) == 0)
			_exit(0);
		/* no such unit: run it here, as without systemd */
	}
	argv = xcalloc(n + 3, sizeof(*argv));
	argv[0] = "smtpd";
	argv[1] = "-q";
	for (i = 0; i < n; i++)
		argv[i + 2] = kept[i];
	argv[n + 2] = NULL;
	execv("/proc/self/exe", argv);
	_exit(127);
}

void
runner_kick(void)
{
	pid_t pid, mid;
	int status;

	if ((mid = fork()) == -1) {
		log_warn("runner_kick: fork");
		return;
	}
	if (mid == 0) {
		/* its own session, so no signal to our group reaches it */
		if (setsid() == -1)
			_exit(1);
		if ((pid = fork()) == -1)
			_exit(1);
		if (pid == 0)
			start_runner();
		_exit(0);
	}
	/* the middle child exits at once: this wait does not block */
	while (waitpid(mid, &status, 0) == -1 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		log_warnx("runner_kick: could not start the queue runner");
}
