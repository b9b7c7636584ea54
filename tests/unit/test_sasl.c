/*
 * test_sasl.c - libmail/base/sasl.c: every rule of the PLAIN and LOGIN
 * response parsing that smtpd and pop3d AUTH share: "*" cancels, "=" is
 * empty, strict base64 within the buffer, PLAIN's NUL rules, the authzid
 * check and the name length limit, LOGIN's two steps, the AUTH argument
 * split, and the user name a login request may carry.
 */
#include <string.h>

#include "base64.h"
#include "check.h"
#include "sasl.h"

#define NAME_MAX_T	8	/* the user buffer below holds 8 characters */

/* b64 of len bytes of raw, into a static buffer. */
static const char *
enc(const char *raw, size_t len)
{
	static char out[256];

	if (b64_encode((const unsigned char *)raw, len, out, sizeof(out)) == -1)
		return "";
	return out;
}

/* One whole exchange with responses resp[0..n) (resp[0] may be NULL). */
static int
exchange(int mech, const char *const *resp, size_t n, char *user,
    unsigned char *buf, size_t bufsize, struct sasl *x, unsigned *nchal,
    const char **last_challenge)
{
	const char *ch;
	size_t i;
	int r = SASL_MALFORMED;

	sasl_start(x, mech, buf, bufsize, user, NAME_MAX_T + 1);
	*nchal = 0;
	*last_challenge = NULL;
	for (i = 0; i < n; i++) {
		r = sasl_step(x, resp[i], &ch);
		if (r != SASL_CONTINUE)
			break;
		(*nchal)++;
		*last_challenge = ch;
	}
	return r;
}

