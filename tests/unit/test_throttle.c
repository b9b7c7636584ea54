/*
 * test_throttle.c - libmail/common/throttle.c through throttle.h only, on a
 * store in a mkdtemp directory: exemptions, the growing delay and the block
 * of an address, the /24 and /64 prefix and the user name counters, their
 * decay over the window (a fake wall clock: fake_clock.h), a success
 * clearing the address, thr_list and thr_clear, the connection limit (live
 * child processes, a dead one pruned) and rate, and failing open.
 */
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "conf.h"
#include "fake_clock.h"
#include "log.h"
#include "scratch.h"
#include "throttle.h"
#include "util.h"

static char base[64], store[128];

static const char *
nz(const char *s)
{
	return s != NULL ? s : "(none)";
}


/* The entry key as thr_list shows it, or NULL (a copy in e). */
struct find {
	const char		*key;
	struct thr_entry	 e;
	int			 found;
};

static int
find_one(const struct thr_entry *e, void *arg)
{
	struct find *f = arg;

	if (strcmp(e->key, f->key) == 0) {
		f->e = *e;
		f->found = 1;
	}
	return 0;
}

/* 1 and *e filled when key is listed (still in effect). */
static int
listed(const char *key, struct thr_entry *e)
{
	struct find f;
	struct thr *t;

	memset(&f, 0, sizeof(f));
	f.key = key;
	if (thr_open(&t, store, 0) == -1)
		return 0;
	thr_list(t, find_one, &f);
	thr_close(&t);
	if (f.found && e != NULL)
		*e = f.e;
	return f.found;
}

static int
clear(const char *what)
{
	struct thr *t;
	int n;

	if (thr_open(&t, store, 0) == -1)
		return -1;
	n = thr_clear(t, what);
	thr_close(&t);
	return n;
}

static void
fail_from(const char *ip, const char *user, int n)
{
	while (n-- > 0)
		thr_auth_result(ip, user, 0);
}

static void
test_exempt(void)
{
	struct thr_verdict v;

	CHECK(thr_exempt("pipe"), "no peer (pipe): exempt");
	CHECK(!thr_exempt("192.0.2.200x"), "another non-address: not exempt");
	CHECK(thr_exempt("192.0.2.200"), "address in throttle_exempt: exempt");
	CHECK(!thr_exempt("192.0.2.1"), "other address: not exempt");
	fail_from("192.0.2.200", "exempt", 5);
	thr_auth_check("192.0.2.200", "exempt", &v);
	CHECK(!v.refuse && v.delay_ms == 0 && !listed("ip:192.0.2.200", NULL),
	    "failures of an exempt address: not counted");
	thr_auth_check("192.0.2.1", "alice", &v);
	CHECK(!v.refuse && v.delay_ms == 0, "a clean address: no delay");
}

static void
test_address(void)
{
	struct thr_verdict v;
	struct thr_entry e = { .count = -1 };
	int64_t now;

	fail_from("192.0.2.1", "alice", 1);
	thr_auth_check("192.0.2.1", "alice", &v);
	CHECKF(!v.refuse && v.delay_ms == 500 && v.reason != NULL &&
	    strcmp(v.reason, "ip_failures") == 0,
	    "1 failure: 500 ms (%u, %s)", v.delay_ms, nz(v.reason));
	fail_from("192.0.2.1", "alice", 1);
	thr_auth_check("192.0.2.1", "alice", &v);
	CHECKF(!v.refuse && v.delay_ms == 1000, "2 failures: 1000 ms (%u)",
	    v.delay_ms);
	fail_from("192.0.2.1", "alice", 1);
	thr_auth_check("192.0.2.1", "alice", &v);
	now = time(NULL);
	CHECKF(v.refuse && v.reason != NULL &&
	    strcmp(v.reason, "ip_blocked") == 0,
	    "auth_fail_limit (3) failures: the address is blocked (%s)",
	    nz(v.reason));
	CHECKF(v.until >= now + 59 && v.until <= now + 61,
	    "... for auth_fail_window (60 s: until now + %lld)",
	    (long long)(v.until - now));
	CHECKF(listed("ip:192.0.2.1", &e) && e.count > 2.9 && e.count <= 3 &&
	    e.until == v.until, "thr_list: ip:192.0.2.1, count 3, blocked "
	    "(%.2f)", e.count);
	CHECKF(listed("net:192.0.2.0/24", &e) && e.count > 2.9 &&
	    e.until == 0, "thr_list: net:192.0.2.0/24 counted, not blocked "
	    "(%.2f)", e.count);
	CHECKF(listed("user:alice", &e) && e.count > 2.9 && e.until == 0,
	    "thr_list: user:alice counted, never blocked (%.2f)", e.count);

	/* the prefix and the user name slow others down, block nobody */
	thr_auth_check("192.0.2.2", "", &v);
	CHECKF(!v.refuse && v.delay_ms == 500 && v.reason != NULL &&
	    strcmp(v.reason, "net_failures") == 0,
	    "another address of the /24: delayed by the prefix (%u, %s)",
	    v.delay_ms, nz(v.reason));
	thr_auth_check("198.51.100.1", "alice", &v);
	CHECKF(!v.refuse && v.delay_ms == 500 && v.reason != NULL &&
	    strcmp(v.reason, "user_failures") == 0,
	    "the same user from elsewhere: delayed by the user (%u, %s)",
	    v.delay_ms, nz(v.reason));
	thr_auth_check("198.51.100.1", "bob", &v);
	CHECK(!v.refuse && v.delay_ms == 0, "another user from elsewhere: "
	    "no delay");

	/* the window: limit units leak per auth_fail_window */
	fake_clock_advance(30);
	thr_auth_check("192.0.2.1", "alice", &v);
	CHECK(v.refuse, "30 s later: still blocked");
	CHECKF(listed("ip:192.0.2.1", &e) && e.count > 1.4 && e.count < 1.6,
	    "30 s later: the count decayed by half the limit (%.2f)", e.count);
	fake_clock_advance(31);
	thr_auth_check("192.0.2.1", "alice", &v);
	CHECKF(!v.refuse && v.delay_ms == 0,
	    "a window later: the block is over, the counters gone (%u)",
	    v.delay_ms);
	CHECK(!listed("ip:192.0.2.1", NULL) && !listed("user:alice", NULL),
	    "a window later: nothing listed any more");
}

