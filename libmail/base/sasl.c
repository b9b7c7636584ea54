/*
 * sasl.c - SASL PLAIN and LOGIN response parsing for the servers (smtpd
 * and pop3d AUTH): decoding ("*" cancels, "=" is empty, strict base64
 * within the caller's buffer), PLAIN's NUL-separated fields, LOGIN's two
 * steps. Pure functions over the caller's buffers; no I/O.
 */
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "sasl.h"

/* LOGIN's challenges, "Username:" and "Password:" in base64. */
#define LOGIN_USER_CHALLENGE	"VXNlcm5hbWU6"
#define LOGIN_PASS_CHALLENGE	"UGFzc3dvcmQ6"

int
sasl_mech(const char *name)
{
	if (strcasecmp(name, "PLAIN") == 0)
		return SASL_PLAIN;
	if (strcasecmp(name, "LOGIN") == 0)
		return SASL_LOGIN;
	return 0;
}

const char *
sasl_mech_name(int mech)
{
	return mech == SASL_PLAIN ? "PLAIN" : "LOGIN";
}

int
sasl_split(char *arg, char **ir)
{
	if ((*ir = strchr(arg, ' ')) == NULL)
		return 0;
	*(*ir)++ = '\0';
	return **ir == '\0' || strchr(*ir, ' ') != NULL ? -1 : 0;
}

int
sasl_decode(const char *in, unsigned char *out, size_t outsize,
    size_t *outlen)
{
	*outlen = 0;
	if (strcmp(in, "*") == 0)
		return SASL_CANCEL;
	if (strcmp(in, "=") == 0)
		return SASL_OK;
	if (b64_decode(in, out, outsize, outlen) == -1) {
		*outlen = 0;
		return SASL_BAD_BASE64;
	}
	return SASL_OK;
}

int
sasl_plain_split(const unsigned char *buf, size_t n, char *user,
    size_t usersize, const unsigned char **pass, size_t *passlen)
{
	const unsigned char *end = buf + n, *authc, *pw;
	size_t zlen, ulen;

	user[0] = '\0';
	*pass = buf;
	*passlen = 0;
	if ((authc = memchr(buf, '\0', n)) == NULL)
		return SASL_MALFORMED;
	zlen = (size_t)(authc - buf);
	authc++;
	if ((pw = memchr(authc, '\0', (size_t)(end - authc))) == NULL)
		return SASL_MALFORMED;
	ulen = (size_t)(pw - authc);
	pw++;
	if (memchr(pw, '\0', (size_t)(end - pw)) != NULL)
		return SASL_MALFORMED;
	if (ulen < usersize &&
	    (zlen == 0 || (zlen == ulen && memcmp(buf, authc, ulen) == 0))) {
		memcpy(user, authc, ulen);
		user[ulen] = '\0';
	}
	*pass = pw;
	*passlen = (size_t)(end - pw);
	return SASL_OK;
}

void
sasl_login_name(const unsigned char *buf, size_t n, char *user,
    size_t usersize)
{
	if (n >= usersize || memchr(buf, '\0', n) != NULL)
		n = 0;
	memcpy(user, buf, n);
	user[n] = '\0';
}

const char *
sasl_user(const char *user, size_t max)
{
	size_t i;

	if (strlen(user) > max)
		return "";
	for (i = 0; user[i] != '\0'; i++)
		if ((unsigned char)user[i] < 0x20 || user[i] == 0x7f)
			return "";
	return user;
}

void
sasl_start(struct sasl *x, int mech, unsigned char *buf, size_t bufsize,
    char *user, size_t usersize)
{
	memset(x, 0, sizeof(*x));
	x->mech = mech;
	x->buf = buf;
	x->bufsize = bufsize;
	x->user = user;
	x->usersize = usersize;
	x->pass = buf;
	user[0] = '\0';
}

/*
 * Steps: 0 nothing yet; PLAIN 1 the message; LOGIN 1 the user name,
 * 2 the password; then over.
 */
int
sasl_step(struct sasl *x, const char *response, const char **challenge)
{
	size_t n;
	int r;

	*challenge = NULL;
	if (x->step == 0) {
		x->step = 1;
		if (response == NULL) {
			*challenge = x->mech == SASL_PLAIN ? "" :
			    LOGIN_USER_CHALLENGE;
			return SASL_CONTINUE;
		}
	}
	if (response == NULL || x->step > (x->mech == SASL_PLAIN ? 1 : 2)) {
		x->step = 3;
		return SASL_MALFORMED;
	}
	if ((r = sasl_decode(response, x->buf, x->bufsize, &n)) != SASL_OK) {
		x->step = 3;
		return r;
	}
	if (x->mech == SASL_PLAIN) {
		const unsigned char *pass;

		x->step = 3;
		r = sasl_plain_split(x->buf, n, x->user, x->usersize, &pass,
		    &x->passlen);
		x->pass = x->buf + (pass - x->buf);	/* the caller's to wipe */
		return r;
	}
	if (x->step == 1) {
		sasl_login_name(x->buf, n, x->user, x->usersize);
		x->step = 2;
		*challenge = LOGIN_PASS_CHALLENGE;
		return SASL_CONTINUE;
	}
	x->step = 3;
	x->pass = x->buf;
	x->passlen = n;
	return SASL_OK;
}
