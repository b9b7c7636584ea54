/*
 * maildb - the administrator's tool over mailboxes and their indexes, and
 * the alias map. Runs as root; each mailbox is handled in a child that has
 * dropped to the mailbox's owner, after checking that the Maildir is a real
 * directory owned by that account. Inside the Maildir nothing is opened
 * through a symbolic link (openat with O_NOFOLLOW, fstatat with
 * AT_SYMLINK_NOFOLLOW); links planted there are reported, never followed.
 *
 * Two ways to look at an index:
 * - through libmail (idx_open: exclusive index lock, recovery, and a damaged
 *   index is set aside and rebuilt) for commands that may change it: ls,
 *   stat, show, dump, reindex, expire, rm;
 * - read-only (idx_check, index_check.h: shared index lock, Berkeley DB's
 *   DB->verify and a DB_RDONLY cursor, no environment) for users and
 *   verify, which report the state of an index and must not repair it
 *   behind the admin's back.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aliases.h"
#include "conf.h"
#include "index.h"
#include "index_check.h"
#include "log.h"
#include "maildb.h"
#include "maildir.h"
#include "params.h"
#include "privsep.h"
#include "user.h"
#include "util.h"

#define POP3_LOCK_NAME	"pop3.lock"	/* held by pop3d for a whole session */

static const char *const subdir[2] = { "new", "cur" };

/* Flags from the command line (anywhere after the command). */
static int	 json, headers_only, dry_run, all_users;
static const char *older_than;

static const char help_text[] =
    "usage: maildb [-f file] [-o key=value] command [args]\n"
    "commands:\n"
    "  users [--json]                      accounts with a mailbox: messages,\n"
    "                                      size, oldest/newest, index state\n"
    "  ls USER [--json]                    messages of USER (from the index)\n"
    "  show USER N|UIDL [--headers]        print a message (or its header)\n"
    "  stat [USER] [--json]                message count and size; all: totals\n"
    "  verify [USER]                       index against Maildir, owners,\n"
    "                                      modes, names, DB->verify; exit 1\n"
    "                                      when not clean\n"
    "  reindex USER|--all                  rebuild the index (UIDLs kept)\n"
    "  expire USER|--all --older-than AGE [--dry-run]\n"
    "                                      delete mail that arrived before AGE\n"
    "                                      (s, m, h, d suffix: 30d)\n"
    "  rm USER N|UIDL                      delete one message\n"
    "  dump USER                           every index record, one per line\n"
    "  newaliases                          compile the aliases file\n"
    "  aliases                             list the compiled alias map\n"
    "  apop set|rm|ls ...                  APOP secrets\n"
    "  throttle ls | clear ADDR|USER       login throttling state\n"
    "  greylist ls | clear ADDR|EMAIL|all  greylisting triplets\n"
    "  queue list [--json]                 the relay queue: messages, their\n"
    "                                      recipients, attempts, errors\n"
    "  queue show ID                       one queued message and its header\n"
    "  queue flush [ID]                    make due now, start smtpd -q\n"
    "  queue delete ID                     drop a queued message, no bounce\n"
    "  queue bounce ID                     fail it (5.0.0): the runner sends\n"
    "                                      the bounce\n"
    "  help                                this text\n";

static void __attribute__((noreturn))
usage(void)
{
	fputs(help_text, stderr);
	exit(2);
}

/* Prints s as a JSON string. */
void
json_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

