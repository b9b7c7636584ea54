/*
 * test_apop.c - APOP: the RFC 1939 section 7 example digest, the strict
 * digest syntax, greeting timestamps, and the secrets file (set, replace,
 * remove, list, refusal of a file others can read).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apop.h"
#include "check.h"
#include "util.h"

static char dir[] = "/tmp/test_apop.XXXXXX";
static char names[256];

static void
collect(const char *name, void *arg)
{
	(void)arg;
	strncat(names, name, sizeof(names) - strlen(names) - 2);
	strcat(names, " ");
}

int
main(void)
{
	const char *ts = "<1896.697170952@dbc.mtview.ca.us>";
	char hex[APOP_DIGEST_LEN + 1], t1[APOP_TS_MAX], t2[APOP_TS_MAX];
	char db[300], secret[APOP_SECRET_MAX], err[512], cmd[400];
	size_t len = 0;
	struct stat st;

	CHECK(apop_digest(ts, "tanstaaf", 8, hex) == 0 &&
	    strcmp(hex, "c4c9334bac560ecc979e58001b3e22fb") == 0,
	    "RFC 1939 example: mrose/tanstaaf digest");
	CHECK(apop_check(ts, "tanstaaf", 8, "c4c9334bac560ecc979e58001b3e22fb"),
	    "apop_check accepts the RFC digest");
	CHECK(!apop_check(ts, "tanstaaF", 8, "c4c9334bac560ecc979e58001b3e22fb"),
	    "wrong secret refused");
	CHECK(!apop_check("<1896.697170953@dbc.mtview.ca.us>", "tanstaaf", 8,
	    "c4c9334bac560ecc979e58001b3e22fb"), "other timestamp refused");
	CHECK(!apop_check(ts, "tanstaaf", 8, "C4C9334BAC560ECC979E58001B3E22FB"),
	    "upper-case hex refused");
	CHECK(apop_digest_syntax_ok("0123456789abcdef0123456789abcdef"), "syntax ok");
	CHECK(!apop_digest_syntax_ok("0123456789abcdef0123456789abcde"), "31 digits");
	CHECK(!apop_digest_syntax_ok("0123456789abcdef0123456789abcdef0"), "33 digits");
	CHECK(!apop_digest_syntax_ok("0123456789abcdef0123456789abcdeg"), "non-hex");
	CHECK(!apop_digest_syntax_ok(""), "empty");
	CHECK(apop_timestamp(t1, sizeof(t1), "mx.test") == 0 &&
	    apop_timestamp(t2, sizeof(t2), "mx.test") == 0 && strcmp(t1, t2) != 0,
	    "timestamps differ");
	{
		long pid;
		char rnd[17];
		long long when;
		char host[64];
		int n = sscanf(t1, "<%ld.%16[0-9a-f].%lld@%63[^>]>", &pid, rnd, &when, host);

		CHECK(n == 4 && pid == (long)getpid() && strlen(rnd) == 16 &&
		    strcmp(host, "mx.test") == 0 && t1[strlen(t1) - 1] == '>',
		    "timestamp is <pid.random.time@host>");
	}
	CHECK(apop_timestamp(t1, 20, "mx.test") == -1, "timestamp too long for buffer");

	if (mkdtemp(dir) == NULL)
		return 1;
	str_fmt(db, sizeof(db), "%s/apop.db", dir);
	CHECK(apop_get(db, "alice", secret, sizeof(secret), &len) == 1,
	    "missing file: no entry");
	CHECK(apop_put(db, "alice", "s3cret", 6, err, sizeof(err)) == 0, "set alice");
	CHECK(apop_put(db, "bob", "other", 5, err, sizeof(err)) == 0, "set bob");
	CHECK(stat(db, &st) == 0 && (st.st_mode & 0777) == 0600, "file mode 0600");
	CHECK(apop_get(db, "alice", secret, sizeof(secret), &len) == 0 && len == 6 &&
	    memcmp(secret, "s3cret", 6) == 0, "get alice");
	CHECK(apop_put(db, "alice", "new", 3, err, sizeof(err)) == 0 &&
	    apop_get(db, "alice", secret, sizeof(secret), &len) == 0 && len == 3 &&
	    memcmp(secret, "new", 3) == 0, "replace alice");
	CHECK(apop_get(db, "carol", secret, sizeof(secret), &len) == 1, "carol absent");
	CHECK(apop_get(db, "alic", secret, sizeof(secret), &len) == 1, "no prefix match");
	names[0] = '\0';
	CHECK(apop_list(db, collect, NULL, err, sizeof(err)) == 0 &&
	    (strcmp(names, "alice bob ") == 0 || strcmp(names, "bob alice ") == 0),
	    "list names");
	CHECK(apop_put(db, "alice", NULL, 0, err, sizeof(err)) == 0 &&
	    apop_get(db, "alice", secret, sizeof(secret), &len) == 1 &&
	    apop_get(db, "bob", secret, sizeof(secret), &len) == 0, "rm alice keeps bob");
	CHECK(apop_put(db, "alice", NULL, 0, err, sizeof(err)) == 1, "rm absent: 1");
	chmod(db, 0640);
	CHECK(apop_get(db, "bob", secret, sizeof(secret), &len) == -1,
	    "group-readable file refused");
	chmod(db, 0600);
	str_fmt(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return CHECK_DONE();
}
