/*
 * test_greylist.c - libmail/common/greylist.c through greylist.h only, on a
 * store in a mkdtemp directory: the first attempt of a triplet deferred for
 * greylist_delay, a retry after it passing and whitelisting the triplet,
 * the triplet's parts (the /24 or /64 prefix, addresses in any case, the
 * null sender), expiry of a whitelisted triplet and of a first attempt
 * never retried in time, grey_list, grey_clear, exemptions and failing
 * open. Days pass on a fake wall clock (fake_clock.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "conf.h"
#include "fake_clock.h"
#include "greylist.h"
#include "log.h"
#include "scratch.h"
#include "util.h"

#define DELAY	300		/* greylist_delay: the default, 5m */
#define DAY	86400

static char base[64];


struct find {
	const char		*rcpt;
	struct grey_entry	 e;
	int			 n, found;
};

static int
find_one(const struct grey_entry *e, void *arg)
{
	struct find *f = arg;

	f->n++;
	if (strcmp(e->rcpt, f->rcpt) == 0) {
		f->e = *e;
		f->found++;
	}
	return 0;
}

/* How many triplets are listed for rcpt (the last one in *e); -1 error. */
static int
listed(const char *rcpt, struct grey_entry *e)
{
	struct find f;
	struct thr *t;

	memset(&f, 0, sizeof(f));
	f.rcpt = rcpt;
	if (grey_open(&t, THR_CREATE) == -1)
		return -1;
	if (grey_list(t, find_one, &f) == -1)
		f.found = -1;
	thr_close(&t);
	if (f.found > 0 && e != NULL)
		*e = f.e;
	return f.found;
}

static int
clear(const char *what)
{
	struct thr *t;
	int n;

	if (grey_open(&t, THR_CREATE) == -1)
		return -1;
	n = grey_clear(t, what);
	thr_close(&t);
	return n;
}

static void
test_exempt(void)
{
	CHECK(grey_exempt("pipe"), "no peer (pipe): exempt");
	CHECK(!grey_exempt("192.0.2.200x"), "another non-address: not exempt");
	CHECK(grey_exempt("192.0.2.200"), "address in greylist_exempt: exempt");
	CHECK(!grey_exempt("192.0.2.1"), "other address: greylisted");
	CHECK(grey_check("192.0.2.200", "a@x.test", "alice@example.test") == 0 &&
	    listed("alice@example.test", NULL) == 0,
	    "an exempt address passes and stores nothing");
	set_conf("greylist=no");
	CHECK(grey_exempt("192.0.2.1"), "greylist = no: everybody exempt");
	set_conf("greylist=yes");
}

