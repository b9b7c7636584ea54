/*
 * maildb - the administrator's tool over mailboxes and their indexes, and
 * the alias map. Runs as root; each mailbox is handled in a child that has
 * dropped to the mailbox's owner, after checking that the Maildir is a real
 * directory owned by that account (no symlinks are followed).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aliases.h"
#include "conf.h"
#include "index.h"
#include "log.h"
#include "maildir.h"
#include "params.h"
#include "privsep.h"
#include "user.h"
#include "util.h"

static int json;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: maildb [-f file] [-o key=value] command [args]\n"
	    "commands:\n"
	    "  ls USER [--json]       messages of USER (from the index)\n"
	    "  stat USER [--json]     message count and total size\n"
	    "  show USER N|UIDL       print a message\n"
	    "  dump USER              every index record, one per line\n"
	    "  verify USER            index against Maildir; exit 1 if they differ\n"
	    "  reindex USER           rebuild the index from the Maildir\n"
	    "  newaliases             compile the aliases file into ALIASES.db\n"
	    "  aliases                list the compiled alias map\n"
	    "  help                   this text\n");
	exit(2);
}

/* Prints s as a JSON string. */
static void
json_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

struct mbox {
	struct mailuser	 u;
	char		 path[4096];
	struct idx	*ix;
};

typedef int (*mbox_fn)(struct mbox *, int argc, char **argv);

/*
 * Runs fn on USER's mailbox in a child running as USER. The Maildir must be
 * a directory (not a symlink) owned by USER. Returns fn's exit status.
 */
#define MB_INDEX	0x01	/* open the index */
#define MB_SYNC		0x02	/* and bring it up to date first */

static int
with_mailbox(const char *name, mbox_fn fn, int how, int argc, char **argv)
{
	struct mbox mb;
	struct stat st;
	pid_t pid;
	int status, r;

	memset(&mb, 0, sizeof(mb));
	if ((r = user_lookup(name, &mb.u)) != 0) {
		fprintf(stderr, "maildb: %s: %s\n", name,
		    r == 1 ? "no such account" : "account lookup failed");
		return 1;
	}
	if (user_maildir(&mb.u, mb.path, sizeof(mb.path)) == -1) {
		fprintf(stderr, "maildb: %s: bad mailbox path\n", name);
		return 1;
	}
	if (lstat(mb.path, &st) == -1) {
		fprintf(stderr, "maildb: %s: %s: %s\n", name, mb.path, strerror(errno));
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "maildb: %s: %s is not a directory (symlinks are "
		    "not followed)\n", name, mb.path);
		return 1;
	}
	if (st.st_uid != mb.u.uid) {
		fprintf(stderr, "maildb: %s: %s is owned by uid %u, not %u; refusing\n",
		    name, mb.path, (unsigned)st.st_uid, (unsigned)mb.u.uid);
		return 1;
	}
	fflush(stdout);
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		priv_drop(mb.u.name, mb.u.uid, mb.u.gid, NULL, 1);
		if (how & MB_INDEX) {
			if (idx_open(&mb.ix, mb.path, IDX_CREATE) == -1) {
				fprintf(stderr, "maildb: %s: cannot open index: %s\n",
				    name, strerror(errno));
				_exit(1);
			}
			if ((how & MB_SYNC) &&
			    idx_sync(mb.ix, mb.path, 0, NULL, NULL) == -1)
				fprintf(stderr, "maildb: %s: index sync failed\n", name);
		}
		r = fn(&mb, argc, argv);
		if (mb.ix != NULL)
			idx_close(&mb.ix);
		fflush(stdout);
		_exit(r);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			fatal("waitpid");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

struct ls_state {
	unsigned	 n;
	int		 dump;
};

