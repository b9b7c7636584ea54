/*
 * mailbox_cmd.c - listing and removing messages: `maildb ls`, `show`,
 * `dump`, `stat`, `rm` and `expire`. Each runs on a mailbox in a child
 * that has dropped to its owner (common.h) and goes through the index
 * (idx_open: exclusive lock, recovery; a damaged index is set aside and
 * rebuilt). Nothing inside the Maildir is opened through a symbolic link.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "index.h"
#include "log.h"
#include "maildb.h"
#include "maildir.h"
#include "util.h"

int
maildb_one_mailbox(const struct maildb_cmd *c, int argc, char **argv,
    const struct maildb_args *a)
{
	if (argc < 2 || a->all_users)
		return MAILDB_USAGE;
	return with_mailbox(argv[1], a, c->mbox, c->how, argc - 2, argv + 2);
}

/* ---- ls, dump ---- */

struct ls_state {
	unsigned	 n;
	int		 dump;
	int		 json;
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
	if (st->json) {
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

int
mailbox_ls(struct mbox *mb, int argc, char **argv)
{
	struct ls_state st = { 0, 0, mb->args->json };
	int r;

	(void)argv;
	if (argc != 0)
		return MAILDB_USAGE;
	if (st.json)
		printf("[");
	else
		printf("%5s  %-40s %9s  %-20s  %-30s  %s\n", "N", "UIDL", "SIZE",
		    "ARRIVED", "FROM", "SUBJECT");
	r = idx_iter(mb->ix, ls_one, &st);
	if (st.json)
		printf("%s]\n", st.n ? "\n" : "");
	return r == -1 ? 1 : 0;
}

int
mailbox_dump(struct mbox *mb, int argc, char **argv)
{
	struct ls_state st = { 0, 1, 0 };

	(void)argv;
	if (argc != 0)
		return MAILDB_USAGE;
	return idx_iter(mb->ix, ls_one, &st) == -1 ? 1 : 0;
}

/* ---- stat ---- */

struct ssum {			/* child -> parent */
	int	 done;
	uint64_t messages, size;
};

int
mailbox_stat(struct mbox *mb, int argc, char **argv)
{
	struct ssum *s = mb->res;

	(void)argc, (void)argv;
	if (idx_count(mb->ix, &s->messages, &s->size) == -1)
		return 1;
	s->done = 1;
	return 0;
}

static void
stat_line(int json, const char *user, const struct ssum *s, int *first)
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

/* stat USER: one line. */
static int
stat_one(const struct maildb_cmd *c, const char *name,
    const struct maildb_args *a)
{
	struct mbox mb;
	struct ssum s;
	int first = 1;

	if (mbox_prepare(name, a, &mb, 0, NULL, 0) != MBP_OK)
		return 1;
	mb.res = &s;
	mb.reslen = sizeof(s);
	if (run_mailbox(&mb, c->mbox, c->how, 0, NULL) != 0 || !s.done)
		return 1;
	stat_line(a->json, mb.u.name, &s, &first);
	if (a->json)
		printf("\n");
	return 0;
}

/* stat [USER]: without USER, every mailbox and the totals. */
int
maildb_stat(const struct maildb_cmd *c, int argc, char **argv,
    const struct maildb_args *a)
{
	struct namelist l = { NULL, 0, 0 };
	struct ssum s, tot;
	struct mbox mb;
	size_t i, boxes = 0;
	int r, first = 1, ret = 0, json = a->json;

	if (argc > 2)
		return MAILDB_USAGE;
	if (argc == 2)
		return stat_one(c, argv[1], a);
	memset(&tot, 0, sizeof(tot));
	mail_accounts(&l);
	if (json)
		printf("{\"users\":[");
	for (i = 0; i < l.n; i++) {
		r = mbox_prepare(l.v[i], a, &mb, MBQ_MISSING, NULL, 0);
		if (r == MBP_NOMAILBOX)
			continue;
		if (r != MBP_OK) {
			ret = 1;
			continue;
		}
		mb.res = &s;
		mb.reslen = sizeof(s);
		if (run_mailbox(&mb, c->mbox, c->how, 0, NULL) != 0 ||
		    !s.done) {
			ret = 1;
			continue;
		}
		stat_line(json, l.v[i], &s, &first);
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

int
mailbox_show(struct mbox *mb, int argc, char **argv)
{
	struct find_state f;
	struct stat st;
	char chunk[8192];
	ssize_t n;
	int fd, dfd, nl = 0, done = 0;

	if (argc != 1)
		return MAILDB_USAGE;
	if (find_msg(mb, argv[0], &f) == -1)
		return 1;
	if ((dfd = open_sub(mb, f.rec.dir)) == -1)
		return 1;
	fd = openat(dfd, f.rec.name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	close(dfd);
	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "maildb: %s: %s/%s/%s: %s\n", mb->u.name,
		    mb->path, mbox_subdir[f.rec.dir], pr(f.rec.name),
		    fd == -1 ? strerror(errno) : "not a regular file");
		if (fd != -1)
			close(fd);
		return 1;
	}
	while (!done && (n = read(fd, chunk, sizeof(chunk))) > 0) {
		ssize_t upto = n, e;

		/* --headers: up to and including the empty line ending it */
		if (mb->args->headers_only &&
		    (e = header_end(chunk, (size_t)n, &nl, 1)) >= 0) {
			upto = e;
			done = 1;
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
			    mb->u.name, mb->path, mbox_subdir[v[i].dir],
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

int
mailbox_rm(struct mbox *mb, int argc, char **argv)
{
	struct find_state f;
	uint64_t octets;

	if (argc != 1)
		return MAILDB_USAGE;
	if (find_msg(mb, argv[0], &f) == -1)
		return 1;
	if (mb->args->dry_run) {
		printf("%s: would remove %s (%s/%s)\n", mb->u.name, f.rec.uidl,
		    mbox_subdir[f.rec.dir], f.rec.name);
		return 0;
	}
	if (remove_msgs(mb, &f.rec, 1, &octets) != 1)
		return 1;
	printf("%s: removed %s (%s/%s, %llu octets)\n", mb->u.name, f.rec.uidl,
	    mbox_subdir[f.rec.dir], f.rec.name, (unsigned long long)octets);
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

int
mailbox_expire(struct mbox *mb, int argc, char **argv)
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
	if (mb->args->dry_run) {
		for (i = 0; i < e.n; i++) {
			fmt_time(e.v[i].arrival, date, sizeof(date));
			printf("%s: would remove %s %s %llu octets (%s/%s)\n",
			    mb->u.name, e.v[i].uidl, date,
			    (unsigned long long)e.v[i].wsize,
			    mbox_subdir[e.v[i].dir], e.v[i].name);
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

/* expire USER|--all --older-than AGE */
int
maildb_expire(const struct maildb_cmd *c, int argc, char **argv,
    const struct maildb_args *a)
{
	uint64_t age;

	if (argc != (a->all_users ? 1 : 2) || a->older_than == NULL ||
	    parse_duration(a->older_than, (uint64_t)INT32_MAX * 100,
	    &age) == -1) {
		fprintf(stderr, "maildb: expire needs USER or --all and "
		    "--older-than AGE (e.g. 30d)\n");
		return 2;
	}
	expire_cutoff = (int64_t)time(NULL) - (int64_t)age;
	return each_mailbox(a, argc - 1, argv + 1, c->mbox, c->how);
}
