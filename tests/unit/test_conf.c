/*
 * test_conf.c - configuration: defaults, file parsing, -o, and the errors
 * that name file:line (a typo in every choice key); plus the strict number
 * parsers under it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "conf.h"
#include "tls_server.h"
#include "util.h"

static char path[] = "/tmp/test_conf.XXXXXX";

/* One typo per choice key, and the error after "file:line: ". */
static const struct {
	const char *line, *err;
} typos[] = {
	{ "tls = startls",
	    "tls: expected \"\", none, starttls or implicit, got \"startls\"" },
	{ "tls_min_version = TLSv1.4", "tls_min_version: expected TLSv1.2, "
	    "TLSv1.3, TLSv1.1 or TLSv1, got \"TLSv1.4\"" },
	{ "dnsbl_action = rejct",
	    "dnsbl_action: expected reject or log, got \"rejct\"" },
	{ "role = submision",
	    "role: expected mx or submission, got \"submision\"" },
	{ "relay_tls = verfy",
	    "relay_tls: expected may, encrypt or verify, got \"verfy\"" },
};

/* Durations refused, and the error after "file:line: ". */
static const struct {
	const char *line, *err;
} bad_durations[] = {
	{ "smtp_timeout = 2h",
	    "smtp_timeout: bad value \"2h\" (allowed 1s..1h)" },
	{ "smtp_timeout = 0", "smtp_timeout: bad value \"0\" (allowed 1s..1h)" },
	{ "smtp_timeout = 1500ms",
	    "smtp_timeout: \"1500ms\" is not a whole number of seconds" },
	{ "greylist_retry_window = 59s", "greylist_retry_window: bad value "
	    "\"59s\" (allowed 1m..30d)" },
	{ "greet_delay = -1s",
	    "greet_delay: bad value \"-1s\" (allowed 0..5m)" },
	{ "greet_delay = 5 m",
	    "greet_delay: bad value \"5 m\" (allowed 0..5m)" },
	{ "greet_delay = 5min",
	    "greet_delay: bad value \"5min\" (allowed 0..5m)" },
	{ "greet_delay = 1.5s",
	    "greet_delay: bad value \"1.5s\" (allowed 0..5m)" },
	{ "greet_delay = ms", "greet_delay: bad value \"ms\" (allowed 0..5m)" },
	{ "greet_delay =", "greet_delay: bad value \"\" (allowed 0..5m)" },
	{ "greylist_expire = 213503982334602d",	/* overflows 64 bits in ms */
	    "greylist_expire: bad value \"213503982334602d\" (allowed 1h..365d)" },
	{ "greylist_expire = 99999999999999999999999",	/* over-long */
	    "greylist_expire: bad value \"99999999999999999999999\" "
	    "(allowed 1h..365d)" },
	{ "auth_fail_delay = 61s", "auth_fail_delay: bad value \"61s\" "
	    "(allowed 0..1m; a bare number is ms)" },
	{ "auth_fail_delay = 60001", "auth_fail_delay: bad value \"60001\" "
	    "(allowed 0..1m; a bare number is ms)" },
};

static int
load(const char *text, char *err, size_t size)
{
	FILE *fp = fopen(path, "w");

	fputs(text, fp);
	fclose(fp);
	conf_defaults();
	return conf_load(path, 0, err, size);
}

