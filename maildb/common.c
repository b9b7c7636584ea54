/*
 * common.c - what maildb's command files share (see common.h): JSON and
 * time formatting, the accounts that can have mail, and running a command
 * on one mailbox in a child that has dropped to the mailbox's owner, after
 * checking that the Maildir is a real directory owned by that account.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aliases.h"
#include "common.h"
#include "conf.h"
#include "index.h"
#include "index_check.h"
#include "log.h"
#include "privsep.h"
#include "user.h"
#include "util.h"

const char *const mbox_subdir[2] = { "new", "cur" };

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

ssize_t
header_end(const char *buf, size_t n, int *nl, int skip_cr)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			if (*nl)
				return (ssize_t)i + 1;
			*nl = 1;
		} else if (!skip_cr || buf[i] != '\r')
			*nl = 0;
	}
	return -1;
}

/* ---- running a command on one mailbox ---- */

int
mbox_prepare(const char *name, const struct maildb_args *args,
    struct mbox *mb, int quiet, char *why, size_t whysize)
{
	struct stat st;
	char buf[256];
	int r;

	memset(mb, 0, sizeof(*mb));
	mb->args = args;
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
	if (r != MBP_OK && !(quiet & MBQ_ALL) &&
	    !((quiet & MBQ_MISSING) && r == MBP_NOMAILBOX))
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
	mb->popfd = openat(dfd, IDX_POP3_LOCK, O_RDWR | O_CREAT | O_NOFOLLOW |
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
			    mb->path, IDX_DIRNAME, IDX_POP3_LOCK);
			return -1;
		}
		goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "maildb: %s: %s/%s/%s: %s\n", mb->u.name, mb->path,
	    IDX_DIRNAME, IDX_POP3_LOCK, strerror(errno));
	return -1;
}

int
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

int
with_mailbox(const char *name, const struct maildb_args *args, mbox_fn fn,
    int how, int argc, char **argv)
{
	struct mbox mb;

	if (mbox_prepare(name, args, &mb, 0, NULL, 0) != MBP_OK)
		return 1;
	return run_mailbox(&mb, fn, how, argc, argv);
}


int
each_mailbox(const struct maildb_args *args, int argc, char **argv,
    mbox_fn fn, int how)
{
	struct namelist l = { NULL, 0, 0 };
	struct mbox mb;
	size_t i, boxes = 0, bad = 0;
	int r;

	if (!args->all_users) {
		if (argc < 1)
			return MAILDB_USAGE;
		return with_mailbox(argv[0], args, fn, how, argc - 1, argv + 1);
	}
	mail_accounts(&l);
	for (i = 0; i < l.n; i++) {
		r = mbox_prepare(l.v[i], args, &mb, MBQ_MISSING, NULL, 0);
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


int
open_sub(struct mbox *mb, int dir)
{
	int fd;

	if ((fd = openat(mb->mfd, mbox_subdir[dir], O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1)
		fprintf(stderr, "maildb: %s: %s/%s: %s\n", mb->u.name, mb->path,
		    mbox_subdir[dir], strerror(errno));
	return fd;
}

/* ---- every account with a mailbox ---- */

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

void
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

void
names_free(struct namelist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}