int
main(void)
{
	unsigned char buf[64], small[4];
	char user[NAME_MAX_T + 1], arg[64], *ir;
	const unsigned char *pass;
	const char *ch;
	struct sasl x;
	size_t n, passlen;
	unsigned nchal;

	/* ---- decoding ---- */
	CHECK(sasl_decode("*", buf, sizeof(buf), &n) == SASL_CANCEL,
	    "\"*\" cancels");
	CHECK(sasl_decode("=", buf, sizeof(buf), &n) == SASL_OK && n == 0,
	    "\"=\" is an empty response");
	CHECK(sasl_decode("", buf, sizeof(buf), &n) == SASL_OK && n == 0,
	    "an empty line decodes to nothing");
	CHECK(sasl_decode("Zm9v", buf, sizeof(buf), &n) == SASL_OK && n == 3 &&
	    memcmp(buf, "foo", 3) == 0, "base64 decodes");
	CHECK(sasl_decode("Zm9", buf, sizeof(buf), &n) == SASL_BAD_BASE64 &&
	    n == 0, "a length not a multiple of 4 is refused");
	CHECK(sasl_decode("Zm9v!A==", buf, sizeof(buf), &n) == SASL_BAD_BASE64,
	    "a character outside the alphabet is refused");
	CHECK(sasl_decode("Zm 9", buf, sizeof(buf), &n) == SASL_BAD_BASE64,
	    "white space is refused");
	CHECK(sasl_decode("Zg==Zm9v", buf, sizeof(buf), &n) == SASL_BAD_BASE64,
	    "padding in the middle is refused");
	CHECK(sasl_decode("**", buf, sizeof(buf), &n) == SASL_BAD_BASE64,
	    "only a lone \"*\" cancels");
	CHECK(sasl_decode("==", buf, sizeof(buf), &n) == SASL_BAD_BASE64,
	    "only a lone \"=\" is empty");
	CHECK(sasl_decode("Zm9v", small, 3, &n) == SASL_OK && n == 3,
	    "a response that just fits the buffer");
	CHECK(sasl_decode("Zm9vYg==", small, 3, &n) == SASL_BAD_BASE64 && n == 0,
	    "an over-long response is refused");

	/* ---- mechanism and AUTH argument ---- */
	CHECK(sasl_mech("plain") == SASL_PLAIN && sasl_mech("LOGIN") ==
	    SASL_LOGIN && sasl_mech("CRAM-MD5") == 0 && sasl_mech("") == 0,
	    "mechanism names, any case");
	CHECK(strcmp(sasl_mech_name(SASL_PLAIN), "PLAIN") == 0 &&
	    strcmp(sasl_mech_name(SASL_LOGIN), "LOGIN") == 0, "mechanism names");
	strcpy(arg, "PLAIN");
	CHECK(sasl_split(arg, &ir) == 0 && ir == NULL && strcmp(arg, "PLAIN") == 0,
	    "AUTH without an initial response");
	strcpy(arg, "PLAIN AGJvYgBwdw==");
	CHECK(sasl_split(arg, &ir) == 0 && strcmp(arg, "PLAIN") == 0 &&
	    strcmp(ir, "AGJvYgBwdw==") == 0, "AUTH with an initial response");
	strcpy(arg, "PLAIN ");
	CHECK(sasl_split(arg, &ir) == -1, "an empty initial response is a syntax error");
	strcpy(arg, "PLAIN a b");
	CHECK(sasl_split(arg, &ir) == -1, "two words after the mechanism");
	strcpy(arg, " PLAIN");
	CHECK(sasl_split(arg, &ir) == 0 && arg[0] == '\0' &&
	    strcmp(ir, "PLAIN") == 0, "a leading space leaves an empty mechanism");

	/* ---- PLAIN split ---- */
#define SPLIT(raw) sasl_plain_split((const unsigned char *)(raw), \
	    sizeof(raw) - 1, user, sizeof(user), &pass, &passlen)
	CHECK(SPLIT("\0bob\0secret") == SASL_OK && strcmp(user, "bob") == 0 &&
	    passlen == 6 && memcmp(pass, "secret", 6) == 0,
	    "PLAIN without authzid");
	CHECK(SPLIT("bob\0bob\0pw") == SASL_OK && strcmp(user, "bob") == 0 &&
	    passlen == 2, "PLAIN with authzid = authcid");
	CHECK(SPLIT("alice\0bob\0pw") == SASL_OK && user[0] == '\0' &&
	    passlen == 2, "PLAIN for someone else: an empty user (fails)");
	CHECK(SPLIT("bo\0bob\0pw") == SASL_OK && user[0] == '\0',
	    "PLAIN authzid a prefix of authcid: someone else");
	CHECK(SPLIT("bobb\0bob\0pw") == SASL_OK && user[0] == '\0',
	    "PLAIN authcid a prefix of authzid: someone else");
	CHECK(SPLIT("\0bob\0") == SASL_OK && strcmp(user, "bob") == 0 &&
	    passlen == 0, "PLAIN with an empty password");
	CHECK(SPLIT("\0\0pw") == SASL_OK && user[0] == '\0' && passlen == 2,
	    "PLAIN with an empty authcid");
	CHECK(SPLIT("\0" "12345678" "\0pw") == SASL_OK &&
	    strcmp(user, "12345678") == 0, "PLAIN authcid of 8: fits");
	CHECK(SPLIT("\0" "123456789" "\0pw") == SASL_OK && user[0] == '\0' &&
	    passlen == 2 && memcmp(pass, "pw", 2) == 0,
	    "PLAIN authcid over the limit: an empty user (fails)");
	CHECK(SPLIT("bob") == SASL_MALFORMED, "PLAIN without a NUL");
	CHECK(SPLIT("\0bob") == SASL_MALFORMED, "PLAIN with one NUL");
	CHECK(SPLIT("\0bob\0p\0w") == SASL_MALFORMED, "PLAIN with three NULs");
	CHECK(SPLIT("\0bob\0pw\0") == SASL_MALFORMED,
	    "PLAIN with a NUL after the password");
	CHECK(sasl_plain_split(buf, 0, user, sizeof(user), &pass, &passlen) ==
	    SASL_MALFORMED && user[0] == '\0', "PLAIN empty");
	CHECK(SPLIT("\0b\xffob\0\x01pw") == SASL_OK && strcmp(user, "b\xffob") == 0 &&
	    passlen == 3, "PLAIN leaves other bytes alone");
