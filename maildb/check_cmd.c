/*
 * check_cmd.c - the health of mailboxes and their indexes: `maildb users`
 * and `maildb verify` look read-only (idx_check, index_check.h: they report
 * the state of an index and must not repair it behind the admin's back);
 * `maildb reindex` repairs. Each runs on a mailbox in a child that has
 * dropped to its owner (common.h).
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "index.h"
#include "index_check.h"
#include "log.h"
#include "maildb.h"
#include "maildir.h"
#include "util.h"

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

int
mailbox_users(struct mbox *mb, int argc, char **argv)
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

/* One line (or JSON object) of `maildb users`: r is mbox_prepare's
 * outcome, s what the child found (s->done) and why the reason. */
static void
user_line(const struct maildb_args *a, const char *name,
    const struct mbox *mb, int r, const struct usum *s, char *why,
    size_t whysize, int first)
{
	char o[32], nw[32];
	const char *state;

	if (r == MBP_REFUSED)
		state = "refused";
	else if (r != MBP_OK || !s->done)
		state = "error";
	else
		state = idx_state_name((enum idx_state)s->state);
	if (s->done)
		str_copy(why, whysize, s->why);
	fmt_time(s->oldest, o, sizeof(o));
	fmt_time(s->newest, nw, sizeof(nw));
	if (a->json) {
		printf("%s\n{\"user\":", first ? "" : ",");
		json_str(name);
		printf(",\"uid\":%u,\"maildir\":", (unsigned)mb->u.uid);
		json_str(mb->path);
		if (s->done) {
			printf(",\"messages\":%llu,\"size\":%llu,",
			    (unsigned long long)s->messages,
			    (unsigned long long)s->size);
			if (s->messages)
				printf("\"oldest\":\"%s\",\"newest\":\"%s\",",
				    o, nw);
			else
				printf("\"oldest\":null,\"newest\":null,");
			printf("\"problems\":%u,", s->problems);
		} else
			printf(",");
		printf("\"index\":\"%s\",\"reason\":", state);
		json_str(why);
		printf("}");
	} else if (s->done)
		printf("%-16s %8llu %12llu  %-20s  %-20s  %s%s%s%s\n",
		    name, (unsigned long long)s->messages,
		    (unsigned long long)s->size, s->messages ? o : "-",
		    s->messages ? nw : "-", state, why[0] ? " (" : "",
		    why, why[0] ? ")" : "");
	else
		printf("%-16s %8s %12s  %-20s  %-20s  %s (%s)\n", name,
		    "-", "-", "-", "-", state, why);
}

int
maildb_users(const struct maildb_cmd *c, int argc, char **argv,
    const struct maildb_args *a)
{
	struct namelist l = { NULL, 0, 0 };
	struct usum s;
	struct mbox mb;
	char why[300];
	size_t i;
	int r, first = 1;

	(void)argv;
	if (argc != 1)
		return MAILDB_USAGE;
	mail_accounts(&l);
	if (a->json)
		printf("[");
	else
		printf("%-16s %8s %12s  %-20s  %-20s  %s\n", "USER", "MESSAGES",
		    "SIZE", "OLDEST", "NEWEST", "INDEX");
	for (i = 0; i < l.n; i++) {
		r = mbox_prepare(l.v[i], a, &mb, MBQ_ALL, why, sizeof(why));
		if (r == MBP_NOMAILBOX)
			continue;
		memset(&s, 0, sizeof(s));
		if (r == MBP_OK) {
			mb.res = &s;
			mb.reslen = sizeof(s);
			run_mailbox(&mb, c->mbox, c->how, 0, NULL);
			if (!s.done)
				str_copy(why, sizeof(why), "inspection failed");
		}
		user_line(a, l.v[i], &mb, r, &s, why, sizeof(why), first);
		first = 0;
	}
	if (a->json)
		printf("%s]\n", first ? "" : "\n");
	names_free(&l);
	return 0;
}

/* ---- verify, reindex ---- */

int
mailbox_verify(struct mbox *mb, int argc, char **argv)
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
			    "open\n", fs->mb->u.name, mbox_subdir[r->dir],
			    pr(r->name), (unsigned long long)S,
			    (unsigned long long)rec.size);
		else if (fixed_name(r->name, rec.size, rec.wsize, nn,
		    sizeof(nn)) == 0 && strlen(nn) < IDX_NAME_MAX &&
		    renameat2(fs->dfd[r->dir], r->name, fs->dfd[r->dir], nn,
		    RENAME_NOREPLACE) == 0) {
			printf("%s: renamed %s/%s to %s (sizes in the name)\n",
			    fs->mb->u.name, mbox_subdir[r->dir], pr(r->name), pr(nn));
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
int
mailbox_reindex(struct mbox *mb, int argc, char **argv)
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
	if ((mb->popfd = openat(mb->mfd, IDX_DIRNAME "/" IDX_POP3_LOCK,
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

/* verify [USER]: without USER, every mailbox. */
int
maildb_verify(const struct maildb_cmd *c, int argc, char **argv,
    const struct maildb_args *a)
{
	struct maildb_args all = *a;

	all.all_users |= argc == 1;
	if (argc > 2 || (all.all_users && argc != 1))
		return MAILDB_USAGE;
	return each_mailbox(&all, argc - 1, argv + 1, c->mbox, c->how);
}

/* reindex USER|--all */
int
maildb_reindex(const struct maildb_cmd *c, int argc, char **argv,
    const struct maildb_args *a)
{
	if (argc != (a->all_users ? 1 : 2))
		return MAILDB_USAGE;
	return each_mailbox(a, argc - 1, argv + 1, c->mbox, c->how);
}
