/*
 * conf.c - table-driven configuration: one row per key with its type,
 * bounds and default, so that the parser, -o, and validation are one path.
 * A key with a fixed set of words stores the value its word maps to; a
 * duration is stored in milliseconds. Every bad value is refused here, so
 * that the error can name the file and line.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "params.h"
#include "tls_server.h"
#include "util.h"

struct conf conf;

enum ktype { K_STR, K_DOMAINS, K_CHOICE, K_UINT, K_SIZE, K_DURATION, K_BOOL };

/* K_CHOICE: the words a key accepts and the value each one stores. */
struct choice {
	const char	*word;
	int		 value;
};

struct key {
	const char	*name;
	enum ktype	 type;
	size_t		 off;
	uint64_t	 min, max;
	const char	*def;
	const struct choice *choices;	/* K_CHOICE, ended by a NULL word */
	uint64_t	 bare;	/* K_DURATION: ms a bare number counts */
	uint64_t	 step;	/* K_DURATION: the value is a multiple of it */
};

static const struct choice c_tls[] = {
	{ "", TLS_AUTO }, { "none", TLS_NONE }, { "starttls", TLS_STARTTLS },
	{ "implicit", TLS_IMPLICIT }, { NULL, 0 } };
/* TLSv1 and TLSv1.1 last: accepted as they always were, though the system
 * OpenSSL configuration (Debian: MinProtocol) usually refuses them */
static const struct choice c_tls_version[] = {
	{ "TLSv1.2", TLS_V1_2 }, { "TLSv1.3", TLS_V1_3 }, { "TLSv1.1", TLS_V1_1 },
	{ "TLSv1", TLS_V1_0 }, { NULL, 0 } };
static const struct choice c_dnsbl_action[] = {
	{ "reject", DNSBL_REJECT }, { "log", DNSBL_LOG }, { NULL, 0 } };
static const struct choice c_role[] = {
	{ "mx", ROLE_MX }, { "submission", ROLE_SUBMISSION }, { NULL, 0 } };
static const struct choice c_relay_tls[] = {
	{ "may", RELAY_TLS_MAY }, { "encrypt", RELAY_TLS_ENCRYPT },
	{ "verify", RELAY_TLS_VERIFY }, { NULL, 0 } };

/* One row per key, named like its field in struct conf. */
#define O(f)	offsetof(struct conf, f)
#define STR(k, d)	{ .name = #k, .type = K_STR, .off = O(k), .def = d }
#define DOMAINS(k, d)	{ .name = #k, .type = K_DOMAINS, .off = O(k), .def = d }
#define BOOL(k, d)	{ .name = #k, .type = K_BOOL, .off = O(k), .def = d }
#define CHOICE(k, c, d)	{ .name = #k, .type = K_CHOICE, .off = O(k), \
			  .def = d, .choices = c }
#define NUM(k, t, lo, hi, d) { .name = #k, .type = t, .off = O(k), .min = lo, \
			  .max = hi, .def = d }
/*
 * Durations are stored in milliseconds, bounds given with the units below.
 * SECS: a bare number is seconds, and the value a whole number of them
 * (its users count in seconds). MSECS: any number of milliseconds, a bare
 * number counting bare_ms.
 */
#define T_MS	1ull
#define T_S	1000ull
#define T_M	(60 * T_S)
#define T_H	(60 * T_M)
#define T_D	(24 * T_H)
#define SECS(k, lo, hi, d) { .name = #k, .type = K_DURATION, .off = O(k), \
			  .min = lo, .max = hi, .def = d, .bare = T_S, \
			  .step = T_S }
#define MSECS(k, bare_ms, lo, hi, d) { .name = #k, .type = K_DURATION, \
			  .off = O(k), .min = lo, .max = hi, .def = d, \
			  .bare = bare_ms, .step = T_MS }
