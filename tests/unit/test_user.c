/*
 * test_user.c - libmail/common/user.c and aliases.c through user.h and
 * aliases.h: account names, lookups and mailbox paths; the aliases(5)
 * source (continuations, comments, refusals naming the line) compiled with
 * alias_compile as `maildb newaliases` does (tests/lib/lib.sh); and the
 * resolution of a local part: +tag, case, local domains, aliases in aliases,
 * duplicates, loops, forwarding, min_uid, postmaster falling back to root,
 * and a damaged map as a temporary failure.
 *
 * The accounts are fake: the program re-executes itself under nss_wrapper
 * (LD_PRELOAD, NSS_WRAPPER_PASSWD/GROUP, as tests/lib/lib.sh runs the
 * daemons) with a passwd file of its own; without libnss_wrapper.so it
 * skips.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aliases.h"
#include "check.h"
#include "conf.h"
#include "log.h"
#include "params.h"
#include "scratch.h"
#include "user.h"
#include "util.h"

#define MAXU	16

static char base[200];


static int
write_file(const char *name, const char *text)
{
	char p[300];
	FILE *fp;

	if (str_fmt(p, sizeof(p), "%s/%s", base, name) == -1 ||
	    (fp = fopen(p, "w")) == NULL)
		return -1;
	fputs(text, fp);
	return fclose(fp);
}

/* Re-executes this program under nss_wrapper with its own accounts. */
static void
reexec(char **argv)
{
	static const char *const dirs[] = { "/usr/lib/x86_64-linux-gnu",
	    "/usr/lib64", "/usr/lib", "/lib/x86_64-linux-gnu" };
	char lib[300], pre[1200], env[300], asan[600], text[2048];
	const char *old;
	size_t i;

	lib[0] = '\0';
	if ((old = getenv("WRAPLIB")) != NULL && old[0] != '\0' &&
	    str_fmt(lib, sizeof(lib), "%s/libnss_wrapper.so", old) == 0 &&
	    access(lib, R_OK) == 0)
		;
	else
		for (lib[0] = '\0', i = 0; i < sizeof(dirs) / sizeof(dirs[0]);
		    i++)
			if (str_fmt(lib, sizeof(lib), "%s/libnss_wrapper.so",
			    dirs[i]) == 0 && access(lib, R_OK) == 0)
				break;
			else
				lib[0] = '\0';
	if (lib[0] == '\0') {
		CHECK_SKIP("accounts and aliases", "no libnss_wrapper.so "
		    "(package libnss-wrapper)");
		exit(CHECK_DONE());
	}
	scratch_dir(base, sizeof(base), "test_user");
	str_fmt(text, sizeof(text),
	    "root:x:0:0:root:/root:/bin/sh\n"
	    "daemonish:x:500:500:below min_uid:/nonexistent:/usr/sbin/nologin\n"
	    "alice:x:1001:1001:Alice:%s/home/alice:/bin/sh\n"
	    "bob:x:1002:1002:Bob:%s/home/bob:/bin/sh\n"
	    "carol:x:1003:1003:Carol:%s/home/carol:/bin/sh\n", base, base, base);
	if (write_file("passwd", text) == -1 ||
	    write_file("group", "root:x:0:\nalice:x:1001:\nbob:x:1002:\n"
	    "carol:x:1003:\n") == -1) {
		perror("write passwd");
		exit(1);
	}
	old = getenv("LD_PRELOAD");
	str_fmt(pre, sizeof(pre), "%s%s%s", old != NULL ? old : "",
	    old != NULL && old[0] != '\0' ? ":" : "", lib);
	setenv("LD_PRELOAD", pre, 1);
	str_fmt(env, sizeof(env), "%s/passwd", base);
	setenv("NSS_WRAPPER_PASSWD", env, 1);
	str_fmt(env, sizeof(env), "%s/group", base);
	setenv("NSS_WRAPPER_GROUP", env, 1);
	setenv("TEST_USER_DIR", base, 1);
	/* under ASan its runtime is not first once something is preloaded */
	old = getenv("ASAN_OPTIONS");
	str_fmt(asan, sizeof(asan), "%s%sverify_asan_link_order=0",
	    old != NULL ? old : "", old != NULL && old[0] != '\0' ? ":" : "");
	setenv("ASAN_OPTIONS", asan, 1);
	execv("/proc/self/exe", argv);
	perror("execv /proc/self/exe");
	exit(1);
}

