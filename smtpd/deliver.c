/*
 * deliver.c - root's delivery work, one way for every caller: the
 * monitor's DELIVER and the queue runner's bounces to local senders
 * (smtpd -q). Recipients are resolved to accounts and alias targets in
 * other domains (remembered until the delivery, so each address costs one
 * lookup); a delivery forks one child per local account, which drops to
 * that account before it touches the Maildir, and hands the remote
 * recipients to the relay queue through a child running as unpriv_user.
 * A message is acknowledged only when every copy is safe; a partial
 * failure undoes the copies already made, and a queued record is made
 * last, so nothing has to be taken back out of the queue.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "deliver.h"
#include "index.h"
#include "log.h"
#include "maildir.h"
#include "params.h"
#include "privsep.h"
#include "queue.h"
#include "runner.h"
#include "smtpd.h"
#include "util.h"

/* Exit codes of a delivery child, sysexits style. */
#define EX_DELIVERED	0
#define EX_TEMP		75
#define EX_FULL		73

/* The pending delivery, and the addresses resolved for it. */
static struct {
	struct mailuser	*users;		/* its local accounts */
	size_t		 nusers, maxusers;
	char		(*remotes)[SMTP_PATH_MAX + 1];	/* to be queued */
	size_t		 nremotes, maxremotes;
	unsigned	 nrcpts;
	int		 failed;	/* a recipient could not be added */
	const char	*auth_user;	/* into the queue record */
	struct resolved	*cache;
	size_t		 ncache;
} pend;

int
rcpt_is_remote(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL && !conf_is_local_domain(at + 1);
}