static void
test_triplet(void)
{
	struct grey_entry e = { .count = 0 };
	int64_t w;

	w = grey_check("192.0.2.1", "Sender@X.test", "alice@example.test");
	CHECKF(w == DELAY, "first attempt: deferred for greylist_delay "
	    "(%lld s)", (long long)w);
	CHECKF(listed("alice@example.test", &e) == 1 && !e.passed &&
	    e.count == 1 && strcmp(e.net, "192.0.2.0/24") == 0 &&
	    strcmp(e.sender, "sender@x.test") == 0,
	    "grey_list: the triplet, waiting (net %s, sender %s, %u attempts)",
	    e.net, e.sender, e.count);
	fake_clock_advance(100);
	w = grey_check("192.0.2.1", "sender@x.test", "alice@example.test");
	CHECKF(w == DELAY - 100, "a retry too early: deferred for the rest "
	    "(%lld s)", (long long)w);
	w = grey_check("192.0.2.77", "SENDER@x.TEST", "Alice@Example.test");
	CHECKF(w == DELAY - 100, "another address of the /24, other case: the "
	    "same triplet (%lld s)", (long long)w);
	w = grey_check("192.0.2.1", "sender@x.test", "bob@example.test");
	CHECKF(w == DELAY, "another recipient: a triplet of its own (%lld s)",
	    (long long)w);
	w = grey_check("198.51.100.1", "sender@x.test", "alice@example.test");
	CHECKF(w == DELAY, "another /24: a triplet of its own (%lld s)",
	    (long long)w);

	fake_clock_advance(DELAY - 100);
	w = grey_check("192.0.2.1", "sender@x.test", "alice@example.test");
	CHECKF(w == 0, "a retry after greylist_delay passes (%lld)",
	    (long long)w);
	CHECKF(listed("alice@example.test", &e) == 2,
	    "grey_list: alice has two triplets (two prefixes)");
	CHECKF(grey_check("192.0.2.1", "sender@x.test", "alice@example.test")
	    == 0, "whitelisted: passes at once");
	fake_clock_advance(20 * DAY);
	CHECK(grey_check("192.0.2.9", "sender@x.test", "alice@example.test")
	    == 0, "20 days later: still whitelisted");
	fake_clock_advance(35 * DAY + 1);
	w = grey_check("192.0.2.1", "sender@x.test", "alice@example.test");
	CHECKF(w == DELAY, "not seen for greylist_expire (35 days): greylisted "
	    "anew (%lld s)", (long long)w);

	/* a first attempt never retried within greylist_retry_window (2d) */
	w = grey_check("192.0.2.1", "late@x.test", "carol@example.test");
	CHECKF(w == DELAY, "first attempt (%lld s)", (long long)w);
	fake_clock_advance(2 * DAY + 1);
	w = grey_check("192.0.2.1", "late@x.test", "carol@example.test");
	CHECKF(w == DELAY, "retried after greylist_retry_window: starts over "
	    "(%lld s)", (long long)w);
	CHECKF(listed("carol@example.test", &e) == 1 && e.count == 1,
	    "... as a new first attempt (%u attempts)", e.count);

	w = grey_check("192.0.2.1", "", "dave@example.test");
	CHECKF(w == DELAY && listed("dave@example.test", &e) == 1 &&
	    strcmp(e.sender, "<>") == 0,
	    "the null sender is \"<>\" (%s)", e.sender);
	w = grey_check("2001:db8:1:2::1", "s@x.test", "erin@example.test");
	CHECKF(w == DELAY && listed("erin@example.test", &e) == 1 &&
	    strcmp(e.net, "2001:db8:1:2::/64") == 0,
	    "IPv6: the /64 (%s)", e.net);
	grey_check("2001:db8:1:2:ffff::1", "s@x.test", "erin@example.test");
	CHECKF(listed("erin@example.test", &e) == 1 && e.count == 2,
	    "IPv6: another address of the /64, the same triplet (%u attempts)",
	    e.count);
}

static void
test_clear(void)
{
	int before, n;

	CHECKF(clear("late@x.test") == 1 && listed("carol@example.test", NULL)
	    == 0, "grey_clear by sender");
	CHECKF(clear("2001:db8:1:2::/64") == 1 &&
	    listed("erin@example.test", NULL) == 0, "grey_clear by prefix");
	before = listed("dave@example.test", NULL);
	n = clear("all");

	CHECKF(before == 1 && n >= 1 && listed("dave@example.test", NULL) == 0,
	    "grey_clear all (%d cleared)", n);
}

static void
test_fail_open(void)
{
	char kv[200];

	scratch_file(base, "not-a-dir");
	str_fmt(kv, sizeof(kv), "greylist_db=%s/not-a-dir", base);
	set_conf(kv);
	CHECK(grey_check("192.0.2.1", "a@x.test", "zed@example.test") == 0,
	    "an unusable store: the recipient passes");
	set_conf("greylist_db=");
	CHECK(grey_exempt("192.0.2.1"), "greylist_db empty: off");
}

int
main(void)
{
	char kv[200];

	log_open("test_greylist", 1);
	scratch_dir(base, sizeof(base), "test_greylist");
	conf_defaults();
	str_fmt(kv, sizeof(kv), "greylist_db=%s/greylist", base);
	set_conf(kv);
	set_conf("greylist=yes");
	set_conf("greylist_exempt=192.0.2.128/25");
	set_conf("greylist_delay=5m");
	set_conf("greylist_retry_window=2d");
	set_conf("greylist_expire=35d");

	test_exempt();
	test_triplet();
	test_clear();
	test_fail_open();

	return scratch_done(base);
}