void
local_time(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || localtime_r(&tt, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		snprintf(buf, size, "-");
}

void
fmt_time(int64_t t, char *out, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		str_copy(out, size, "?");
}

/* ---- running a command on one mailbox ---- */

struct mbox {
	struct mailuser	 u;
	char		 path[4096];
	struct idx	*ix;
	int		 mfd;		/* the Maildir, O_NOFOLLOW */
	int		 popfd;		/* pop3.lock, held (MB_POP3LOCK) */
	void		*res;		/* result sent back to the parent */
	size_t		 reslen;
};

typedef int (*mbox_fn)(struct mbox *, int argc, char **argv);

#define MB_INDEX	0x01	/* open the index */
#define MB_SYNC		0x02	/* and bring it up to date first */
#define MB_POP3LOCK	0x04	/* refuse while a POP3 session is open */
#define MB_DIRTY	0x08	/* force recovery and DB->verify at open */

/* Outcomes of mbox_prepare. */
#define MBP_OK		0
#define MBP_ERROR	1	/* no account, bad path */
#define MBP_NOMAILBOX	2	/* the Maildir does not exist */
#define MBP_REFUSED	3	/* not a directory, or wrong owner */

/* Set while walking every account: one without a Maildir is no error. */
static int quiet_missing;

/*
 * Looks the account up and checks its Maildir: a real directory (lstat,
 * no symlink) owned by the account. Messages go to stderr unless quiet;
 * why (when not NULL) gets a short reason.
 */
static int
mbox_prepare(const char *name, struct mbox *mb, int quiet, char *why,
    size_t whysize)
{
	struct stat st;
	char buf[256];
	int r;

	memset(mb, 0, sizeof(*mb));
	mb->mfd = mb->popfd = -1;
	buf[0] = '\0';
	if ((r = user_lookup(name, &mb->u)) != 0) {
		str_copy(buf, sizeof(buf), r == 1 ? "no such account" :
		    "account lookup failed");
		r = MBP_ERROR;
	} else if (user_maildir(&mb->u, mb->path, sizeof(mb->path)) == -1) {
		str_copy(buf, sizeof(buf), "bad mailbox path");
		r = MBP_ERROR;
	} else if (lstat(mb->path, &st) == -1) {
		str_fmt(buf, sizeof(buf), "%s: %s", mb->path, strerror(errno));
		r = errno == ENOENT ? MBP_NOMAILBOX : MBP_ERROR;
	} else if (!S_ISDIR(st.st_mode)) {
		str_fmt(buf, sizeof(buf), "%s is not a directory (symlinks are "
		    "not followed); refusing", mb->path);
		r = MBP_REFUSED;
	} else if (st.st_uid != mb->u.uid) {
		str_fmt(buf, sizeof(buf), "%s is owned by uid %u, not %u; "
		    "refusing", mb->path, (unsigned)st.st_uid,
		    (unsigned)mb->u.uid);
		r = MBP_REFUSED;
	} else
		r = MBP_OK;
	if (r != MBP_OK && !quiet && !(quiet_missing && r == MBP_NOMAILBOX))
		fprintf(stderr, "maildb: %s: %s\n", name, buf);
	if (why != NULL)
		str_copy(why, whysize, buf);
	return r;
}

/* Takes MAILDIR/inetmail/pop3.lock without waiting: 0, or -1 (told). */
static int
take_pop3_lock(struct mbox *mb)
{
	int dfd;

	if (mkdirat(mb->mfd, IDX_DIRNAME, 0700) == -1 && errno != EEXIST)
		goto fail;
	if ((dfd = openat(mb->mfd, IDX_DIRNAME, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1)
		goto fail;
	mb->popfd = openat(dfd, POP3_LOCK_NAME, O_RDWR | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	close(dfd);
	if (mb->popfd == -1)
		goto fail;
	while (flock(mb->popfd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK) {
			fprintf(stderr, "maildb: %s: a POP3 session is open "
			    "(%s/%s/%s is locked): it has numbered the messages; "
			    "try again when it has ended\n", mb->u.name,
			    mb->path, IDX_DIRNAME, POP3_LOCK_NAME);
			return -1;
		}
		goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "maildb: %s: %s/%s/%s: %s\n", mb->u.name, mb->path,
	    IDX_DIRNAME, POP3_LOCK_NAME, strerror(errno));
	return -1;
}

/*
 * Runs fn on a prepared mailbox in a child running as its owner. When
 * mb->res is set, the child sends it back (mb->reslen bytes) and the parent
 * copies it there; on failure it is left zeroed. Returns fn's exit status.
 */
static int
run_mailbox(struct mbox *mb, mbox_fn fn, int how, int argc, char **argv)
{
	pid_t pid;
	int status, r, pfd[2] = { -1, -1 };
	size_t got = 0;
	ssize_t n;

	if (mb->res != NULL) {
		memset(mb->res, 0, mb->reslen);
		if (pipe2(pfd, O_CLOEXEC) == -1)
			fatal("pipe");
	}
	if (geteuid() != 0 && geteuid() != mb->u.uid) {
		fprintf(stderr, "maildb: %s: must be run as root\n", mb->u.name);
		return 1;
	}
	fflush(stdout);
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		if (pfd[0] != -1)
			close(pfd[0]);
		priv_drop(mb->u.name, mb->u.uid, mb->u.gid, NULL, PRIV_ALLOW_ROOT);
		/* re-checked as the owner: the directory itself, not a link */
		if ((mb->mfd = open(mb->path, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) == -1) {
			fprintf(stderr, "maildb: %s: %s: %s\n", mb->u.name,
			    mb->path, strerror(errno));
			_exit(1);
		}
		if ((how & MB_POP3LOCK) && take_pop3_lock(mb) == -1)
			_exit(1);
		if ((how & MB_DIRTY) && idx_mark_unclean(mb->mfd) == -1)
			fprintf(stderr, "maildb: %s: cannot mark the index for "
			    "verification: %s\n", mb->u.name, strerror(errno));
		if (how & MB_INDEX) {
			if (idx_open(&mb->ix, mb->path, IDX_CREATE) == -1) {
				fprintf(stderr, "maildb: %s: cannot open index: %s\n",
				    mb->u.name, strerror(errno));
				_exit(1);
			}
			if ((how & MB_SYNC) &&
			    idx_sync(mb->ix, mb->path, 0, NULL, NULL) == -1)
				fprintf(stderr, "maildb: %s: index sync failed\n",
				    mb->u.name);
		}
		r = fn(mb, argc, argv);
		if (mb->ix != NULL && idx_close(&mb->ix) == -1) {
			fprintf(stderr, "maildb: %s: closing the index failed\n",
			    mb->u.name);
			r = 1;
		}
		fflush(stdout);
		if (pfd[1] != -1)
			write_all(pfd[1], mb->res, mb->reslen);
		_exit(r);
	}
	if (pfd[1] != -1) {
		close(pfd[1]);
		while (got < mb->reslen) {
			n = read(pfd[0], (char *)mb->res + got, mb->reslen - got);
			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		close(pfd[0]);
		if (got != mb->reslen)
			memset(mb->res, 0, mb->reslen);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			fatal("waitpid");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* Runs fn on USER's mailbox (see run_mailbox). */
static int
with_mailbox(const char *name, mbox_fn fn, int how, int argc, char **argv)
{
	struct mbox mb;

	if (mbox_prepare(name, &mb, 0, NULL, 0) != MBP_OK)
		return 1;
	return run_mailbox(&mb, fn, how, argc, argv);
}

/* ---- every account with a mailbox ---- */

struct namelist {
	char	**v;
	size_t	  n, cap;
};

static void
names_add(struct namelist *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], name) == 0)
			return;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n++] = xstrdup(name);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
alias_name_cb(const char *name, const char *targets, int lineno, void *arg)
{
	(void)targets, (void)lineno;
	names_add(arg, name);
	return 0;
}

/*
 * Accounts that can have mail: every account with uid >= min_uid (getpwent)
 * and every account an alias (or postmaster) resolves to. Sorted by name.
 */
static void
mail_accounts(struct namelist *out)
{
	struct namelist aliases = { NULL, 0, 0 };
	struct mailuser *mu;
	struct passwd *pw;
	char dbpath[4096];
	size_t i;
	int k, n;

	setpwent();
	while ((errno = 0, pw = getpwent()) != NULL)
		if (pw->pw_uid >= conf.min_uid && user_name_ok(pw->pw_name))
			names_add(out, pw->pw_name);
	endpwent();
	str_fmt(dbpath, sizeof(dbpath), "%s.db", conf.aliases);
	alias_list(dbpath, alias_name_cb, &aliases);	/* no map: none */
	names_add(&aliases, "postmaster");
	mu = xcalloc(ALIAS_TARGETS_MAX, sizeof(*mu));
	for (i = 0; i < aliases.n; i++) {
		n = user_resolve(aliases.v[i], mu, ALIAS_TARGETS_MAX);
		for (k = 0; k < n; k++)
			names_add(out, mu[k].name);
		free(aliases.v[i]);
	}
	free(aliases.v);
	free(mu);
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), cmp_str);
}

static void
names_free(struct namelist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

/* ---- read-only inspection (users, verify) ---- */

/* idx_check's report: one line per problem, "KIND DETAIL". */
static void
print_problem(const char *kind, const char *detail, void *arg)
{
	(void)arg;
	printf("%s %s\n", kind, detail);
}

/* ---- users ---- */

struct usum {			/* child -> parent */
	int	 done;
	int	 state;
	uint64_t messages, size;
	int64_t	 oldest, newest;
	unsigned problems;
	char	 why[300];
};

static int
cmd_users_one(struct mbox *mb, int argc, char **argv)
{
	struct usum *s = mb->res;
	struct idx_report in;

	(void)argc, (void)argv;
	idx_check(mb->mfd, mb->path, mb->u.uid, NULL, NULL, &in);
	s->done = 1;
	s->state = (int)in.state;
	s->messages = in.messages;
	s->size = in.size;
	s->oldest = in.oldest;
	s->newest = in.newest;
	s->problems = in.problems;
	str_copy(s->why, sizeof(s->why), in.why);
	return 0;
}

static int
cmd_users(int argc, char **argv)
{
	struct namelist l = { NULL, 0, 0 };
	struct usum s;
	struct mbox mb;
	char why[300], o[32], nw[32];
	const char *state;
	size_t i;
	int r, first = 1;

	(void)argv;
	if (argc != 0)
		usage();
	mail_accounts(&l);
	if (json)
		printf("[");
	else
		printf("%-16s %8s %12s  %-20s  %-20s  %s\n", "USER", "MESSAGES",
		    "SIZE", "OLDEST", "NEWEST", "INDEX");
	for (i = 0; i < l.n; i++) {
		r = mbox_prepare(l.v[i], &mb, 1, why, sizeof(why));
		if (r == MBP_NOMAILBOX)
			continue;
		memset(&s, 0, sizeof(s));
		if (r == MBP_OK) {
			mb.res = &s;
			mb.reslen = sizeof(s);
			run_mailbox(&mb, cmd_users_one, 0, 0, NULL);
			if (!s.done)
				str_copy(why, sizeof(why), "inspection failed");
		}
		if (r == MBP_REFUSED)
			state = "refused";
		else if (r != MBP_OK || !s.done)
			state = "error";
		else
			state = idx_state_name((enum idx_state)s.state);
		if (s.done)
			str_copy(why, sizeof(why), s.why);
		fmt_time(s.oldest, o, sizeof(o));
		fmt_time(s.newest, nw, sizeof(nw));
		if (json) {
			printf("%s\n{\"user\":", first ? "" : ",");
			json_str(l.v[i]);
			printf(",\"uid\":%u,\"maildir\":", (unsigned)mb.u.uid);
			json_str(mb.path);
			if (s.done) {
				printf(",\"messages\":%llu,\"size\":%llu,",
				    (unsigned long long)s.messages,
				    (unsigned long long)s.size);
				if (s.messages)
					printf("\"oldest\":\"%s\",\"newest\":\"%s\",",
					    o, nw);
				else
					printf("\"oldest\":null,\"newest\":null,");
				printf("\"problems\":%u,", s.problems);
			} else
				printf(",");
			printf("\"index\":\"%s\",\"reason\":", state);
			json_str(why);
			printf("}");
		} else if (s.done)
			printf("%-16s %8llu %12llu  %-20s  %-20s  %s%s%s%s\n",
			    l.v[i], (unsigned long long)s.messages,
			    (unsigned long long)s.size, s.messages ? o : "-",
			    s.messages ? nw : "-", state, why[0] ? " (" : "",
			    why, why[0] ? ")" : "");
		else
			printf("%-16s %8s %12s  %-20s  %-20s  %s (%s)\n", l.v[i],
			    "-", "-", "-", "-", state, why);
		first = 0;
	}
	if (json)
		printf("%s]\n", first ? "" : "\n");
	names_free(&l);
	return 0;
}

/* ---- ls, dump ---- */

struct ls_state {
	unsigned	 n;
	int		 dump;
};

static int
ls_one(const struct idx_rec *r, void *arg)
{
	struct ls_state *st = arg;
	char date[32];

	st->n++;
	if (st->dump) {
		printf("name=%s uidl=%s dir=%s size=%llu wsize=%llu lines=%u "
		    "arrival=%lld from=\"%s\" to=\"%s\" subject=\"%s\" date=\"%s\" "
		    "msgid=\"%s\"\n", r->name, r->uidl, r->dir == IDX_NEW ? "new" : "cur",
		    (unsigned long long)r->size, (unsigned long long)r->wsize,
		    r->lines, (long long)r->arrival, r->from, r->to, r->subject,
		    r->date, r->msgid);
		return 0;
	}
	fmt_time(r->arrival, date, sizeof(date));
	if (json) {
		printf("%s\n{\"n\":%u,\"uidl\":", st->n > 1 ? "," : "", st->n);
		json_str(r->uidl);
		printf(",\"file\":");
		json_str(r->name);
		printf(",\"dir\":\"%s\",\"size\":%llu,\"octets\":%llu,"
		    "\"lines\":%u,\"arrival\":\"%s\",\"arrival_unix\":%lld,"
		    "\"from\":", r->dir == IDX_NEW ? "new" : "cur",
		    (unsigned long long)r->wsize, (unsigned long long)r->size,
		    r->lines, date, (long long)r->arrival);
		json_str(r->from);
		printf(",\"to\":");
		json_str(r->to);
		printf(",\"subject\":");
		json_str(r->subject);
		printf(",\"date\":");
		json_str(r->date);
		printf(",\"msgid\":");
		json_str(r->msgid);
		printf("}");
	} else
		printf("%5u  %-40.40s %9llu  %s  %-30.30s  %s\n", st->n, r->uidl,
		    (unsigned long long)r->wsize, date, r->from, r->subject);
	return 0;
}

static int
cmd_ls(struct mbox *mb, int argc, char **argv)
{
	struct ls_state st = { 0, 0 };
	int r;

	(void)argv;
	if (argc != 0)
		usage();
	if (json)
		printf("[");
	else
		printf("%5s  %-40s %9s  %-20s  %-30s  %s\n", "N", "UIDL", "SIZE",
		    "ARRIVED", "FROM", "SUBJECT");
	r = idx_iter(mb->ix, ls_one, &st);
	if (json)
		printf("%s]\n", st.n ? "\n" : "");
	return r == -1 ? 1 : 0;
}

static int
cmd_dump(struct mbox *mb, int argc, char **argv)
{
	struct ls_state st = { 0, 1 };

	(void)argv;
	if (argc != 0)
		usage();
	return idx_iter(mb->ix, ls_one, &st) == -1 ? 1 : 0;
}

/* ---- stat ---- */

struct ssum {			/* child -> parent */
	int	 done;
	uint64_t messages, size;
};

static int
cmd_stat_one(struct mbox *mb, int argc, char **argv)
{
	struct ssum *s = mb->res;

	(void)argc, (void)argv;
	if (idx_count(mb->ix, &s->messages, &s->size) == -1)
		return 1;
	s->done = 1;
	return 0;
}

static void
stat_line(const char *user, const struct ssum *s, int *first)
{
	if (json) {
		printf("%s{\"user\":", *first ? "" : ",");
		json_str(user);
		printf(",\"messages\":%llu,\"size\":%llu}",
		    (unsigned long long)s->messages, (unsigned long long)s->size);
	} else
		printf("%s: %llu messages, %llu octets\n", user,
		    (unsigned long long)s->messages, (unsigned long long)s->size);
	*first = 0;
}

static int
cmd_stat(int argc, char **argv)
{
	struct namelist l = { NULL, 0, 0 };
	struct ssum s, tot;
	struct mbox mb;
	size_t i, boxes = 0;
	int r, first = 1, ret = 0;

	if (argc > 1)
		usage();
	if (argc == 1) {
		if (mbox_prepare(argv[0], &mb, 0, NULL, 0) != MBP_OK)
			return 1;
		mb.res = &s;
		mb.reslen = sizeof(s);
		if (run_mailbox(&mb, cmd_stat_one, MB_INDEX | MB_SYNC, 0,
		    NULL) != 0 || !s.done)
			return 1;
		stat_line(mb.u.name, &s, &first);
		if (json)
			printf("\n");
		return 0;
	}
	memset(&tot, 0, sizeof(tot));
	quiet_missing = 1;
	mail_accounts(&l);
	if (json)
		printf("{\"users\":[");
	for (i = 0; i < l.n; i++) {
		r = mbox_prepare(l.v[i], &mb, 0, NULL, 0);
		if (r == MBP_NOMAILBOX)
			continue;
		if (r != MBP_OK) {
			ret = 1;
			continue;
		}
		mb.res = &s;
		mb.reslen = sizeof(s);
		if (run_mailbox(&mb, cmd_stat_one, MB_INDEX | MB_SYNC, 0,
		    NULL) != 0 || !s.done) {
			ret = 1;
			continue;
		}
		stat_line(l.v[i], &s, &first);
		tot.messages += s.messages;
		tot.size += s.size;
		boxes++;
	}
	if (json)
		printf("],\"mailboxes\":%zu,\"messages\":%llu,\"size\":%llu}\n",
		    boxes, (unsigned long long)tot.messages,
		    (unsigned long long)tot.size);
	else
		printf("total: %llu messages, %llu octets in %zu mailboxes\n",
		    (unsigned long long)tot.messages,
		    (unsigned long long)tot.size, boxes);
	names_free(&l);
	return ret;
}

/* ---- show, rm ---- */

struct find_state {
	const char	*want;
	unsigned	 n, target;
	struct idx_rec	 rec;
	int		 found;
};

static int
find_one(const struct idx_rec *r, void *arg)
{
	struct find_state *f = arg;

	f->n++;
	if ((f->target != 0 && f->n == f->target) ||
	    (f->target == 0 && strcmp(r->uidl, f->want) == 0)) {
		f->rec = *r;
		f->found = 1;
		return 1;
	}
	return 0;
}

/* Finds message N (ls numbering) or UIDL; 0 found, -1 (told) not. */
static int
find_msg(struct mbox *mb, const char *which, struct find_state *f)
{
	uint64_t num;

	memset(f, 0, sizeof(*f));
	f->want = which;
	if (parse_u64(which, UINT32_MAX, &num) == 0)
		f->target = (unsigned)num;
	if (idx_iter(mb->ix, find_one, f) == -1) {
		fprintf(stderr, "maildb: %s: cannot read the index\n", mb->u.name);
		return -1;
	}
	if (!f->found) {
		fprintf(stderr, "maildb: %s: no message %s\n", mb->u.name, which);
		return -1;
	}
	return 0;
}

/* Opens new/ or cur/ of the Maildir, not through a link. */
static int
open_sub(struct mbox *mb, int dir)
{
	int fd;

	if ((fd = openat(mb->mfd, subdir[dir], O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1)
		fprintf(stderr, "maildb: %s: %s/%s: %s\n", mb->u.name, mb->path,
		    subdir[dir], strerror(errno));
	return fd;
}

static int
cmd_show(struct mbox *mb, int argc, char **argv)
{
	struct find_state f;
	struct stat st;
	char chunk[8192];
	ssize_t n;
	int fd, dfd, nl = 0, done = 0;

	if (argc != 1)
		usage();
	if (find_msg(mb, argv[0], &f) == -1)
		return 1;
	if ((dfd = open_sub(mb, f.rec.dir)) == -1)
		return 1;
	fd = openat(dfd, f.rec.name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	close(dfd);
	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "maildb: %s: %s/%s/%s: %s\n", mb->u.name,
		    mb->path, subdir[f.rec.dir], pr(f.rec.name),
		    fd == -1 ? strerror(errno) : "not a regular file");
		if (fd != -1)
			close(fd);
		return 1;
	}
	while (!done && (n = read(fd, chunk, sizeof(chunk))) > 0) {
		ssize_t i, upto = n;

		if (headers_only) {
			/* up to and including the empty line ending the header */
			for (i = 0; i < n; i++) {
				if (chunk[i] == '\n') {
					if (nl) {
						upto = i + 1;
						done = 1;
						break;
					}
					nl = 1;
				} else if (chunk[i] != '\r')
					nl = 0;
			}
		}
		fwrite(chunk, 1, (size_t)upto, stdout);
	}
	close(fd);
	return n < 0;
}

/* Deletes files, then their records in one transaction (like pop3d's
 * UPDATE): a crash in between leaves records without files, which the next
 * sync drops; never a file silently unlisted. */
static int
remove_msgs(struct mbox *mb, struct idx_rec *v, size_t n, uint64_t *octets)
{
	int dfd[2], ret = 0;
	size_t i, gone = 0;
	char **del = xcalloc(n ? n : 1, sizeof(*del));

	*octets = 0;
	if ((dfd[0] = open_sub(mb, IDX_NEW)) == -1)
		return -1;
	if ((dfd[1] = open_sub(mb, IDX_CUR)) == -1) {
		close(dfd[0]);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (unlinkat(dfd[v[i].dir], v[i].name, 0) == -1 &&
		    errno != ENOENT) {
			fprintf(stderr, "maildb: %s: unlink %s/%s/%s: %s\n",
			    mb->u.name, mb->path, subdir[v[i].dir],
			    pr(v[i].name), strerror(errno));
			ret = -1;
			continue;
		}
		del[gone++] = v[i].name;
		*octets += v[i].wsize;
	}
	fsync(dfd[0]);
	fsync(dfd[1]);
	close(dfd[0]);
	close(dfd[1]);
	if (gone > 0) {
		if (idx_begin(mb->ix) == -1)
			ret = -1;
		else {
			for (i = 0; i < gone; i++)
				if (idx_del(mb->ix, del[i]) == -1)
					break;
			if (i < gone) {
				idx_abort(mb->ix);
				ret = -1;
			} else if (idx_commit(mb->ix) == -1)
				ret = -1;
		}
		if (ret == -1)
			fprintf(stderr, "maildb: %s: files removed but the index "
			    "was not updated; the next opener drops the "
			    "records\n", mb->u.name);
	}
	free(del);
	return ret == -1 ? -1 : (int)gone;
}

static int
cmd_rm(struct mbox *mb, int argc, char **argv)
{
	struct find_state f;
	uint64_t octets;

	if (argc != 1)
		usage();
	if (find_msg(mb, argv[0], &f) == -1)
		return 1;
	if (dry_run) {
		printf("%s: would remove %s (%s/%s)\n", mb->u.name, f.rec.uidl,
		    subdir[f.rec.dir], f.rec.name);
		return 0;
	}
	if (remove_msgs(mb, &f.rec, 1, &octets) != 1)
		return 1;
	printf("%s: removed %s (%s/%s, %llu octets)\n", mb->u.name, f.rec.uidl,
	    subdir[f.rec.dir], f.rec.name, (unsigned long long)octets);
	return 0;
}

/* ---- expire ---- */

struct exp_state {
	int64_t		 cutoff;
	struct idx_rec	*v;
	size_t		 n, cap;
};

static int
exp_one(const struct idx_rec *r, void *arg)
{
	struct exp_state *e = arg;

	if (r->arrival >= e->cutoff)
		return 1;	/* arrival order: the rest is younger */
	if (e->n == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 64;
		e->v = xreallocarray(e->v, e->cap, sizeof(*e->v));
	}
	e->v[e->n++] = *r;
	return 0;
}

static int64_t expire_cutoff;

static int
cmd_expire_one(struct mbox *mb, int argc, char **argv)
{
	struct exp_state e = { expire_cutoff, NULL, 0, 0 };
	uint64_t octets = 0;
	char date[32];
	size_t i;
	int r;

	(void)argc, (void)argv;
	if (idx_iter(mb->ix, exp_one, &e) == -1) {
		fprintf(stderr, "maildb: %s: cannot read the index\n", mb->u.name);
		free(e.v);
		return 1;
	}
	if (dry_run) {
		for (i = 0; i < e.n; i++) {
			fmt_time(e.v[i].arrival, date, sizeof(date));
			printf("%s: would remove %s %s %llu octets (%s/%s)\n",
			    mb->u.name, e.v[i].uidl, date,
			    (unsigned long long)e.v[i].wsize,
			    subdir[e.v[i].dir], e.v[i].name);
			octets += e.v[i].wsize;
		}
		printf("%s: %zu messages, %llu octets would be removed\n",
		    mb->u.name, e.n, (unsigned long long)octets);
		free(e.v);
		return 0;
	}
	r = e.n ? remove_msgs(mb, e.v, e.n, &octets) : 0;
	if (r >= 0 || e.n == 0)
		printf("%s: removed %d messages, %llu octets\n", mb->u.name,
		    r < 0 ? 0 : r, (unsigned long long)octets);
	free(e.v);
	return r < 0;
}

/* ---- verify, reindex ---- */

static int
cmd_verify_one(struct mbox *mb, int argc, char **argv)
{
	struct idx_report in;

	(void)argc, (void)argv;
	idx_check(mb->mfd, mb->path, mb->u.uid, print_problem, NULL, &in);
	printf("%s: %s (%u problems; index %s%s%s)\n", mb->u.name,
	    in.problems ? "NOT CLEAN" : "clean", in.problems,
	    idx_state_name(in.state), in.why[0] ? ": " : "", in.why);
	return in.problems ? 1 : 0;
}

/*
 * The name of a file whose ,S=/,W= are wrong: the same unique part and
 * flags with the right sizes (so the UIDL does not change). -1 if too long.
 */
static int
fixed_name(const char *name, uint64_t size, uint64_t wsize, char *out,
    size_t outsize)
{
	size_t u = idx_key_len(name), n;
	const char *colon = strchr(name, ':'), *p, *end;
	char buf[IDX_NAME_MAX];

	end = colon != NULL ? colon : name + strlen(name);
	if (u >= sizeof(buf))
		return -1;
	memcpy(buf, name, u);
	buf[u] = '\0';
	for (p = name + u; p < end && *p == ','; p += n) {
		n = strcspn(p + 1, ",:") + 1;
		if (strncmp(p, ",S=", 3) == 0 || strncmp(p, ",W=", 3) == 0)
			continue;
		if (strlen(buf) + n >= sizeof(buf))
			return -1;
		strncat(buf, p, n);
	}
	return str_fmt(out, outsize, "%s,S=%llu,W=%llu%s", buf,
	    (unsigned long long)size, (unsigned long long)wsize,
	    colon != NULL ? colon : "");
}

struct fix_state {
	struct mbox	*mb;
	int		 dfd[2];
	int		 can_rename;	/* pop3.lock taken: no session numbers */
	unsigned	 fixed, renamed;
	struct idx_rec	*v;		/* records to put back */
	size_t		 n, cap;
};

/* A record whose file changed size (or whose name's sizes are wrong). */
static int
fix_one(const struct idx_rec *r, void *arg)
{
	struct fix_state *fs = arg;
	struct idx_rec rec;
	struct stat st;
	uint64_t S, W;
	char nn[IDX_NAME_MAX + 64];

	if (fstatat(fs->dfd[r->dir], r->name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISREG(st.st_mode))
		return 0;
	maildir_name_sizes(r->name, &S, &W);
	if ((uint64_t)st.st_size == r->size &&
	    (S == UINT64_MAX || S == (uint64_t)st.st_size))
		return 0;
	if (maildir_index_file(fs->dfd[r->dir], r->name, r->dir, &rec) != 0)
		return 0;
	rec.arrival = r->arrival;
	if (S != UINT64_MAX && S != rec.size) {
		if (!fs->can_rename)
			printf("%s: %s/%s: its name says S=%llu, the file has "
			    "%llu octets; not renamed while a POP3 session is "
			    "open\n", fs->mb->u.name, subdir[r->dir],
			    pr(r->name), (unsigned long long)S,
			    (unsigned long long)rec.size);
		else if (fixed_name(r->name, rec.size, rec.wsize, nn,
		    sizeof(nn)) == 0 && strlen(nn) < IDX_NAME_MAX &&
		    renameat2(fs->dfd[r->dir], r->name, fs->dfd[r->dir], nn,
		    RENAME_NOREPLACE) == 0) {
			printf("%s: renamed %s/%s to %s (sizes in the name)\n",
			    fs->mb->u.name, subdir[r->dir], pr(r->name), pr(nn));
			str_copy(rec.name, sizeof(rec.name), nn);
			fs->renamed++;
		}
	}
	if (fs->n == fs->cap) {
		fs->cap = fs->cap ? fs->cap * 2 : 16;
		fs->v = xreallocarray(fs->v, fs->cap, sizeof(*fs->v));
	}
	fs->v[fs->n++] = rec;
	return 0;
}

/*
 * reindex: recovery and DB->verify at open (MB_DIRTY; a damaged index is
 * set aside as index.db.damaged and rebuilt), a full sync, then records
 * whose file changed size are rebuilt from the file. UIDLs come from the
 * names, so they stay what they were.
 */
static int
cmd_reindex_one(struct mbox *mb, int argc, char **argv)
{
	struct fix_state fs;
	unsigned added = 0, removed = 0;
	uint64_t n, size;
	size_t i;
	int ret = 0;

	(void)argc, (void)argv;
	memset(&fs, 0, sizeof(fs));
	fs.mb = mb;
	if (idx_sync(mb->ix, mb->path, IDX_SYNC_FULL, &added, &removed) == -1) {
		fprintf(stderr, "maildb: %s: reindex failed\n", mb->u.name);
		return 1;
	}
	/* pop3.lock free: no session has numbered the messages, so a file
	 * may be renamed; held until we exit */
	fs.can_rename = 1;
	if ((mb->popfd = openat(mb->mfd, IDX_DIRNAME "/" POP3_LOCK_NAME,
	    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) == -1 ||
	    flock(mb->popfd, LOCK_EX | LOCK_NB) == -1)
		fs.can_rename = 0;
	if ((fs.dfd[0] = open_sub(mb, IDX_NEW)) == -1 ||
	    (fs.dfd[1] = open_sub(mb, IDX_CUR)) == -1 ||
	    idx_iter(mb->ix, fix_one, &fs) == -1)
		ret = 1;
	for (i = 0; ret == 0 && i < fs.n; i++) {
		if (idx_put(mb->ix, &fs.v[i]) == -1)
			ret = 1;
		fs.fixed++;
	}
	for (i = 0; i < 2; i++)
		if (fs.dfd[i] > 0)
			close(fs.dfd[i]);
	free(fs.v);
	/* a renamed file: the sync notices the new name (same key) */
	if (ret == 0 && fs.renamed > 0 &&
	    idx_sync(mb->ix, mb->path, IDX_SYNC_FULL, NULL, NULL) == -1)
		ret = 1;
	if (ret != 0 || idx_count(mb->ix, &n, &size) == -1) {
		fprintf(stderr, "maildb: %s: reindex failed\n", mb->u.name);
		return 1;
	}
	printf("%s: %llu messages (%u added, %u removed, %u updated)\n",
	    mb->u.name, (unsigned long long)n, added, removed, fs.fixed);
	return 0;
}

/* USER, or every account with a mailbox (all_users); exit 1 if any failed. */
static int
each_mailbox(int argc, char **argv, mbox_fn fn, int how)
{
	struct namelist l = { NULL, 0, 0 };
	struct mbox mb;
	size_t i, boxes = 0, bad = 0;
	int r;

	if (!all_users) {
		if (argc < 1)
			usage();
		return with_mailbox(argv[0], fn, how, argc - 1, argv + 1);
	}
	quiet_missing = 1;
	mail_accounts(&l);
	for (i = 0; i < l.n; i++) {
		r = mbox_prepare(l.v[i], &mb, 0, NULL, 0);
		if (r == MBP_NOMAILBOX)
			continue;
		boxes++;
		if (r != MBP_OK || run_mailbox(&mb, fn, how, argc, argv) != 0)
			bad++;
	}
	names_free(&l);
	printf("%zu mailboxes, %zu with problems\n", boxes, bad);
	return bad ? 1 : 0;
}

/* ---- aliases ---- */

static int
list_alias(const char *name, const char *targets, int lineno, void *arg)
{
	(void)lineno, (void)arg;
	printf("%s: %s\n", name, targets);
	return 0;
}

/* Lists the compiled map (what smtpd will answer), not the source. */
static int
cmd_aliases(void)
{
	char dbpath[4096];

	str_fmt(dbpath, sizeof(dbpath), "%s.db", conf.aliases);
	if (alias_list(dbpath, list_alias, NULL) == -1) {
		fprintf(stderr, "maildb: %s: cannot read (run maildb newaliases)\n",
		    dbpath);
		return 1;
	}
	return 0;
}

static int
cmd_newaliases(void)
{
	char dbpath[4096], err[256];
	unsigned count;

	str_fmt(dbpath, sizeof(dbpath), "%s.db", conf.aliases);
	if (alias_compile(conf.aliases, dbpath, &count, err, sizeof(err)) == -1) {
		fprintf(stderr, "maildb: %s: %s\n", conf.aliases, err);
		return 1;
	}
	printf("%s: %u aliases\n", dbpath, count);
	return 0;
}

/* ---- main ---- */

/* Removes the flags maildb knows from argv[1..] (after the command). */
static void
take_flags(int *argcp, char **argv)
{
	int argc = *argcp, i, take;

	for (i = 1; i < argc; i += take == 0) {
		take = 1;
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--headers") == 0)
			headers_only = 1;
		else if (strcmp(argv[i], "--dry-run") == 0 ||
		    strcmp(argv[i], "-n") == 0)
			dry_run = 1;
		else if (strcmp(argv[i], "--all") == 0)
			all_users = 1;
		else if (strncmp(argv[i], "--older-than=", 13) == 0)
			older_than = argv[i] + 13;
		else if (strcmp(argv[i], "--older-than") == 0 && i + 1 < argc) {
			older_than = argv[i + 1];
			take = 2;
		} else if (strncmp(argv[i], "--", 2) == 0 && argv[i][2] != '\0') {
			fprintf(stderr, "maildb: unknown option %s\n", argv[i]);
			usage();
		} else
			take = 0;
		if (take) {
			memmove(&argv[i], &argv[i + take],
			    sizeof(*argv) * (size_t)(argc - i - take + 1));
			argc -= take;
		}
	}
	*argcp = argc;
}

static const struct {
	const char	*name;
	mbox_fn		 fn;
	int		 how;
} mbox_cmds[] = {
	{ "ls", cmd_ls, MB_INDEX | MB_SYNC },
	{ "show", cmd_show, MB_INDEX | MB_SYNC },
	{ "dump", cmd_dump, MB_INDEX },
	{ "rm", cmd_rm, MB_POP3LOCK | MB_INDEX | MB_SYNC },
};

int
main(int argc, char *argv[])
{
	const char *cfile = CONF_FILE;
	char err[256], **opts = argv + 1;
	int ch, explicit_file = 0, nopts;
	uint64_t age;
	size_t k;

	conf_defaults();
	while ((ch = getopt(argc, argv, "+f:o:")) != -1) {
		if (ch == 'f') {
			cfile = optarg;
			explicit_file = 1;
		} else if (ch != 'o')
			usage();
	}
	log_open("maildb", 0);
	if (conf_load(cfile, !explicit_file, err, sizeof(err)) == -1) {
		fprintf(stderr, "maildb: %s\n", err);
		return 1;
	}
	optind = 1;
	while ((ch = getopt(argc, argv, "+f:o:")) != -1)
		if (ch == 'o' && conf_option(optarg, err, sizeof(err)) == -1) {
			fprintf(stderr, "maildb: %s\n", err);
			return 1;
		}
	conf_finish();
	nopts = optind - 1;	/* -f and -o, for smtpd -q (queue flush) */
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	if (strcmp(argv[0], "help") == 0 || strcmp(argv[0], "--help") == 0) {
		fputs(help_text, stdout);
		return 0;
	}
	if (strcmp(argv[0], "newaliases") == 0)
		return cmd_newaliases();
	if (strcmp(argv[0], "aliases") == 0)
		return cmd_aliases();
	if (strcmp(argv[0], "apop") == 0)
		return maildb_apop(argc, argv);
	if (strcmp(argv[0], "throttle") == 0)
		return maildb_throttle(argc, argv);
	if (strcmp(argv[0], "greylist") == 0)
		return maildb_greylist(argc, argv);
	if (strcmp(argv[0], "queue") == 0)
		return maildb_queue(argc, argv, opts, nopts);
	take_flags(&argc, argv);
	if (strcmp(argv[0], "users") == 0)
		return cmd_users(argc - 1, argv + 1);
	if (strcmp(argv[0], "stat") == 0)
		return cmd_stat(argc - 1, argv + 1);
	if (strcmp(argv[0], "verify") == 0) {
		all_users |= argc == 1;
		if (argc > 2 || (all_users && argc != 1))
			usage();
		return each_mailbox(argc - 1, argv + 1, cmd_verify_one, 0);
	}
	if (strcmp(argv[0], "reindex") == 0) {
		if (argc != (all_users ? 1 : 2))
			usage();
		return each_mailbox(argc - 1, argv + 1, cmd_reindex_one,
		    MB_DIRTY | MB_INDEX);
	}
	if (strcmp(argv[0], "expire") == 0) {
		if (argc != (all_users ? 1 : 2) || older_than == NULL ||
		    parse_duration(older_than, (uint64_t)INT32_MAX * 100,
		    &age) == -1) {
			fprintf(stderr, "maildb: expire needs USER or --all and "
			    "--older-than AGE (e.g. 30d)\n");
			return 2;
		}
		expire_cutoff = (int64_t)time(NULL) - (int64_t)age;
		return each_mailbox(argc - 1, argv + 1, cmd_expire_one,
		    MB_POP3LOCK | MB_INDEX | MB_SYNC);
	}
	for (k = 0; k < sizeof(mbox_cmds) / sizeof(mbox_cmds[0]); k++)
		if (strcmp(argv[0], mbox_cmds[k].name) == 0) {
			if (argc < 2 || all_users)
				usage();
			return with_mailbox(argv[1], mbox_cmds[k].fn,
			    mbox_cmds[k].how, argc - 2, argv + 2);
		}
	fprintf(stderr, "maildb: unknown command %s\n", argv[0]);
	usage();
}