static void
test_accounts(void)
{
	struct mailuser u;
	char out[300], want[300], name[80];

	CHECK(user_name_ok("alice") && user_name_ok("a.b_c-1"),
	    "user_name_ok: lower case, digits, . _ -");
	memset(name, 'a', USER_NAME_MAX + 1);
	name[USER_NAME_MAX + 1] = '\0';
	CHECK(!user_name_ok("") && !user_name_ok("Alice") &&
	    !user_name_ok("-x") && !user_name_ok(".x") &&
	    !user_name_ok("a b") && !user_name_ok("a/b") &&
	    !user_name_ok(name), "user_name_ok: refuses empty, upper case, "
	    "leading - or ., space, /, over USER_NAME_MAX");
	name[USER_NAME_MAX] = '\0';
	CHECK(user_name_ok(name), "user_name_ok: USER_NAME_MAX characters");

	memset(&u, 0, sizeof(u));
	str_fmt(want, sizeof(want), "%s/home/alice", base);
	CHECKF(user_lookup("alice", &u) == 0 && u.uid == 1001 &&
	    u.gid == 1001 && strcmp(u.name, "alice") == 0 &&
	    strcmp(u.home, want) == 0, "user_lookup alice: uid %u, home %s",
	    (unsigned)u.uid, u.home);
	CHECK(user_lookup("nosuch", &u) == 1, "user_lookup: no such account: 1");
	CHECK(user_lookup("Alice", &u) == 1, "user_lookup: a bad name: 1");

	user_lookup("alice", &u);
	str_fmt(want, sizeof(want), "%s/home/alice/Maildir", base);
	CHECKF(user_maildir(&u, out, sizeof(out)) == 0 &&
	    strcmp(out, want) == 0, "mailbox ~/Maildir: %s", out);
	set_conf("mailbox=/var/mail/%u");
	CHECKF(user_maildir(&u, out, sizeof(out)) == 0 &&
	    strcmp(out, "/var/mail/alice") == 0, "mailbox /var/mail/%%u: %s",
	    out);
	set_conf("mailbox=%h/mail/%u");
	str_fmt(want, sizeof(want), "%s/home/alice/mail/alice", base);
	CHECKF(user_maildir(&u, out, sizeof(out)) == 0 &&
	    strcmp(out, want) == 0, "mailbox %%h/mail/%%u: %s", out);
	set_conf("mailbox=/var/mail/../%u");
	CHECK(user_maildir(&u, out, sizeof(out)) == -1,
	    "mailbox with /../: refused");
	set_conf("mailbox=Maildir");
	CHECK(user_maildir(&u, out, sizeof(out)) == -1,
	    "a relative mailbox: refused");
	set_conf("mailbox=~/Maildir");
	CHECK(user_maildir(&u, out, 10) == -1, "a path too long: refused");
}

static int
count_entry(const char *name, const char *targets, int line, void *arg)
{
	(void)name;
	(void)targets;
	(void)line;
	(*(int *)arg)++;
	return 0;
}

/* Compiles text as the aliases source NAME into NAME.db. */
static int
compile(const char *name, const char *text, unsigned *count, char *err,
    size_t errsize)
{
	char src[300], db[300];

	if (write_file(name, text) == -1)
		return -1;
	str_fmt(src, sizeof(src), "%s/%s", base, name);
	str_fmt(db, sizeof(db), "%s/%s.db", base, name);
	return alias_compile(src, db, count, err, errsize);
}

static const char aliases[] =
    "# test aliases\n"
    "postmaster: alice\n"
    "team: alice, bob\n"
    "Dup: alice, ALICE, team\n"
    "multi: alice,\n"
    "  bob,\n"
    "\tcarol\n"
    "\n"
    "fwd: Someone@Elsewhere.test, alice, other@elsewhere.test\n"
    "sysmail: daemonish\n"
    "loop1: loop2\n"
    "loop2: loop1\n"
    "via: team@localhost\n"
    "deep1: deep2\ndeep2: deep3\ndeep3: deep4\ndeep4: deep5\n"
    "deep5: deep6\ndeep6: deep7\ndeep7: deep8\ndeep8: deep9\n"
    "deep9: alice\n";

static void
test_aliases(void)
{
	static const struct { const char *text, *why; } bad[] = {
		{ "ok: alice\nx: |/bin/sh\n", "line 2: unsupported target" },
		{ "ok: alice\n\nx: /etc/passwd\n", "line 3: unsupported target" },
		{ "x: :include:/etc/list\n", "line 1: unsupported target" },
		{ "x alice\n", "line 1: missing ':'" },
		{ "x:\n", "line 1: alias \"x\" has no target" },
		{ "  alice\n", "line 1: continuation without entry" },
	};
	char err[256], db[300], out[512];
	unsigned count = 0;
	size_t i;
	int n = 0;

	CHECKF(compile("aliases", aliases, &count, err, sizeof(err)) == 0 &&
	    count == 18, "alias_compile: 18 entries (%u) %s", count,
	    count == 18 ? "" : err);
	str_fmt(db, sizeof(db), "%s/aliases.db", base);
	CHECKF(alias_lookup(db, "team", out, sizeof(out)) == 0 &&
	    strcmp(out, "alice,bob") == 0, "alias_lookup team: %s", out);
	CHECKF(alias_lookup(db, "dup", out, sizeof(out)) == 0,
	    "names are lower-cased (Dup: %s)", out);
	CHECKF(alias_lookup(db, "multi", out, sizeof(out)) == 0 &&
	    strcmp(out, "alice,bob,carol") == 0,
	    "continuation lines belong to the entry (%s)", out);
	CHECK(alias_lookup(db, "nosuch", out, sizeof(out)) == 1,
	    "alias_lookup: absent: 1");
	str_fmt(out, sizeof(out), "%s/none.db", base);
	CHECK(alias_lookup(out, "team", db, sizeof(db)) == 1,
	    "alias_lookup: no map at all: 1");
	str_fmt(db, sizeof(db), "%s/aliases.db", base);
	CHECKF(alias_list(db, count_entry, &n) == 0 && n == 18,
	    "alias_list: every entry (%d)", n);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CHECKF(compile("bad", bad[i].text, &count, err, sizeof(err)) ==
		    -1 && strncmp(err, bad[i].why, strlen(bad[i].why)) == 0,
		    "refused: %s (%s)", bad[i].why, err);
	}
}

