/*
 * sasl.h - the server side of the SASL PLAIN (RFC 4616) and LOGIN
 * (draft-murchison-sasl-login) exchanges that smtpd AUTH (RFC 4954) and
 * pop3d AUTH (RFC 5034) share: the parsing of the client's responses, as
 * pure functions. No I/O and no reply texts: each daemon sends the
 * challenges and words its own replies from the result codes.
 *
 * A daemon's exchange:
 *	sasl_start(&x, mech, buf, sizeof(buf), user, sizeof(user));
 *	while ((r = sasl_step(&x, response, &challenge)) == SASL_CONTINUE)
 *		send challenge, read the next response;
 *	SASL_OK: check user / x.pass, x.passlen; else refuse by r.
 * The password lies in the caller's buf: wipe it afterwards.
 */
#ifndef INETMAIL_SASL_H
#define INETMAIL_SASL_H

#include <stddef.h>

/* Results of sasl_step and the parsers. */
#define SASL_OK		0	/* done: user and password known */
#define SASL_CONTINUE	1	/* send the challenge, feed the answer */
#define SASL_CANCEL	2	/* the client sent "*" (RFC 4954 4, 5034 4) */
#define SASL_BAD_BASE64	3	/* not strict base64, or longer decoded
				   than the caller's buffer */
#define SASL_MALFORMED	4	/* PLAIN without its two NULs, or with a third;
				   or a response where none is expected */

/* Mechanisms. */
#define SASL_PLAIN	1
#define SASL_LOGIN	2

struct sasl {
	int		 mech;
	int		 step;
	unsigned char	*buf;		/* the caller's: decoded responses */
	size_t		 bufsize;
	char		*user;		/* the caller's: the login name */
	size_t		 usersize;
	unsigned char	*pass;		/* on SASL_OK: the password, in buf */
	size_t		 passlen;
};

/* SASL_PLAIN or SASL_LOGIN for a mechanism name (any case); 0 if neither. */
int	sasl_mech(const char *name);
/* "PLAIN" or "LOGIN", the name a login request carries. */
const char *sasl_mech_name(int mech);

/*
 * Splits the argument of AUTH, "mechanism [initial-response]": cuts arg
 * after the mechanism and sets *ir to the response or NULL. -1 when a
 * space is followed by an empty response or by a second space-separated
 * word (the caller's syntax error).
 */
int	sasl_split(char *arg, char **ir);

/*
 * Decodes one client response: "*" is SASL_CANCEL, "=" an empty response,
 * else strict base64 of at most outsize bytes (SASL_BAD_BASE64 if not).
 */
int	sasl_decode(const char *in, unsigned char *out, size_t outsize,
	    size_t *outlen);

/*
 * Splits a decoded PLAIN message, authzid NUL authcid NUL passwd:
 * SASL_MALFORMED without exactly two NULs. user (usersize >= 1) gets the
 * authcid, or "" when it does not fit or when an authzid names someone
 * else (acting for another user is not offered: a failed login, not a
 * syntax error). *pass points into buf.
 */
int	sasl_plain_split(const unsigned char *buf, size_t n, char *user,
	    size_t usersize, const unsigned char **pass, size_t *passlen);

/*
 * The LOGIN user name from a decoded response: copied into user
 * (usersize >= 1), or "" when it does not fit or contains a NUL.
 */
void	sasl_login_name(const unsigned char *buf, size_t n, char *user,
	    size_t usersize);

/*
 * A user name as a login request may carry it: user itself, or "" when it
 * is longer than max or holds a control character (the request is still
 * made, and fails like any wrong password, with its delay).
 */
const char *sasl_user(const char *user, size_t max);

/* Starts an exchange of mech; buf holds decoded responses, user the name. */
void	sasl_start(struct sasl *, int mech, unsigned char *buf, size_t bufsize,
	    char *user, size_t usersize);
/*
 * Feeds the client's response: the initial response or NULL at the start,
 * then the answer to each challenge. SASL_CONTINUE sets *challenge (base64,
 * "" for an empty one) and expects the next response; SASL_OK sets user,
 * pass and passlen; any other result ends the exchange.
 */
int	sasl_step(struct sasl *, const char *response, const char **challenge);

#endif
