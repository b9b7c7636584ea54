/*
 * queue_cmd.c - `maildb queue list|show|flush|delete|bounce`: the relay
 * queue (queue.h) for the administrator. maildb runs as root; the queue's
 * files must all stay owned by unpriv_user, so after queue_prepare() the
 * store is only ever opened in a child that has dropped to unpriv_user (no
 * chroot). flush and bounce then start the queue runner, `smtpd -q`, as
 * root from the parent (the runner drops privileges itself), passing on the
 * -f and -o options maildb was given.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "conf.h"
#include "log.h"
#include "maildb.h"
#include "privsep.h"
#include "queue.h"
#include "util.h"

#define HEADER_MAX	(1024 * 1024)	/* show prints at most this much header */
#define RUNNER_ARGS_MAX	64

static const char *const state_name[] = { "pending", "sent", "failed" };

enum qop { Q_LIST, Q_SHOW, Q_FLUSH, Q_DELETE, Q_BOUNCE };

struct qcmd {
	enum qop	 op;
	const char	*id;	/* NULL: every message (flush) */
	int		 json;
	int64_t		 now;
	unsigned	 count;	/* messages seen / changed */
	unsigned	 nrcpt;
	uint64_t	 octets;
};

static void
queue_usage(void)
{
	fprintf(stderr, "usage: maildb queue list [--json]\n"
	    "       maildb queue show ID\n"
	    "       maildb queue flush [ID]\n"
	    "       maildb queue delete ID\n"
	    "       maildb queue bounce ID\n");
}

/* "45s", "12m", "3h04m", "2d05h" */
static void
fmt_age(int64_t secs, char *out, size_t size)
{
	if (secs < 0)
		secs = 0;
	if (secs < 60)
		str_fmt(out, size, "%llds", (long long)secs);
	else if (secs < 3600)
		str_fmt(out, size, "%lldm", (long long)(secs / 60));
	else if (secs < 86400)
		str_fmt(out, size, "%lldh%02lldm", (long long)(secs / 3600),
		    (long long)(secs % 3600 / 60));
	else
		str_fmt(out, size, "%lldd%02lldh", (long long)(secs / 86400),
		    (long long)(secs % 86400 / 3600));
}

static const char *
state_str(int s)
{
	return s >= 0 && s <= QR_FAILED ? state_name[s] : "?";
}

/* The next try as text: "now" when due, else the time and how far off. */
static void
fmt_next(const struct qcmd *c, int64_t t, char *out, size_t size)
{
	char when[32], in[16];

	if (t <= c->now) {
		str_copy(out, size, "now");
		return;
	}
	fmt_time(t, when, sizeof(when));
	fmt_age(t - c->now, in, sizeof(in));
	str_fmt(out, size, "%s (in %s)", when, in);
}

static void
print_rcpts(const struct qmsg *m)
{
	size_t i;

	for (i = 0; i < m->nrcpt; i++) {
		const struct qrcpt *r = &m->rcpts[i];

		printf("    %-7s %s", state_str(r->state), r->addr);
		if (r->status[0] != '\0')
			printf("  %s", r->status);
		if (r->remote[0] != '\0')
			printf("  %s:", r->remote);
		if (r->diag[0] != '\0')
			printf(" %s", r->diag);
		putchar('\n');
	}
}

static void
json_time_or_null(int64_t t)
{
	char buf[32];

	if (t == 0) {
		fputs("null", stdout);
		return;
	}
	fmt_time(t, buf, sizeof(buf));
	json_str(buf);
}

static void
print_json(const struct qcmd *c, const struct qmsg *m)
{
	size_t i;

	printf("%s\n  {\"id\": ", c->count == 0 ? "" : ",");
	json_str(m->id);
	printf(", \"arrival\": ");
	json_time_or_null(m->arrival);
	printf(", \"age\": %lld, \"size\": %llu, \"sender\": ",
	    (long long)(c->now - m->arrival > 0 ? c->now - m->arrival : 0),
	    (unsigned long long)m->size);
	json_str(m->sender);
	printf(", \"auth_user\": ");
	json_str(m->auth_user);
	printf(", \"attempts\": %u, \"next_try\": ", m->attempts);
	json_time_or_null(m->next_try);
	printf(", \"due\": %s, \"last_try\": ",
	    m->next_try <= c->now ? "true" : "false");
	json_time_or_null(m->last_try);
	printf(",\n   \"recipients\": [");
	for (i = 0; i < m->nrcpt; i++) {
		const struct qrcpt *r = &m->rcpts[i];

		printf("%s\n    {\"address\": ", i == 0 ? "" : ",");
		json_str(r->addr);
		printf(", \"state\": ");
		json_str(state_str(r->state));
		printf(", \"status\": ");
		json_str(r->status);
		printf(", \"remote\": ");
		json_str(r->remote);
		printf(", \"diag\": ");
		json_str(r->diag);
		putchar('}');
	}
	printf("]}");
}