#undef SPLIT

	/* ---- LOGIN name ---- */
	sasl_login_name((const unsigned char *)"bob", 3, user, sizeof(user));
	CHECK(strcmp(user, "bob") == 0, "LOGIN name");
	sasl_login_name((const unsigned char *)"12345678", 8, user, sizeof(user));
	CHECK(strcmp(user, "12345678") == 0, "LOGIN name of 8: fits");
	sasl_login_name((const unsigned char *)"123456789", 9, user, sizeof(user));
	CHECK(user[0] == '\0', "LOGIN name over the limit: empty");
	sasl_login_name((const unsigned char *)"b\0b", 3, user, sizeof(user));
	CHECK(user[0] == '\0', "LOGIN name with a NUL: empty");

	/* ---- the name a login request carries ---- */
	CHECK(strcmp(sasl_user("bob", 8), "bob") == 0, "a clean name");
	CHECK(strcmp(sasl_user("12345678", 8), "12345678") == 0,
	    "a name of max characters");
	CHECK(sasl_user("123456789", 8)[0] == '\0', "a name over max: empty");
	CHECK(sasl_user("b\tb", 8)[0] == '\0', "a control character: empty");
	CHECK(sasl_user("b\x7f", 8)[0] == '\0', "DEL: empty");
	CHECK(strcmp(sasl_user("b\xc3\xa9", 8), "b\xc3\xa9") == 0,
	    "8-bit bytes are left alone");

	/* ---- exchanges ---- */
	{
		const char *r[] = { NULL, "AGJvYgBwdw==" };	/* \0bob\0pw */

		CHECK(exchange(SASL_PLAIN, r, 2, user, buf, sizeof(buf), &x,
		    &nchal, &ch) == SASL_OK && nchal == 1 && strcmp(ch, "") == 0 &&
		    strcmp(user, "bob") == 0 && x.passlen == 2 &&
		    memcmp(x.pass, "pw", 2) == 0,
		    "PLAIN: an empty challenge, then the message");
	}
	{
		const char *r[] = { "AGJvYgBwdw==" };

		CHECK(exchange(SASL_PLAIN, r, 1, user, buf, sizeof(buf), &x,
		    &nchal, &ch) == SASL_OK && nchal == 0 &&
		    strcmp(user, "bob") == 0, "PLAIN with an initial response");
		CHECK(sasl_step(&x, "AGJvYgBwdw==", &ch) == SASL_MALFORMED &&
		    ch == NULL, "PLAIN: no response after the end");
	}
	{
		const char *r[] = { NULL, "*" };

		CHECK(exchange(SASL_PLAIN, r, 2, user, buf, sizeof(buf), &x,
		    &nchal, &ch) == SASL_CANCEL, "PLAIN cancelled");
	}
	{
		const char *r[] = { "=" };

		CHECK(exchange(SASL_PLAIN, r, 1, user, buf, sizeof(buf), &x,
		    &nchal, &ch) == SASL_MALFORMED, "PLAIN \"=\" is malformed");
	}
	{
		const char *r[] = { "AGJvYgBwdw=" };

		CHECK(exchange(SASL_PLAIN, r, 1, user, buf, sizeof(buf), &x,
		    &nchal, &ch) == SASL_BAD_BASE64, "PLAIN with broken base64");
	}
	{
		const char *r[] = { "AGJvYgBwdw==" };
		unsigned char b6[6];

		CHECK(exchange(SASL_PLAIN, r, 1, user, b6, sizeof(b6), &x,
		    &nchal, &ch) == SASL_BAD_BASE64,
		    "PLAIN longer than the buffer");
	}
	{
		const char *r[] = { NULL, "Ym9i", "c2VjcmV0" };	/* bob, secret */

		CHECK(exchange(SASL_LOGIN, r, 3, user, buf, sizeof(buf), &x,
		    &nchal, &ch) == SASL_OK && nchal == 2 &&
		    strcmp(ch, "UGFzc3dvcmQ6") == 0 && strcmp(user, "bob") == 0 &&
		    x.passlen == 6 && memcmp(x.pass, "secret", 6) == 0,
		    "LOGIN: Username:, Password:");
		CHECK(sasl_step(&x, "Ym9i", &ch) == SASL_MALFORMED,
		    "LOGIN: no response after the end");
	}
	{
		const char *c1;

		sasl_start(&x, SASL_LOGIN, buf, sizeof(buf), user, sizeof(user));
		CHECK(sasl_step(&x, NULL, &c1) == SASL_CONTINUE &&
		    strcmp(c1, "VXNlcm5hbWU6") == 0, "LOGIN asks for Username:");
		CHECK(sasl_step(&x, NULL, &c1) == SASL_MALFORMED,
		    "LOGIN: no response where one is due");
	}
	{
		const char *r[] = { "Ym9i", "c2VjcmV0" };

		CHECK(exchange(SASL_LOGIN, r, 2, user, buf, sizeof(buf), &x,
		    &nchal, &ch) == SASL_OK && nchal == 1 &&
		    strcmp(ch, "UGFzc3dvcmQ6") == 0 && strcmp(user, "bob") == 0,
		    "LOGIN with the name as initial response");
	}
	{
		const char *r[] = { NULL, "*" };

		CHECK(exchange(SASL_LOGIN, r, 2, user, buf, sizeof(buf), &x,
		    &nchal, &ch) == SASL_CANCEL, "LOGIN cancelled at the name");
	}
	{
		const char *r[] = { NULL, "Ym9i", "*" };

		CHECK(exchange(SASL_LOGIN, r, 3, user, buf, sizeof(buf), &x,
		    &nchal, &ch) == SASL_CANCEL, "LOGIN cancelled at the password");
	}
	{
		const char *r[] = { NULL, "Ym9", "c2VjcmV0" };

		CHECK(exchange(SASL_LOGIN, r, 3, user, buf, sizeof(buf), &x,
		    &nchal, &ch) == SASL_BAD_BASE64 && nchal == 1,
		    "LOGIN: broken base64 at the name ends it");
	}
	{
		const char *r[] = { NULL, "Ym9i", "c2VjcmV0=" };

		CHECK(exchange(SASL_LOGIN, r, 3, user, buf, sizeof(buf), &x,
		    &nchal, &ch) == SASL_BAD_BASE64, "LOGIN: broken password");
	}
	{
		const char *r[] = { NULL, "=", "=" };

		CHECK(exchange(SASL_LOGIN, r, 3, user, buf, sizeof(buf), &x,
		    &nchal, &ch) == SASL_OK && user[0] == '\0' && x.passlen == 0,
		    "LOGIN: empty name and password go on (and fail)");
	}
	{
		char name[32];
		const char *r[3];

		strcpy(name, enc("123456789", 9));
		r[0] = NULL;
		r[1] = name;
		r[2] = "cHc=";
		CHECK(exchange(SASL_LOGIN, r, 3, user, buf, sizeof(buf), &x,
		    &nchal, &ch) == SASL_OK && user[0] == '\0' && x.passlen == 2,
		    "LOGIN: a name over the limit goes on as empty");
		strcpy(name, enc("b\0b", 3));
		CHECK(exchange(SASL_LOGIN, r, 3, user, buf, sizeof(buf), &x,
		    &nchal, &ch) == SASL_OK && user[0] == '\0',
		    "LOGIN: a name with a NUL goes on as empty");
	}
	{
		const char *r[] = { NULL, "Ym9i", "AHB3AA==" };	/* \0pw\0 */

		CHECK(exchange(SASL_LOGIN, r, 3, user, buf, sizeof(buf), &x,
		    &nchal, &ch) == SASL_OK && x.passlen == 4 &&
		    memcmp(x.pass, "\0pw\0", 4) == 0,
		    "LOGIN: a password is any bytes");
	}
	return CHECK_DONE();
}