static void
test_success_and_clear(void)
{
	struct thr_verdict v;

	fail_from("192.0.2.3", "bob", 2);
	thr_auth_result("192.0.2.3", "bob", 1);
	CHECK(!listed("ip:192.0.2.3", NULL), "a success clears the address");
	CHECK(listed("user:bob", NULL) && listed("net:192.0.2.0/24", NULL),
	    "... not the user nor the prefix (they decay)");
	CHECKF(clear("bob") == 1 && !listed("user:bob", NULL),
	    "thr_clear user: removes user:bob");
	fail_from("192.0.2.4", "carol", 3);
	thr_auth_check("192.0.2.4", "carol", &v);
	CHECK(v.refuse, "192.0.2.4 blocked");
	CHECKF(clear("192.0.2.4") == 2 && !listed("ip:192.0.2.4", NULL) &&
	    !listed("net:192.0.2.0/24", NULL),
	    "thr_clear address: its record and its prefix's");
	thr_auth_check("192.0.2.4", "", &v);
	CHECK(!v.refuse && v.delay_ms == 0, "... and it may log in again");
	CHECK(clear("carol") == 1, "thr_clear carol");
	CHECK(clear("nobody-here") == 0, "thr_clear of nothing: 0");
}

static void
test_prefix(void)
{
	struct thr_verdict v;
	char ip[32];
	int i;

	/* 6 addresses x 2 failures: none blocked alone, the /24 at 4 x 3 */
	for (i = 1; i <= 6; i++) {
		str_fmt(ip, sizeof(ip), "203.0.113.%d", i);
		fail_from(ip, "", 2);
	}
	CHECK(!listed("user:", NULL), "no user name: no user record");
	thr_auth_check("203.0.113.99", "", &v);
	CHECKF(v.refuse && v.reason != NULL &&
	    strcmp(v.reason, "net_blocked") == 0,
	    "4 x auth_fail_limit failures in a /24 block all of it (%s)",
	    nz(v.reason));
	thr_auth_check("203.0.114.1", "", &v);
	CHECK(!v.refuse && v.delay_ms == 0, "the next /24 is not touched");

	/* IPv6: the /64, in any spelling */
	fail_from("2001:db8:1:2::1", "", 2);
	CHECK(listed("ip:2001:db8:1:2::1", NULL) &&
	    listed("net:2001:db8:1:2::/64", NULL),
	    "IPv6: ip: and net: (/64) records");
	fail_from("2001:0db8:0001:0002:0000:0000:0000:0001", "", 1);
	thr_auth_check("2001:db8:1:2::1", "", &v);
	CHECKF(v.refuse && strcmp(nz(v.reason), "ip_blocked") == 0,
	    "IPv6: the long spelling counts for the same address (%s)",
	    nz(v.reason));
	thr_auth_check("2001:db8:1:2:ffff::7", "", &v);
	CHECKF(!v.refuse && v.delay_ms == 500 &&
	    strcmp(nz(v.reason), "net_failures") == 0,
	    "IPv6: another address of the /64 is slowed down (%u)", v.delay_ms);
	thr_auth_check("::ffff:203.0.113.50", "", &v);
	CHECKF(v.refuse && strcmp(nz(v.reason), "net_blocked") == 0,
	    "IPv4-mapped IPv6 counts as IPv4 (%s)", nz(v.reason));
}