static void
print_text(const struct qcmd *c, const struct qmsg *m)
{
	char age[16], next[64], last[32];

	fmt_age(c->now - m->arrival, age, sizeof(age));
	fmt_next(c, m->next_try, next, sizeof(next));
	if (m->last_try != 0)
		fmt_time(m->last_try, last, sizeof(last));
	else
		str_copy(last, sizeof(last), "never");
	printf("%s %6s %9llu <%s>\n", m->id, age,
	    (unsigned long long)m->size, m->sender);
	printf("    attempts %u, last try %s, next try %s\n", m->attempts,
	    last, next);
	print_rcpts(m);
}

static int
list_one(const struct qmsg *m, void *arg)
{
	struct qcmd *c = arg;
	size_t i;

	if (c->json)
		print_json(c, m);
	else
		print_text(c, m);
	c->count++;
	c->octets += m->size;
	for (i = 0; i < m->nrcpt; i++)
		c->nrcpt += m->rcpts[i].state == QR_PENDING;
	return 0;
}

static int
flush_one(struct queue *q, const struct qmsg *m, struct qcmd *c)
{
	struct qmsg u = *m;	/* shares rcpts: not freed here */
	int r;

	if (m->next_try == 0)
		return 0;
	u.next_try = 0;
	if ((r = queue_update(q, &u)) == -1)
		return -1;
	if (r == 0)
		c->count++;
	return 0;
}

struct flush_all {
	struct queue	*q;
	struct qcmd	*c;
};

static int
flush_cb(const struct qmsg *m, void *arg)
{
	struct flush_all *f = arg;

	return flush_one(f->q, m, f->c);
}

/* Prints the message's header: up to and including the empty line. */
static int
show_header(const char *id)
{
	char chunk[8192];
	ssize_t n = 0, upto;
	size_t total = 0;
	int fd, nl = 1, done = 0;

	if ((fd = queue_msg_open(conf.queue_dir, id)) == -1) {
		fprintf(stderr, "maildb: queue: %s/msg/%s: %s\n", conf.queue_dir,
		    id, strerror(errno));
		return 1;
	}
	while (!done && total < HEADER_MAX &&
	    (n = read(fd, chunk, sizeof(chunk))) > 0) {
		if ((upto = header_end(chunk, (size_t)n, &nl, 0)) >= 0)
			done = 1;
		else
			upto = n;
		fwrite(chunk, 1, (size_t)upto, stdout);
		total += (size_t)upto;
	}
	close(fd);
	if (n < 0) {
		fprintf(stderr, "maildb: queue: read msg/%s: %s\n", id,
		    strerror(errno));
		return 1;
	}
	if (!done && total >= HEADER_MAX)
		printf("[header cut at %d octets]\n", HEADER_MAX);
	return 0;
}

static int
show(const struct qcmd *c, const struct qmsg *m)
{
	char t[32];

	printf("id: %s\n", m->id);
	fmt_time(m->arrival, t, sizeof(t));
	printf("arrival: %s\n", t);
	printf("size: %llu\n", (unsigned long long)m->size);
	printf("sender: <%s>\n", m->sender);
	if (m->auth_user[0] != '\0')
		printf("auth_user: %s\n", m->auth_user);
	printf("attempts: %u\n", m->attempts);
	if (m->last_try != 0) {
		fmt_time(m->last_try, t, sizeof(t));
		printf("last_try: %s\n", t);
	} else
		printf("last_try: never\n");
	{
		char next[64];

		fmt_next(c, m->next_try, next, sizeof(next));
		printf("next_try: %s\n", next);
	}
	printf("recipients: %zu\n", m->nrcpt);
	print_rcpts(m);
	printf("\n");
	fflush(stdout);
	return show_header(m->id);
}