static const struct key keys[] = {
	DOMAINS(hostname, ""),
	DOMAINS(local_domains, ""),
	STR(mailbox, "~/Maildir"),
	STR(unpriv_user, "inetmail"),
	STR(chroot_dir, "/var/empty"),
	STR(pam_service, "inetmail"),
	STR(aliases, "/etc/inetmail/aliases"),
	NUM(max_message_size, K_SIZE, 1024, 1ull << 32, "25M"),
	NUM(max_recipients, K_UINT, 1, 10000, "100"),	/* RFC 5321 4.5.3.1.8 */
	NUM(min_uid, K_UINT, 0, 4294967295u, "1000"),
	SECS(smtp_timeout, 1 * T_S, 1 * T_H, "5m"),	/* RFC 5321 4.5.3.2.7 */
	SECS(pop3_timeout, 1 * T_S, 1 * T_H, "10m"),	/* RFC 1939 3 */
	NUM(max_errors, K_UINT, 1, 1000, "10"),
	BOOL(vrfy, "no"),
	BOOL(expn, "no"),
	/* a bare number is milliseconds here, as it always was */
	MSECS(auth_fail_delay, T_MS, 0, 1 * T_M, "2s"),
	BOOL(apop, "no"),
	STR(apop_db, "/etc/inetmail/apop.db"),
	/* TLS (tls_server.c) */
	CHOICE(tls, c_tls, ""),
	STR(tls_cert, ""),
	STR(tls_key, ""),
	CHOICE(tls_min_version, c_tls_version, "TLSv1.2"),
	STR(tls_ciphers,
	    "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!SHA1"),
	STR(tls_ciphersuites,
	    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"),
	BOOL(auth_require_tls, "yes"),
	/* abuse resistance (throttle.c) */
	STR(throttle_db, "/var/lib/inetmail/throttle"),
	STR(throttle_exempt, "127.0.0.0/8 ::1"),
	NUM(auth_fail_limit, K_UINT, 0, 100000, "10"),
	SECS(auth_fail_window, 1 * T_S, 7 * T_D, "15m"),
	MSECS(auth_penalty_max, T_S, 0, 10 * T_M, "30s"),
	NUM(max_conn_per_ip, K_UINT, 0, 100000, "50"),
	NUM(max_conn_rate_per_ip, K_UINT, 0, 1000000, "600"),
	MSECS(greet_delay, T_S, 0, 5 * T_M, "0"),
	/* greylisting (greylist.c) and DNSBL (dnsbl.c), smtpd */
	BOOL(greylist, "no"),
	STR(greylist_db, "/var/lib/inetmail/greylist"),
	MSECS(greylist_delay, T_S, 0, 1 * T_D, "5m"),
	MSECS(greylist_retry_window, T_S, 1 * T_M, 30 * T_D, "2d"),
	MSECS(greylist_expire, T_S, 1 * T_H, 365 * T_D, "35d"),
	STR(greylist_exempt, "127.0.0.0/8 ::1"),
	DOMAINS(dnsbl_zones, ""),
	CHOICE(dnsbl_action, c_dnsbl_action, "reject"),
	STR(dnsbl_exempt, "127.0.0.0/8 ::1"),
	/* submission and relaying */
	CHOICE(role, c_role, "mx"),
	STR(trusted_networks, "127.0.0.1 ::1"),
	BOOL(sender_check, "yes"),
	STR(queue_dir, "/var/spool/inetmail"),
	SECS(queue_lifetime, 0, 30 * T_D, "5d"),
	SECS(queue_retry_min, 1 * T_S, 1 * T_D, "5m"),
	SECS(queue_retry_max, 1 * T_S, 1 * T_D, "1h"),
	STR(relay_host, ""),
	STR(relay_auth_file, ""),
	CHOICE(relay_tls, c_relay_tls, "may"),
	STR(relay_tls_ca_file, ""),
	SECS(smtp_connect_timeout, 1 * T_S, 10 * T_M, "30s"),
};
#undef O
#undef STR
#undef DOMAINS
#undef BOOL
#undef CHOICE
#undef NUM
#undef SECS
#undef MSECS

/* The words of a K_CHOICE key for an error message: a, b or c. */
static void
choice_words(const struct choice *list, char *buf, size_t size)
{
	const struct choice *c;

	buf[0] = '\0';
	for (c = list; c->word != NULL; c++) {
		size_t n = strlen(buf);

		(void)str_fmt(buf + n, size - n, "%s%s",
		    c == list ? "" : c[1].word == NULL ? " or " : ", ",
		    c->word[0] == '\0' ? "\"\"" : c->word);
	}
}

/* ms as the largest unit that divides it: "90s", "2d", "500ms"; 0 is "0". */
static void
fmt_duration(uint64_t ms, char *buf, size_t size)
{
	static const struct {
		uint64_t	 ms;
		const char	*suffix;
	} units[] = { { T_D, "d" }, { T_H, "h" }, { T_M, "m" }, { T_S, "s" } };
	size_t i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (ms % units[i].ms == 0)
			break;
	if (ms == 0)
		str_copy(buf, size, "0");
	else if (i < sizeof(units) / sizeof(units[0]))
		str_fmt(buf, size, "%llu%s",
		    (unsigned long long)(ms / units[i].ms), units[i].suffix);
	else
		str_fmt(buf, size, "%llums", (unsigned long long)ms);
}

/* Parses val into *field (ms) within k's bounds and step; -1 with err. */
static int
set_duration(const struct key *k, const char *val, uint64_t *field, char *err,
    size_t errsize)
{
	char lo[24], hi[24];
	uint64_t v;

	if (parse_duration_ms(val, k->bare, k->max, &v) == 0 && v >= k->min) {
		if (v % k->step != 0) {
			str_fmt(err, errsize, "%s: \"%.40s\" is not a whole "
			    "number of seconds", k->name, val);
			return -1;
		}
		*field = v;
		return 0;
	}
	fmt_duration(k->min, lo, sizeof(lo));
	fmt_duration(k->max, hi, sizeof(hi));
	str_fmt(err, errsize, "%s: bad value \"%.40s\" (allowed %s..%s%s)",
	    k->name, val, lo, hi,
	    k->bare == T_MS ? "; a bare number is ms" : "");
	return -1;
}

static int
set_key(const struct key *k, const char *val, char *err, size_t errsize)
{
	char *base = (char *)&conf;
	uint64_t v;
	int r = 0;

	switch (k->type) {
	case K_DOMAINS:
		/* Host names go into greetings and Received:, so only name
		 * characters, separated by spaces or commas (hostname: one). */
		if (strspn(val, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789.-, ") != strlen(val) ||
		    (strcmp(k->name, "hostname") == 0 && strpbrk(val, ", ") != NULL)) {
			str_fmt(err, errsize, "%s: not a host name%s: \"%.40s\"", k->name,
			    strcmp(k->name, "hostname") == 0 ? "" : " list", val);
			return -1;
		}
		/* FALLTHROUGH */
	case K_STR: {
		char **p = (char **)(void *)(base + k->off);
		const char *c;

		for (c = val; *c != '\0'; c++)
			if (!isprint((unsigned char)*c)) {
				str_fmt(err, errsize, "%s: control character in value", k->name);
				return -1;
			}
		free(*p);
		*p = xstrdup(val);
		return 0;
	}
	case K_CHOICE: {
		const struct choice *c;
		char words[128];

		for (c = k->choices; c->word != NULL; c++)
			if (strcmp(val, c->word) == 0) {
				*(int *)(void *)(base + k->off) = c->value;
				return 0;
			}
		choice_words(k->choices, words, sizeof(words));
		str_fmt(err, errsize, "%s: expected %s, got \"%.40s\"", k->name,
		    words, val);
		return -1;
	}
	case K_BOOL:
		if (strcmp(val, "yes") == 0 || strcmp(val, "on") == 0 || strcmp(val, "true") == 0)
			v = 1;
		else if (strcmp(val, "no") == 0 || strcmp(val, "off") == 0 || strcmp(val, "false") == 0)
			v = 0;
		else {
			str_fmt(err, errsize, "%s: expected yes or no, got \"%.40s\"", k->name, val);
			return -1;
		}
		*(int *)(void *)(base + k->off) = (int)v;
		return 0;
	case K_UINT:
		r = parse_u64(val, k->max, &v);
		break;
	case K_SIZE:
		r = parse_size(val, k->max, &v);
		break;
	case K_DURATION:
		return set_duration(k, val, (uint64_t *)(void *)(base + k->off),
		    err, errsize);
	}
	if (r == -1 || v < k->min || v > k->max) {
		str_fmt(err, errsize, "%s: bad value \"%.40s\" (allowed %llu..%llu)",
		    k->name, val, (unsigned long long)k->min, (unsigned long long)k->max);
		return -1;
	}
	*(uint64_t *)(void *)(base + k->off) = v;
	return 0;
}

static const struct key *
find_key(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

void
conf_defaults(void)
{
	char err[128];
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (set_key(&keys[i], keys[i].def, err, sizeof(err)) == -1)
			abort();	/* a bad default is a programming error */
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/* Splits "key = value" (or key=value) and sets it. */
static int
apply(char *line, char *err, size_t errsize)
{
	char *eq = strchr(line, '='), *key, *val;
	const struct key *k;

	if (eq == NULL) {
		str_fmt(err, errsize, "expected key = value");
		return -1;
	}
	*eq = '\0';
	key = trim(line);
	val = trim(eq + 1);
	if ((k = find_key(key)) == NULL) {
		str_fmt(err, errsize, "unknown key \"%.40s\"", key);
		return -1;
	}
	return set_key(k, val, err, errsize);
}

int
conf_load(const char *path, int optional, char *err, size_t errsize)
{
	char line[1024], msg[200];
	FILE *fp;
	int lineno = 0;

	if ((fp = fopen(path, "re")) == NULL) {
		if (optional && errno == ENOENT)
			return 0;
		str_fmt(err, errsize, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *s;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			str_fmt(err, errsize, "%s:%d: line too long", path, lineno);
			fclose(fp);
			return -1;
		}
		s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		if (apply(s, msg, sizeof(msg)) == -1) {
			str_fmt(err, errsize, "%s:%d: %s", path, lineno, msg);
			fclose(fp);
			return -1;
		}
	}
	fclose(fp);
	return 0;
}

int
conf_option(const char *kv, char *err, size_t errsize)
{
	char line[1024], msg[200];

	if (str_copy(line, sizeof(line), kv) == -1) {
		str_fmt(err, errsize, "-o: option too long");
		return -1;
	}
	if (apply(line, msg, sizeof(msg)) == -1) {
		str_fmt(err, errsize, "-o %.60s: %s", kv, msg);
		return -1;
	}
	return 0;
}

void
conf_finish(void)
{
	char host[256];

	if (conf.hostname[0] == '\0') {
		if (gethostname(host, sizeof(host)) == -1)
			str_copy(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		free(conf.hostname);
		conf.hostname = xstrdup(host);
	}
}

int
conf_is_local_domain(const char *dom)
{
	const char *p = conf.local_domains;
	size_t n = strlen(dom);

	if (strcasecmp(dom, conf.hostname) == 0)
		return 1;
	while (*p != '\0') {
		size_t len = strcspn(p, " ,\t");

		if (len == n && strncasecmp(p, dom, n) == 0)
			return 1;
		p += len;
		p += strspn(p, " ,\t");
	}
	return 0;
}
