/*
 * test_smtpc.c - the outbound client's pure parts: the reply parser
 * (codes, continuation lines, limits, enhanced status codes, EHLO keywords,
 * printable and bounded text) and the DATA encoding (LF -> CR LF,
 * dot-stuffing, the end of data), including chunk boundaries; which
 * relay_host counts as a relay on this machine (smtpc_relay_local).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "conf.h"
#include "smtpc.h"

/* Feeds the lines of s (separated by \n); the last result. */
static int
parse(struct smtpc_reply *r, const char *s)
{
	const char *p = s, *nl;
	int res = SR_ERROR;

	smtpc_reply_init(r);
	for (;;) {
		nl = strchr(p, '\n');
		res = smtpc_reply_line(r, p, nl ? (size_t)(nl - p) : strlen(p));
		if (res != SR_MORE || nl == NULL)
			return res;
		p = nl + 1;
	}
}

/* Encodes in (in chunks of step octets) and ends the data. */
static char *
encode(const char *in, size_t len, size_t step, size_t *olen)
{
	struct smtpc_dot d;
	char *out = malloc(2 * len + 8);
	size_t i, o = 0;

	smtpc_dot_init(&d);
	for (i = 0; i < len; i += step) {
		size_t n = len - i < step ? len - i : step;

		o += smtpc_dot_encode(&d, in + i, n, out + o);
	}
	o += smtpc_dot_end(&d, out + o);
	out[o] = '\0';
	*olen = o;
	return out;
}

/* smtpc_relay_local() for relay_host = rh; -1 when smtpc_init refuses it. */
static int
relay_local(const char *rh)
{
	char opt[300], err[256];

	snprintf(opt, sizeof(opt), "relay_host=%s", rh);
	if (conf_option(opt, err, sizeof(err)) == -1 ||
	    smtpc_init(err, sizeof(err)) == -1)
		return -1;
	return smtpc_relay_local();
}

