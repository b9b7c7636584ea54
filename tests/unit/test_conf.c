/*
 * test_conf.c - configuration: defaults, file parsing, -o, and the errors
 * that name file:line; plus the strict number parsers under it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "conf.h"
#include "util.h"

static char path[] = "/tmp/test_conf.XXXXXX";

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
	    conf.smtp_timeout == 300, "file values, suffixes");
	CHECK(load("hostname = a\nfrobnicate = 1\n", err, sizeof(err)) == -1 &&
	    str_fmt(want, sizeof(want), "%s:2: unknown key \"frobnicate\"", path) == 0 &&
	    strcmp(err, want) == 0, "unknown key names file:line");
	CHECK(load("max_recipients = 0\n", err, sizeof(err)) == -1 &&
	    strstr(err, ":1: max_recipients: bad value") != NULL, "out of range");
	CHECK(load("max_recipients = 12abc\n", err, sizeof(err)) == -1, "junk after number");
	CHECK(load("vrfy = maybe\n", err, sizeof(err)) == -1, "bad boolean");
	CHECK(load("just words\n", err, sizeof(err)) == -1 &&
	    strstr(err, "expected key = value") != NULL, "line without =");
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
	unlink(path);
	return CHECK_DONE();
}