static pid_t
child(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		pause();
		_exit(0);
	}
	return pid;
}

static void
test_connections(void)
{
	const char *why;
	struct thr_entry e = { .count = -1 };
	pid_t c[3];
	int i;

	set_conf("max_conn_per_ip=2");
	for (i = 0; i < 3; i++)
		c[i] = child();
	CHECK(thr_conn_enter("192.0.2.10", c[0], &why) == 0 &&
	    thr_conn_enter("192.0.2.10", c[1], &why) == 0,
	    "max_conn_per_ip=2: two connections enter");
	CHECKF(thr_conn_enter("192.0.2.10", c[2], &why) == 1 &&
	    strcmp(nz(why), "conn_limit") == 0,
	    "the third is refused (%s)", nz(why));
	CHECKF(listed("live:192.0.2.10", &e) && e.count == 2,
	    "thr_list: live:192.0.2.10 has 2 (%.0f)", e.count);
	CHECK(thr_conn_enter("192.0.2.11", c[2], &why) == 0,
	    "another address is not concerned");
	thr_conn_leave("192.0.2.11", c[2]);
	thr_conn_leave("192.0.2.10", c[0]);
	CHECK(thr_conn_enter("192.0.2.10", c[2], &why) == 0,
	    "one left: the next enters");
	kill(c[1], SIGKILL);
	waitpid(c[1], NULL, 0);
	CHECK(thr_conn_enter("192.0.2.10", c[0], &why) == 0,
	    "one died without leaving: pruned, the next enters");
	CHECK(thr_conn_enter("192.0.2.10", getpid(), &why) == 1,
	    "... and the limit holds again");
	for (i = 0; i < 3; i++) {
		kill(c[i], SIGKILL);
		waitpid(c[i], NULL, 0);
	}
	set_conf("max_conn_per_ip=0");

	set_conf("max_conn_rate_per_ip=3");
	for (i = 0; i < 3; i++)
		if (thr_conn_enter("192.0.2.12", getpid(), &why) != 0)
			break;
	CHECKF(i == 3, "max_conn_rate_per_ip=3: three connections (%d)", i);
	CHECKF(thr_conn_enter("192.0.2.12", getpid(), &why) == 1 &&
	    strcmp(nz(why), "conn_rate") == 0,
	    "the fourth in the minute is refused (%s)", nz(why));
	fake_clock_advance(60);
	CHECK(thr_conn_enter("192.0.2.12", getpid(), &why) == 0,
	    "a minute later: one more enters");
	set_conf("max_conn_rate_per_ip=0");
}

static void
test_fail_open(void)
{
	struct thr_verdict v;
	char bad[200];
	const char *why;

	/* the store is a file, not a directory */
	scratch_file(base, "not-a-dir");
	str_fmt(bad, sizeof(bad), "throttle_db=%s/not-a-dir", base);
	set_conf(bad);
	set_conf("max_conn_per_ip=1");
	fail_from("192.0.2.20", "alice", 5);
	thr_auth_check("192.0.2.20", "alice", &v);
	CHECK(!v.refuse && v.delay_ms == 0,
	    "an unusable store: logins go on, undelayed");
	CHECK(thr_conn_enter("192.0.2.20", getpid(), &why) == 0 &&
	    thr_conn_enter("192.0.2.20", getppid(), &why) == 0,
	    "an unusable store: connections go on");
	set_conf("max_conn_per_ip=0");
	set_conf("throttle_db=");
	CHECK(thr_exempt("192.0.2.20"), "throttle_db empty: throttling off");
}

int
main(void)
{
	char kv[200];

	log_open("test_throttle", 1);
	scratch_dir(base, sizeof(base), "test_throttle");
	str_fmt(store, sizeof(store), "%s/throttle", base);
	conf_defaults();
	str_fmt(kv, sizeof(kv), "throttle_db=%s", store);
	set_conf(kv);
	set_conf("throttle_exempt=192.0.2.128/25");
	set_conf("auth_fail_limit=3");
	set_conf("auth_fail_window=60");
	set_conf("auth_penalty_max=10");
	set_conf("max_conn_per_ip=0");
	set_conf("max_conn_rate_per_ip=0");

	test_exempt();
	test_address();
	test_success_and_clear();
	test_prefix();
	test_connections();
	test_fail_open();

	return scratch_done(base);
}