/* The resolution of local as "name name ...", sorted as found, or "-1". */
static const char *
resolve(const char *local, char *out, size_t size)
{
	struct mailuser u[MAXU];
	int i, n;
	size_t o = 0;

	out[0] = '\0';
	if ((n = user_resolve(local, u, MAXU)) < 0) {
		str_copy(out, size, "-1");
		return out;
	}
	for (i = 0; i < n; i++) {
		str_fmt(out + o, size - o, "%s%s", i ? " " : "", u[i].name);
		o = strlen(out);
	}
	return out;
}

static void
resolves(const char *local, const char *want)
{
	char got[512];

	resolve(local, got, sizeof(got));
	CHECKF(strcmp(got, want) == 0, "\"%s\" -> \"%s\"%s%s%s", local, want,
	    strcmp(got, want) != 0 ? " (got \"" : "",
	    strcmp(got, want) != 0 ? got : "",
	    strcmp(got, want) != 0 ? "\")" : "");
}

static void
test_resolve(void)
{
	struct mailuser u[MAXU];
	char remote[4][SMTP_PATH_MAX + 1], kv[300], err[256];
	size_t nremote = 99;
	unsigned count;
	int n;

	resolves("alice", "alice");
	resolves("Alice", "alice");
	resolves("alice+tag", "alice");
	resolves("ALICE+Tag+more", "alice");
	resolves("alice@localhost", "alice");
	resolves("alice@EXAMPLE.test", "alice");
	resolves("alice@remote.test", "");
	resolves("nosuch", "");
	resolves("team", "alice bob");
	resolves("team+list", "alice bob");
	resolves("dup", "alice bob");
	resolves("multi", "alice bob carol");
	resolves("via", "alice bob");
	resolves("daemonish", "");
	resolves("sysmail", "daemonish");
	resolves("loop1", "");
	resolves("deep1", "");
	resolves("deep2", "alice");
	resolves("postmaster", "alice");
	resolves("postmaster@localhost", "alice");
	resolves("", "");

	n = user_resolve_all("fwd", u, MAXU, remote, 4, &nremote);
	CHECKF(n == 3 && nremote == 2 && strcmp(u[0].name, "alice") == 0 &&
	    strcmp(remote[0], "someone@elsewhere.test") == 0 &&
	    strcmp(remote[1], "other@elsewhere.test") == 0,
	    "forwarding: 1 account + 2 remote addresses, lower case (%d, %zu)",
	    n, nremote);
	resolves("fwd", "alice");
	n = user_resolve_all("fwd", u, MAXU, remote, 1, &nremote);
	CHECKF(n == 2 && nremote == 1, "forwarding: at most rmax remote "
	    "addresses (%d, %zu)", n, nremote);
	n = user_resolve("team", u, 1);
	CHECKF(n == 1, "at most max accounts (%d)", n);

	/* a map without postmaster: root gets it, and root only so */
	CHECK(compile("aliases2", "team: alice, bob\n", &count, err,
	    sizeof(err)) == 0, "a second map, without postmaster");
	str_fmt(kv, sizeof(kv), "aliases=%s/aliases2", base);
	set_conf(kv);
	resolves("postmaster", "root");
	resolves("root", "");

	/* no map at all: accounts only */
	str_fmt(kv, sizeof(kv), "aliases=%s/none", base);
	set_conf(kv);
	resolves("alice", "alice");
	resolves("team", "");

	/* a damaged map: a temporary failure, not "no such user" */
	write_file("broken.db", "this is not a Berkeley DB file\n");
	str_fmt(kv, sizeof(kv), "aliases=%s/broken", base);
	set_conf(kv);
	resolves("alice", "-1");
}

int
main(int argc, char **argv)
{
	const char *dir = getenv("TEST_USER_DIR");
	char kv[300];

	(void)argc;
	if (dir == NULL || getenv("NSS_WRAPPER_PASSWD") == NULL)
		reexec(argv);
	str_copy(base, sizeof(base), dir);
	log_open("test_user", 1);
	conf_defaults();
	set_conf("hostname=mx.test");
	set_conf("local_domains=localhost example.test");
	set_conf("min_uid=1000");
	str_fmt(kv, sizeof(kv), "aliases=%s/aliases", base);
	set_conf(kv);

	test_accounts();
	test_aliases();
	test_resolve();

	return scratch_done(base);
}
