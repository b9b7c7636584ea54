/*
 * apop.h - APOP (RFC 1939 7): the greeting timestamp, the digest
 * MD5(timestamp || secret), and the secrets file, a Berkeley DB hash
 * (key: account name, value: the secret, neither NUL-terminated) that only
 * root may read. The root monitor reads it; maildb rewrites it whole into
 * a temporary file that is renamed over the old one, so a reader never sees
 * a half-written file and never waits for a writer.
 */
#ifndef INETMAIL_APOP_H
#define INETMAIL_APOP_H

#include <stddef.h>

#define APOP_DIGEST_LEN	32	/* RFC 1939 7: 16 octets as lower-case hex */
#define APOP_SECRET_MAX	255	/* a secret fits one POP3-sized line */
#define APOP_TS_MAX	320	/* "<" pid "." 16 hex "." time "@" host ">" */

/* Writes "<pid.random.time@host>" (random: 64 bits, hex) into out; -1 if
 * it does not fit or getrandom failed. */
int	apop_timestamp(char *out, size_t size, const char *host);
/* Writes the lower-case hex MD5(ts || secret) and a NUL into hex; -1 if
 * the MD5 implementation failed (hex is then ""). */
int	apop_digest(const char *ts, const void *secret, size_t len,
	    char hex[APOP_DIGEST_LEN + 1]);
/* True when s is exactly APOP_DIGEST_LEN lower-case hex digits. */
int	apop_digest_syntax_ok(const char *s);
/* True when hex is MD5(ts || secret); compares in constant time. */
int	apop_check(const char *ts, const void *secret, size_t len,
	    const char *hex);

/*
 * Looks up user's secret in dbpath. 0 found (secret[0..*len) set, not
 * NUL-terminated), 1 no entry (or no file), -1 error, logged (including a
 * file that group or others may read: it is refused, not used).
 */
int	apop_get(const char *dbpath, const char *user, char *secret,
	    size_t size, size_t *len);
/*
 * Sets (secret != NULL) or removes (secret == NULL) user's entry: copies
 * every other entry into dbpath.tmp.PID (0600), fsyncs it, renames it over
 * dbpath and fsyncs the directory, all under an exclusive flock(2) of
 * dbpath.lock so that two writers never lose each other's change. 0 done,
 * 1 remove of an absent entry (nothing changed), -1 error in err.
 */
int	apop_put(const char *dbpath, const char *user, const char *secret,
	    size_t len, char *err, size_t errsize);
/* Calls fn for each account name (sorted order not promised). 0 ok, -1
 * error in err. A missing file is an empty list. */
int	apop_list(const char *dbpath, void (*fn)(const char *user, void *arg),
	    void *arg, char *err, size_t errsize);

#endif