static int
ls_one(const struct idx_rec *r, void *arg)
{
	struct ls_state *st = arg;
	char date[32];
	time_t t = (time_t)r->arrival;
	struct tm tm;

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
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (json) {
		printf("%s{\"n\":%u,\"uidl\":", st->n > 1 ? "," : "", st->n);
		json_str(r->uidl);
		printf(",\"file\":");
		json_str(r->name);
		printf(",\"dir\":\"%s\",\"size\":%llu,\"arrival\":\"%s\",\"from\":",
		    r->dir == IDX_NEW ? "new" : "cur", (unsigned long long)r->wsize, date);
		json_str(r->from);
		printf(",\"subject\":");
		json_str(r->subject);
		printf("}\n");
	} else
		printf("%5u  %-40.40s %9llu  %s  %-30.30s  %s\n", st->n, r->uidl,
		    (unsigned long long)r->wsize, date, r->from, r->subject);
	return 0;
}

static int
cmd_ls(struct mbox *mb, int argc, char **argv)
{
	struct ls_state st = { 0, 0 };

	(void)argc, (void)argv;
	if (json)
		printf("[");
	else
		printf("%5s  %-40s %9s  %-20s  %-30s  %s\n", "N", "UIDL", "SIZE",
		    "ARRIVED", "FROM", "SUBJECT");
	if (idx_iter(mb->ix, ls_one, &st) == -1)
		return 1;
	if (json)
		printf("]\n");
	return 0;
}

static int
cmd_dump(struct mbox *mb, int argc, char **argv)
{
	struct ls_state st = { 0, 1 };

	(void)argc, (void)argv;
	return idx_iter(mb->ix, ls_one, &st) == -1 ? 1 : 0;
}

static int
cmd_stat(struct mbox *mb, int argc, char **argv)
{
	uint64_t n, size;

	(void)argc, (void)argv;
	if (idx_count(mb->ix, &n, &size) == -1)
		return 1;
	if (json)
		printf("{\"user\":\"%s\",\"messages\":%llu,\"size\":%llu}\n",
		    mb->u.name, (unsigned long long)n, (unsigned long long)size);
	else
		printf("%s: %llu messages, %llu octets\n", mb->u.name,
		    (unsigned long long)n, (unsigned long long)size);
	return 0;
}

static int
cmd_reindex(struct mbox *mb, int argc, char **argv)
{
	unsigned added = 0, removed = 0;
	uint64_t n, size;

	(void)argc, (void)argv;
	if (idx_sync(mb->ix, mb->path, IDX_SYNC_FULL, &added, &removed) == -1 ||
	    idx_count(mb->ix, &n, &size) == -1) {
		fprintf(stderr, "maildb: %s: reindex failed\n", mb->u.name);
		return 1;
	}
	printf("%s: %llu messages (%u added, %u removed)\n", mb->u.name,
	    (unsigned long long)n, added, removed);
	return 0;
}

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

static int
cmd_show(struct mbox *mb, int argc, char **argv)
{
	struct find_state f;
	char path[8192], chunk[8192];
	uint64_t num;
	ssize_t n;
	int fd;

	if (argc < 1)
		usage();
	memset(&f, 0, sizeof(f));
	f.want = argv[0];
	if (parse_u64(argv[0], UINT32_MAX, &num) == 0)
		f.target = (unsigned)num;
	idx_iter(mb->ix, find_one, &f);
	if (!f.found) {
		fprintf(stderr, "maildb: %s: no message %s\n", mb->u.name, argv[0]);
		return 1;
	}
	str_fmt(path, sizeof(path), "%s/%s/%s", mb->path,
	    f.rec.dir == IDX_NEW ? "new" : "cur", f.rec.name);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		fprintf(stderr, "maildb: %s: %s\n", path, strerror(errno));
		return 1;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		fwrite(chunk, 1, (size_t)n, stdout);
	close(fd);
	return n < 0;
}

struct verify_state {
	struct mbox	*mb;
	unsigned	 problems;
};