int
rcpt_resolve(const char *addr, struct resolved **out)
{
	static struct resolved scratch;
	struct resolved *r;
	size_t i;
	int n;

	for (i = 0; i < pend.ncache; i++)
		if (strcmp(pend.cache[i].addr, addr) == 0) {
			*out = &pend.cache[i];
			return pend.cache[i].n;
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
	if (n <= 0 || pend.ncache >= conf.max_recipients)
		return n;
	pend.cache = xreallocarray(pend.cache, pend.ncache + 1, sizeof(*pend.cache));
	r = &pend.cache[pend.ncache++];
	*r = scratch;
	str_copy(r->addr, sizeof(r->addr), addr);
	r->users = xcalloc(r->nusers + 1, sizeof(*r->users));
	memcpy(r->users, scratch.users, r->nusers * sizeof(*r->users));
	r->remote = xcalloc(r->nremote + 1, sizeof(*r->remote));
	memcpy(r->remote, scratch.remote, r->nremote * sizeof(*r->remote));
	*out = r;
	return n;
}

/* Adds a remote recipient of the pending delivery (once). */
static int
add_remote(const char *addr)
{
	size_t i;

	for (i = 0; i < pend.nremotes; i++)
		if (strcmp(pend.remotes[i], addr) == 0)
			return 0;
	if (pend.nremotes >= QUEUE_RCPT_MAX)
		return -1;
	if (pend.nremotes == pend.maxremotes) {
		pend.maxremotes = pend.maxremotes ? pend.maxremotes * 2 : 16;
		pend.remotes = xreallocarray(pend.remotes, pend.maxremotes,
		    sizeof(*pend.remotes));
	}
	return str_copy(pend.remotes[pend.nremotes++], sizeof(*pend.remotes),
	    addr);
}

static uint32_t
add_recipient(const char *addr, int may_relay)
{
	struct resolved *found;
	size_t i, j;
	int n;

	if (++pend.nrcpts > conf.max_recipients)
		return ANS_TEMP;
	if (rcpt_is_remote(addr)) {
		if (!may_relay)
			return ANS_RELAY;
		return add_remote(addr) == 0 ? ANS_OK : ANS_TEMP;
	}
	if ((n = rcpt_resolve(addr, &found)) <= 0)
		return n == 0 ? ANS_NOUSER : ANS_TEMP;
	for (i = 0; i < found->nremote; i++)
		if (add_remote(found->remote[i]) == -1)
			return ANS_TEMP;
	for (i = 0; i < found->nusers; i++) {
		for (j = 0; j < pend.nusers; j++)
			if (pend.users[j].uid == found->users[i].uid &&
			    strcmp(pend.users[j].name, found->users[i].name) == 0)
				break;
		if (j < pend.nusers)
			continue;
		if (pend.nusers == pend.maxusers) {
			pend.maxusers = pend.maxusers ? pend.maxusers * 2 : 16;
			pend.users = xreallocarray(pend.users, pend.maxusers,
			    sizeof(*pend.users));
		}
		pend.users[pend.nusers++] = found->users[i];
	}
	return ANS_OK;
}

uint32_t
delivery_add(const char *addr, int may_relay)
{
	uint32_t ans = add_recipient(addr, may_relay);

	if (ans != ANS_OK)
		pend.failed = 1;
	return ans;
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
	rcpts = xcalloc(pend.nremotes, sizeof(*rcpts));
	for (i = 0; i < pend.nremotes; i++)
		rcpts[i] = pend.remotes[i];
	r = queue_add(q, a->msgfd, a->sender, pend.auth_user, rcpts, pend.nremotes, id,
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
	log_info("msgid=%s queued=%s nrcpt=%zu", msgid, qid, pend.nremotes);
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
	names = xcalloc(pend.nusers + 1, sizeof(*names));
	for (i = 0; i < pend.nusers && rv == EX_DELIVERED; i++) {
		struct deliver_args a = { &pend.users[i], msgfd, header, NULL };

		rv = as_user(&pend.users[i], PRIV_ALLOW_ROOT | PRIV_PRIMARY_GROUP,
		    deliver_one, &a, names[i], sizeof(names[i]));
		if (rv == EX_DELIVERED && names[i][0] == '\0')
			rv = EX_TEMP;
		if (rv == EX_DELIVERED) {
			done++;
			log_info("msgid=%s to=%s status=delivered file=%s", msgid,
			    pend.users[i].name, pr(names[i]));
		}
	}
	if (rv == EX_DELIVERED && pend.nremotes > 0 &&
	    enqueue(msgfd, sender, msgid, qid, sizeof(qid)) == -1)
		rv = EX_TEMP;
	if (rv != EX_DELIVERED) {
		for (i = 0; i < done; i++) {
			struct deliver_args a = { &pend.users[i], -1, NULL, names[i] };
			char none[1];

			if (as_user(&pend.users[i], PRIV_ALLOW_ROOT |
			    PRIV_PRIMARY_GROUP, undo_one, &a, none,
			    sizeof(none)) != EX_DELIVERED)
				log_warnx("msgid=%s to=%s undo failed file=%s",
				    msgid, pend.users[i].name, pr(names[i]));
			else
				log_info("msgid=%s to=%s status=undone", msgid,
				    pend.users[i].name);
		}
	} else if (qid[0] != '\0')
		runner_kick();
	free(names);
	return rv == EX_DELIVERED ? ANS_OK : rv == EX_FULL ? ANS_FULL : ANS_TEMP;
}

void
delivery_reset(void)
{
	pend.nusers = 0;
	pend.nremotes = 0;
	pend.nrcpts = 0;
	pend.failed = 0;
	while (pend.ncache > 0) {
		pend.ncache--;
		free(pend.cache[pend.ncache].users);
		free(pend.cache[pend.ncache].remote);
	}
}

uint32_t
delivery_run(int msgfd, const char *sender, const char *msgid,
    const char *auth_user)
{
	uint32_t ans = ANS_TEMP;

	pend.auth_user = auth_user;
	if ((pend.nusers > 0 || pend.nremotes > 0) && !pend.failed)
		ans = deliver(msgfd, sender, msgid);
	delivery_reset();
	return ans;
}

int
delivery_bounce(const char *to, int msgfd, const char *qid, void *unused)
{
	struct resolved *found;
	int n;

	(void)unused;
	delivery_reset();
	if ((n = rcpt_resolve(to, &found)) <= 0)
		return n == 0 ? 1 : -1;
	delivery_add(to, 0);
	return delivery_run(msgfd, "", qid, "") == ANS_OK ? 0 : -1;
}