/* Runs as unpriv_user: the operation on the open store. */
static int
run_op(struct queue *q, struct qcmd *c)
{
	struct qmsg m;
	struct flush_all fa;
	size_t i;
	int r, n;

	if (c->op == Q_LIST) {
		if (c->json)
			printf("[");
		r = queue_list(q, list_one, c);
		if (c->json)
			printf("%s]\n", c->count ? "\n" : "");
		else if (c->count == 0)
			printf("queue is empty\n");
		else
			printf("-- %u message%s, %llu octets, %u recipient%s "
			    "pending\n", c->count, c->count == 1 ? "" : "s",
			    (unsigned long long)c->octets, c->nrcpt,
			    c->nrcpt == 1 ? "" : "s");
		return r == -1;
	}
	if (c->op == Q_FLUSH && c->id == NULL) {
		fa.q = q;
		fa.c = c;
		if (queue_list(q, flush_cb, &fa) == -1)
			return 1;
		printf("%u message%s made due now\n", c->count,
		    c->count == 1 ? "" : "s");
		return 0;
	}
	if ((r = queue_get(q, c->id, &m)) != 0) {
		fprintf(stderr, "maildb: queue: %s: %s\n", c->id, r == 1 ?
		    "no such message" : "cannot read its record");
		return 1;
	}
	switch (c->op) {
	case Q_SHOW:
		r = show(c, &m);
		break;
	case Q_DELETE:
		if ((r = queue_remove(q, c->id)) == 0) {
			log_info("queue: id=%s status=deleted by=maildb", c->id);
			printf("%s: deleted\n", c->id);
		}
		r = r != 0;
		break;
	case Q_FLUSH:
		r = flush_one(q, &m, c) == -1;
		if (r == 0)
			printf("%s: due now\n", c->id);
		break;
	case Q_BOUNCE:
		for (i = 0, n = 0; i < m.nrcpt; i++) {
			struct qrcpt *rc = &m.rcpts[i];

			if (rc->state != QR_PENDING)
				continue;
			rc->state = QR_FAILED;
			str_copy(rc->status, sizeof(rc->status), "5.0.0");
			rc->remote[0] = '\0';
			str_copy(rc->diag, sizeof(rc->diag),
			    "bounced by the administrator");
			n++;
		}
		m.next_try = 0;
		if ((r = queue_update(q, &m)) == 1)
			fprintf(stderr, "maildb: queue: %s: deleted meanwhile\n",
			    c->id);
		if (r == 0) {
			log_info("queue: id=%s status=bounced by=maildb "
			    "nrcpt=%d", c->id, n);
			printf("%s: %d recipient%s marked failed (5.0.0)\n",
			    c->id, n, n == 1 ? "" : "s");
		}
		r = r != 0;
		break;
	default:
		r = 1;
	}
	qmsg_free(&m);
	return r;
}