static int
verify_rec(const struct idx_rec *r, void *arg)
{
	struct verify_state *v = arg;
	char path[8192];
	struct stat st;

	str_fmt(path, sizeof(path), "%s/%s/%s", v->mb->path,
	    r->dir == IDX_NEW ? "new" : "cur", r->name);
	if (lstat(path, &st) == -1) {
		printf("missing-file %s\n", path);
		v->problems++;
	} else if (!S_ISREG(st.st_mode)) {
		printf("not-a-file %s\n", path);
		v->problems++;
	} else if ((uint64_t)st.st_size != r->size) {
		printf("size-mismatch %s index=%llu file=%llu\n", path,
		    (unsigned long long)r->size, (unsigned long long)st.st_size);
		v->problems++;
	} else if (st.st_uid != v->mb->u.uid || (st.st_mode & 077) != 0) {
		printf("bad-owner-or-mode %s uid=%u mode=%o\n", path,
		    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		v->problems++;
	}
	return 0;
}

static void
verify_dir(struct verify_state *v, const char *sub)
{
	char path[8192];
	struct idx_rec rec;
	struct dirent *de;
	DIR *d;

	str_fmt(path, sizeof(path), "%s/%s", v->mb->path, sub);
	if ((d = opendir(path)) == NULL) {
		printf("missing-dir %s\n", path);
		v->problems++;
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (idx_get(v->mb->ix, de->d_name, &rec) != 0 ||
		    strcmp(rec.name, de->d_name) != 0) {
			printf("not-indexed %s/%s\n", path, de->d_name);
			v->problems++;
		}
	}
	closedir(d);
}

static int
cmd_verify(struct mbox *mb, int argc, char **argv)
{
	struct verify_state v = { mb, 0 };

	(void)argc, (void)argv;
	if (idx_iter(mb->ix, verify_rec, &v) == -1) {
		printf("index-unreadable %s\n", mb->path);
		return 1;
	}
	verify_dir(&v, "new");
	verify_dir(&v, "cur");
	printf("%s: %s (%u problems)\n", mb->u.name, v.problems ? "NOT CLEAN" :
	    "clean", v.problems);
	return v.problems ? 1 : 0;
}

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

static const struct {
	const char	*name;
	mbox_fn		 fn;
	int		 how;
} mbox_cmds[] = {
	{ "ls", cmd_ls, MB_INDEX | MB_SYNC },
	{ "stat", cmd_stat, MB_INDEX | MB_SYNC },
	{ "show", cmd_show, MB_INDEX | MB_SYNC },
	{ "dump", cmd_dump, MB_INDEX },
	{ "verify", cmd_verify, MB_INDEX },	/* compare, do not repair */
	{ "reindex", cmd_reindex, MB_INDEX },
};

int
main(int argc, char *argv[])
{
	const char *cfile = CONF_FILE;
	char err[256];
	int ch, explicit_file = 0, i;
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
	argc -= optind;
	argv += optind;
	if (argc < 1 || strcmp(argv[0], "help") == 0)
		usage();
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
			memmove(&argv[i], &argv[i + 1], sizeof(*argv) * (size_t)(argc - i));
			argc--;
			i--;
		}
	if (strcmp(argv[0], "newaliases") == 0) {
		char dbpath[4096];
		unsigned count;

		str_fmt(dbpath, sizeof(dbpath), "%s.db", conf.aliases);
		if (alias_compile(conf.aliases, dbpath, &count, err, sizeof(err)) == -1) {
			fprintf(stderr, "maildb: %s: %s\n", conf.aliases, err);
			return 1;
		}
		printf("%s: %u aliases\n", dbpath, count);
		return 0;
	}
	if (strcmp(argv[0], "aliases") == 0)
		return cmd_aliases();
	for (k = 0; k < sizeof(mbox_cmds) / sizeof(mbox_cmds[0]); k++)
		if (strcmp(argv[0], mbox_cmds[k].name) == 0) {
			if (argc < 2)
				usage();
			return with_mailbox(argv[1], mbox_cmds[k].fn, mbox_cmds[k].how, argc - 2,
			    argv + 2);
		}
	usage();
	return 2;
}