int
main(void)
{
	char err[256], want[300];
	uint64_t v;
	size_t i;
	int fd = mkstemp(path);

	close(fd);
	conf_defaults();
	CHECK(strcmp(conf.mailbox, "~/Maildir") == 0 && conf.min_uid == 1000 &&
	    conf.max_message_size == 25u * 1024 * 1024 && conf.max_recipients == 100 &&
	    strcmp(conf.chroot_dir, "/var/empty") == 0, "defaults");
	CHECK(load("# comment\n\nhostname = mx.example\nmax_message_size=10M\n"
	    "vrfy = yes\nsmtp_timeout = 5m\n", err, sizeof(err)) == 0 &&
	    strcmp(conf.hostname, "mx.example") == 0 &&
	    conf.max_message_size == 10u * 1024 * 1024 && conf.vrfy == 1 &&
	    conf.smtp_timeout == 300000, "file values, suffixes");
	CHECK(load("hostname = a\nfrobnicate = 1\n", err, sizeof(err)) == -1 &&
	    str_fmt(want, sizeof(want), "%s:2: unknown key \"frobnicate\"", path) == 0 &&
	    strcmp(err, want) == 0, "unknown key names file:line");
	CHECK(load("max_recipients = 0\n", err, sizeof(err)) == -1 &&
	    strstr(err, ":1: max_recipients: bad value") != NULL, "out of range");
	CHECK(load("max_recipients = 12abc\n", err, sizeof(err)) == -1, "junk after number");
	CHECK(load("vrfy = maybe\n", err, sizeof(err)) == -1, "bad boolean");
	CHECK(load("just words\n", err, sizeof(err)) == -1 &&
	    strstr(err, "expected key = value") != NULL, "line without =");
	CHECK(load("role = submission\ndnsbl_action = log\nrelay_tls = verify\n"
	    "tls = implicit\ntls_min_version = TLSv1.3\n", err, sizeof(err)) == 0 &&
	    conf.role == ROLE_SUBMISSION && conf.dnsbl_action == DNSBL_LOG &&
	    conf.relay_tls == RELAY_TLS_VERIFY && conf.tls == TLS_IMPLICIT &&
	    conf.tls_min_version == TLS_V1_3, "choice keys: words to values");
	conf_defaults();
	CHECK(conf.role == ROLE_MX && conf.dnsbl_action == DNSBL_REJECT &&
	    conf.relay_tls == RELAY_TLS_MAY && conf.tls == TLS_AUTO &&
	    conf.tls_min_version == TLS_V1_2, "choice keys: defaults");
	for (i = 0; i < sizeof(typos) / sizeof(typos[0]); i++) {
		char text[100], name[100];

		str_fmt(text, sizeof(text), "# line 1\n%s\n", typos[i].line);
		str_fmt(want, sizeof(want), "%s:2: %s", path, typos[i].err);
		str_fmt(name, sizeof(name), "typo \"%s\" names file:line", typos[i].line);
		CHECK(load(text, err, sizeof(err)) == -1 && strcmp(err, want) == 0, name);
	}
	CHECK(conf_option("dnsbl_action=Log", err, sizeof(err)) == -1 &&
	    strcmp(err, "-o dnsbl_action=Log: dnsbl_action: expected reject or log, "
	    "got \"Log\"") == 0, "-o choice: words are case-sensitive");
	CHECK(load("tls =\n", err, sizeof(err)) == 0 && conf.tls == TLS_AUTO,
	    "tls: the empty value is the default");
	CHECK(load("greet_delay = 500ms\nqueue_retry_min = 2s\nsmtp_timeout = 5m\n"
	    "greylist_delay = 4h\nauth_fail_window = 7d\n", err, sizeof(err)) == 0 &&
	    conf.greet_delay == 500 && conf.queue_retry_min == 2000 &&
	    conf.smtp_timeout == 300000 && conf.greylist_delay == 4 * 3600000ull &&
	    conf.auth_fail_window == 7 * 86400000ull,
	    "durations: ms, s, m, h, d, stored in ms");
	conf_defaults();
	CHECK(conf.smtp_timeout == 300000 && conf.pop3_timeout == 600000 &&
	    conf.auth_fail_delay == 2000 && conf.greylist_expire == 35 * 86400000ull,
	    "durations: defaults in ms");
	CHECK(load("pop3_timeout = 90\ngreet_delay = 3\nqueue_lifetime = 0\n", err,
	    sizeof(err)) == 0 && conf.pop3_timeout == 90000 && conf.greet_delay == 3000 &&
	    conf.queue_lifetime == 0, "durations: a bare number is seconds");
	CHECK(load("auth_fail_delay = 250\n", err, sizeof(err)) == 0 &&
	    conf.auth_fail_delay == 250, "auth_fail_delay: a bare number is ms");
	CHECK(load("auth_fail_delay = 2s\n", err, sizeof(err)) == 0 &&
	    conf.auth_fail_delay == 2000, "auth_fail_delay: suffixes");
	for (i = 0; i < sizeof(bad_durations) / sizeof(bad_durations[0]); i++) {
		char text[100], name[120];

		str_fmt(text, sizeof(text), "\n%s\n", bad_durations[i].line);
		str_fmt(want, sizeof(want), "%s:2: %s", path, bad_durations[i].err);
		str_fmt(name, sizeof(name), "duration \"%s\" refused with file:line",
		    bad_durations[i].line);
		CHECK(load(text, err, sizeof(err)) == -1 && strcmp(err, want) == 0, name);
	}
	CHECK(conf_load("/nonexistent/inetmail.conf", 0, err, sizeof(err)) == -1,
	    "missing explicit file is an error");
	CHECK(conf_load("/nonexistent/inetmail.conf", 1, err, sizeof(err)) == 0,
	    "missing default file is not");
	conf_defaults();
	CHECK(conf_option("chroot_dir=", err, sizeof(err)) == 0 &&
	    conf.chroot_dir[0] == '\0', "-o with empty value");
	CHECK(conf_option("min_uid=500", err, sizeof(err)) == 0 && conf.min_uid == 500,
	    "-o number");
	CHECK(conf_option("nokey", err, sizeof(err)) == -1, "-o without =");
	conf_option("hostname=mx.test", err, sizeof(err));
	conf_option("local_domains=example.test, Other.Test", err, sizeof(err));
	CHECK(conf_is_local_domain("EXAMPLE.test") && conf_is_local_domain("other.test") &&
	    conf_is_local_domain("mx.test") && !conf_is_local_domain("example.tes") &&
	    !conf_is_local_domain("xexample.test"), "local domains");

	CHECK(parse_u64("0", 10, &v) == 0 && v == 0, "parse 0");
	CHECK(parse_u64("18446744073709551615", UINT64_MAX, &v) == 0 && v == UINT64_MAX,
	    "parse max");
	CHECK(parse_u64("18446744073709551616", UINT64_MAX, &v) == -1, "overflow");
	CHECK(parse_u64("-1", 10, &v) == -1 && parse_u64("", 10, &v) == -1 &&
	    parse_u64(" 1", 10, &v) == -1 && parse_u64("1 ", 10, &v) == -1 &&
	    parse_u64("11", 10, &v) == -1, "sign, empty, spaces, range");
	CHECK(parse_size("2k", UINT64_MAX, &v) == 0 && v == 2048, "size suffix");
	CHECK(parse_duration("2d", UINT64_MAX, &v) == 0 && v == 172800, "duration suffix");
	CHECK(parse_duration("2000ms", 10, &v) == 0 && v == 2 &&
	    parse_duration("1500ms", 10, &v) == -1 && parse_duration("11s", 10, &v) == -1,
	    "parse_duration: whole seconds, <= max");
	CHECK(parse_duration("18446744073709551", UINT64_MAX, &v) == 0 &&
	    v == UINT64_MAX / 1000 && parse_duration("18446744073709552", UINT64_MAX,
	    &v) == -1, "parse_duration: the largest number (in ms), and one more");
	CHECK(parse_duration_ms("7d", 1000, UINT64_MAX, &v) == 0 && v == 604800000 &&
	    parse_duration_ms("7", 1, UINT64_MAX, &v) == 0 && v == 7 &&
	    parse_duration_ms("213503982334602d", 1000, UINT64_MAX, &v) == -1 &&
	    parse_duration_ms("000000000000000000001s", 1000, UINT64_MAX, &v) == -1,
	    "parse_duration_ms: bare unit, overflow, over-long");
	CHECK(parse_size("3G", UINT64_MAX, &v) == 0 && v == 3ull << 30 &&
	    parse_size("3Gb", UINT64_MAX, &v) == -1 && parse_size("k", 10, &v) == -1,
	    "size: suffix, junk, no digits");
	unlink(path);
	return CHECK_DONE();
}