int
main(void)
{
	struct smtpc_reply r;
	char line[SMTPC_LINE_MAX + 2], *out;
	size_t olen, i;
	int res;

	/* ---- replies ---- */
	CHECK(parse(&r, "250 OK") == SR_DONE && r.code == 250 &&
	    strcmp(r.text, "250 OK") == 0 && r.status[0] == '\0', "single line");
	CHECK(parse(&r, "221") == SR_DONE && r.code == 221 &&
	    strcmp(r.text, "221") == 0, "code alone ends the reply");
	CHECK(parse(&r, "550 5.1.1 <x@y>: no such user") == SR_DONE &&
	    strcmp(r.status, "5.1.1") == 0 &&
	    strcmp(r.text, "550 5.1.1 <x@y>: no such user") == 0, "enhanced status code");
	CHECK(parse(&r, "556 5.1.10 null MX") == SR_DONE &&
	    strcmp(r.status, "5.1.10") == 0, "two-digit detail");
	CHECK(parse(&r, "550 4.1.1 class mismatch") == SR_DONE && r.status[0] == '\0',
	    "enhanced code of another class is ignored");
	CHECK(parse(&r, "550 5.1.1234 x") == SR_DONE && r.status[0] == '\0',
	    "four-digit detail is not an enhanced code");
	CHECK(parse(&r, "550 5.1.1x") == SR_DONE && r.status[0] == '\0',
	    "enhanced code must end at a space");
	CHECK(parse(&r, "550 5.123.123 x") == SR_DONE && r.status[0] == '\0',
	    "enhanced code too long for status[8] is dropped");
	res = parse(&r, "250-mx.test Hello\n250-PIPELINING\n250-SIZE 10240000\n"
	    "250-STARTTLS\n250-AUTH LOGIN PLAIN\n250-8BITMIME\n250 SMTPUTF8");
	CHECK(res == SR_DONE && r.nlines == 7, "EHLO reply");
	CHECK(r.ext == (SMTPC_EXT_PIPELINING | SMTPC_EXT_SIZE | SMTPC_EXT_STARTTLS |
	    SMTPC_EXT_AUTH_PLAIN | SMTPC_EXT_8BITMIME | SMTPC_EXT_SMTPUTF8),
	    "EHLO keywords");
	CHECK(r.size_max == 10240000, "SIZE value");
	res = parse(&r, "250-x\n250-size\n250-auth=login plain\n250 starttls extra");
	CHECK(res == SR_DONE && r.size_max == 0 &&
	    r.ext == (SMTPC_EXT_SIZE | SMTPC_EXT_AUTH_PLAIN | SMTPC_EXT_STARTTLS),
	    "keywords case-insensitive, AUTH=, SIZE without a value");
	res = parse(&r, "250-x\n250-AUTH LOGIN CRAM-MD5\n250-STARTTLSX\n250 SIZE 12x");
	CHECK(res == SR_DONE && r.ext == SMTPC_EXT_SIZE && r.size_max == 0,
	    "no PLAIN, no partial keyword match, bad SIZE value ignored");
	res = parse(&r, "250 STARTTLS");
	CHECK(res == SR_DONE && r.ext == 0, "the first line is not a keyword");
	res = parse(&r, "550-5.1.1 first\n550-5.1.1 second\n550 5.1.1 third");
	CHECK(res == SR_DONE && strcmp(r.text, "550 5.1.1 first; second; third") == 0,
	    "continuation lines joined, repeated enhanced code dropped");
	CHECK(smtpc_reply_line(&r, "250 again", 9) == SR_ERROR,
	    "a line after the end is an error");
	CHECK(parse(&r, "250-a\n251 b") == SR_ERROR && r.error[0] != '\0',
	    "different codes in one reply");
	CHECK(parse(&r, "25") == SR_ERROR, "short code");
	/* the verdict a reply gives its recipients */
	CHECK(smtpc_reply_verdict(250) == QR_SENT &&
	    smtpc_reply_verdict(251) == QR_SENT, "verdict: 2xx is sent");
	CHECK(smtpc_reply_verdict(421) == QR_PENDING &&
	    smtpc_reply_verdict(450) == QR_PENDING &&
	    smtpc_reply_verdict(452) == QR_PENDING, "verdict: 4xx stays queued");
	CHECK(smtpc_reply_verdict(550) == QR_FAILED &&
	    smtpc_reply_verdict(554) == QR_FAILED, "verdict: 5xx bounces");
	CHECK(smtpc_reply_verdict(354) == QR_PENDING,
	    "verdict: anything else (354 where a final reply was due) stays queued");
	CHECK(parse(&r, "") == SR_ERROR, "empty line");
	CHECK(parse(&r, "2500 x") == SR_ERROR, "four digits");
	CHECK(parse(&r, "250x") == SR_ERROR, "no separator");
	CHECK(parse(&r, "650 x") == SR_ERROR && parse(&r, "150 x") == SR_ERROR,
	    "first digit outside 2..5");
	CHECK(parse(&r, "260 x") == SR_ERROR, "second digit outside 0..5");
	CHECK(parse(&r, "25a x") == SR_ERROR, "third digit not a digit");
	CHECK(parse(&r, " 250 x") == SR_ERROR, "leading space");
	CHECK(parse(&r, "354 go ahead") == SR_DONE && r.code == 354, "354");

	memset(line, 'a', sizeof(line));
	memcpy(line, "250 ", 4);
	smtpc_reply_init(&r);
	CHECK(smtpc_reply_line(&r, line, SMTPC_LINE_MAX) == SR_DONE,
	    "line of SMTPC_LINE_MAX octets accepted");
	CHECK(strlen(r.text) == sizeof(r.text) - 1 &&
	    strcmp(r.text + strlen(r.text) - 3, "...") == 0, "long text cut with ...");
	smtpc_reply_init(&r);
	CHECK(smtpc_reply_line(&r, line, SMTPC_LINE_MAX + 1) == SR_ERROR,
	    "line over SMTPC_LINE_MAX refused");

	smtpc_reply_init(&r);
	res = SR_MORE;
	for (i = 0; i < SMTPC_LINES_MAX - 1 && res == SR_MORE; i++)
		res = smtpc_reply_line(&r, "250-x", 5);
	CHECK(res == SR_MORE && smtpc_reply_line(&r, "250 x", 5) == SR_DONE,
	    "SMTPC_LINES_MAX lines accepted");
	smtpc_reply_init(&r);
	res = SR_MORE;
	for (i = 0; i < SMTPC_LINES_MAX && res == SR_MORE; i++)
		res = smtpc_reply_line(&r, "250-x", 5);
	CHECK(res == SR_MORE && smtpc_reply_line(&r, "250 x", 5) == SR_ERROR,
	    "line SMTPC_LINES_MAX + 1 refused");

	smtpc_reply_init(&r);
	CHECK(smtpc_reply_line(&r, "550 a\0b\tc\x1b\xff\"d\\", 14) == SR_DONE &&
	    strcmp(r.text, "550 a?b c??\"d\\") == 0, "text made printable");
	smtpc_reply_init(&r);
	for (i = 0; i < 20; i++)
		smtpc_reply_line(&r, "250-0123456789012345678901234567890123456789", 44);
	CHECK(strlen(r.text) == sizeof(r.text) - 1 &&
	    strcmp(r.text + sizeof(r.text) - 4, "...") == 0, "joined text bounded");

	/* ---- DATA encoding ---- */
	out = encode("a\nb\n", 4, 100, &olen);
	CHECK(strcmp(out, "a\r\nb\r\n.\r\n") == 0, "LF -> CR LF, final dot");
	free(out);
	out = encode(".\n.x\n..\nx.\n .\n", 14, 100, &olen);
	CHECK(strcmp(out, "..\r\n..x\r\n...\r\nx.\r\n .\r\n.\r\n") == 0,
	    "dot-stuffing at line starts only");
	free(out);
	out = encode(".\n.x\n..\nx.\n .\n", 14, 1, &olen);
	CHECK(strcmp(out, "..\r\n..x\r\n...\r\nx.\r\n .\r\n.\r\n") == 0,
	    "dot-stuffing across 1-octet chunks");
	free(out);
	out = encode("abc", 3, 2, &olen);
	CHECK(strcmp(out, "abc\r\n.\r\n") == 0, "unterminated last line gets CR LF");
	free(out);
	out = encode("", 0, 1, &olen);
	CHECK(strcmp(out, ".\r\n") == 0, "empty message");
	free(out);
	out = encode(".", 1, 1, &olen);
	CHECK(strcmp(out, "..\r\n.\r\n") == 0, "a lone unterminated dot");
	free(out);
	out = encode("a\rb\n\n", 5, 2, &olen);
	CHECK(olen == 10 && memcmp(out, "a\rb\r\n\r\n.\r\n", 10) == 0,
	    "a bare CR is content, empty lines kept");
	free(out);
	{
		char big[1200];

		memset(big, 'x', 998);
		big[998] = '\n';
		big[0] = '.';
		out = encode(big, 999, 7, &olen);
		CHECK(olen == 999 + 1 + 1 + 3 && out[0] == '.' && out[1] == '.' &&
		    memcmp(out + 999, "\r\n.\r\n", 5) == 0, "998-octet line");
		free(out);
	}
	{
		/* worst case: every octet doubles */
		const char in[] = ".\n.\n.\n";

		out = encode(in, 6, 6, &olen);
		CHECK(olen == 12 + 3 && strcmp(out, "..\r\n..\r\n..\r\n.\r\n") == 0,
		    "worst-case growth is 2x");
		free(out);
	}
	/* ---- the relay host that may get credentials without verify ---- */
	conf_defaults();
	CHECK(relay_local("[127.0.0.1]") == 1 && relay_local("[127.0.0.1]:10025") == 1 &&
	    relay_local("[::1]:25") == 1 && relay_local("[0:0::1]") == 1,
	    "[127.0.0.1] and [::1], any port: local");
	CHECK(relay_local("[127.0.0.6]:587") == 0 && relay_local("[127.1.0.1]") == 0,
	    "the rest of 127.0.0.0/8: not local");
	CHECK(relay_local("[localhost]:25") == 0 && relay_local("localhost") == 0 &&
	    relay_local("relay.test:587") == 0,
	    "a name (looked up), localhost included: not local");
	CHECK(relay_local("[::ffff:127.0.0.1]") == 0 && relay_local("[192.0.2.1]") == 0,
	    "IPv4-mapped and other addresses: not local");
	CHECK(relay_local("") == 0, "no relay_host: not local");
	return CHECK_DONE();
}