/* Forks a child that drops to unpriv_user and runs the operation. */
static int
in_queue_child(struct qcmd *c)
{
	struct passwd *pw;
	struct queue *q;
	FILE *mem, *term;
	char *out = NULL;
	size_t outlen = 0;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	char name[64];
	int status, r;

	if ((pw = getpwnam(conf.unpriv_user)) == NULL) {
		fprintf(stderr, "maildb: unpriv_user %s: no such account\n",
		    conf.unpriv_user);
		return 1;
	}
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (str_copy(name, sizeof(name), pw->pw_name) == -1) {
		fprintf(stderr, "maildb: unpriv_user: name too long\n");
		return 1;
	}
	if (geteuid() != 0 && geteuid() != uid) {
		fprintf(stderr, "maildb: queue: must be run as root (or as %s)\n",
		    name);
		return 1;
	}
	if (uid == 0) {
		fprintf(stderr, "maildb: unpriv_user %s is root; refusing\n",
		    name);
		return 1;
	}
	if (geteuid() == 0 && queue_prepare(conf.queue_dir, uid, gid) == -1) {
		fprintf(stderr, "maildb: queue: cannot prepare %s: %s\n",
		    conf.queue_dir, strerror(errno));
		return 1;
	}
	fflush(stdout);
	if ((pid = fork()) == -1) {
		perror("maildb: fork");
		return 1;
	}
	if (pid == 0) {
		if (geteuid() == 0)
			priv_drop(name, uid, gid, NULL, 0);
		if (queue_open(&q, conf.queue_dir) == -1) {
			fprintf(stderr, "maildb: queue: cannot open %s: %s "
			    "(details in the mail log)\n", conf.queue_dir,
			    strerror(errno));
			_exit(1);
		}
		/* the output is collected and printed after the store is
		 * closed: a pager or a stopped terminal must not hold the
		 * queue's lock (smtpd waits on it to queue mail) */
		if ((mem = open_memstream(&out, &outlen)) == NULL) {
			perror("maildb: open_memstream");
			_exit(1);
		}
		term = stdout;
		stdout = mem;
		r = run_op(q, c);
		if (queue_close(&q) == -1) {
			fprintf(stderr, "maildb: queue: closing the store "
			    "failed\n");
			r = 1;
		}
		stdout = term;
		fclose(mem);
		if (outlen > 0)
			fwrite(out, 1, outlen, stdout);
		free(out);
		fflush(stdout);
		_exit(r);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			perror("maildb: waitpid");
			return 1;
		}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/*
 * Replaces maildb with `smtpd -q` plus maildb's own -f/-o options. smtpd
 * is looked for beside maildb (an installation: both in sbin), then in
 * ../smtpd/ (the build tree). Returns 1 (told) when none can be run.
 */
static int
start_runner(char *const *opts, int nopts)
{
	char self[PATH_MAX], dir[PATH_MAX], path[PATH_MAX], *slash;
	char *args[RUNNER_ARGS_MAX + 3];
	static const char *const where[] = { "/smtpd", "/../smtpd/smtpd" };
	size_t k;
	ssize_t n;
	int i, na = 0;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0) {
		perror("maildb: /proc/self/exe");
		return 1;
	}
	self[n] = '\0';
	str_copy(dir, sizeof(dir), self);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	path[0] = '\0';
	for (k = 0; k < sizeof(where) / sizeof(where[0]); k++) {
		char try[PATH_MAX];

		if (str_fmt(try, sizeof(try), "%s%s", dir, where[k]) == -1)
			continue;
		if (access(try, X_OK) == 0 && realpath(try, path) != NULL)
			break;
		path[0] = '\0';
	}
	if (path[0] == '\0') {
		fprintf(stderr, "maildb: cannot start the queue runner: no "
		    "smtpd beside %s (tried %s/smtpd); the change is saved, "
		    "the next run of smtpd -q will act on it\n", self, dir);
		return 1;
	}
	if (nopts > RUNNER_ARGS_MAX) {
		fprintf(stderr, "maildb: too many options for smtpd -q\n");
		return 1;
	}
	args[na++] = path;
	args[na++] = (char *)"-q";
	for (i = 0; i < nopts; i++)
		args[na++] = opts[i];
	args[na] = NULL;
	printf("starting the queue runner: %s -q\n", path);
	fflush(stdout);
	fflush(stderr);
	execv(path, args);
	fprintf(stderr, "maildb: cannot start the queue runner %s: %s\n", path,
	    strerror(errno));
	return 1;
}

int
maildb_queue(const struct maildb_cmd *cmd, int argc, char **argv,
    const struct maildb_args *a)
{
	struct qcmd c;
	int i, r;

	(void)cmd;
	memset(&c, 0, sizeof(c));
	c.now = (int64_t)time(NULL);
	/* --json anywhere after the subcommand */
	for (i = 2; i < argc; i++)
		if (strcmp(argv[i], "--json") == 0) {
			c.json = 1;
			memmove(&argv[i], &argv[i + 1],
			    sizeof(*argv) * (size_t)(argc - i));
			argc--;
			i--;
		}
	if (argc < 2)
		goto usage;
	if (strcmp(argv[1], "list") == 0 && argc == 2)
		c.op = Q_LIST;
	else if (c.json)
		goto usage;
	else if (strcmp(argv[1], "show") == 0 && argc == 3)
		c.op = Q_SHOW;
	else if (strcmp(argv[1], "flush") == 0 && (argc == 2 || argc == 3))
		c.op = Q_FLUSH;
	else if (strcmp(argv[1], "delete") == 0 && argc == 3)
		c.op = Q_DELETE;
	else if (strcmp(argv[1], "bounce") == 0 && argc == 3)
		c.op = Q_BOUNCE;
	else
		goto usage;
	if (argc == 3) {
		c.id = argv[2];
		if (!queue_id_ok(c.id)) {
			fprintf(stderr, "maildb: queue: %s: no such message "
			    "(ids are %d characters of 0-9 A-Z)\n", pr(c.id),
			    QID_LEN);
			return 1;
		}
	}
	if (conf.queue_dir == NULL || conf.queue_dir[0] != '/') {
		fprintf(stderr, "maildb: queue_dir must be an absolute path\n");
		return 1;
	}
	if ((r = in_queue_child(&c)) != 0)
		return r;
	if (c.op == Q_FLUSH || c.op == Q_BOUNCE)
		return start_runner(a->opts, a->nopts);
	return 0;
usage:
	queue_usage();
	return 2;
}
