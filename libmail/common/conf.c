/*
 * conf.c - table-driven configuration: one row per key with its type,
 * bounds and default, so that the parser, -o, and validation are one path.
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
#include "util.h"

struct conf conf;

enum ktype { K_STR, K_DOMAINS, K_CHOICE, K_UINT, K_SIZE, K_DURATION, K_BOOL };

struct key {
	const char	*name;
	enum ktype	 type;
	size_t		 off;
	uint64_t	 min, max;
	const char	*def;	/* K_CHOICE: "a|b|c", the allowed values, a first */
};

#define O(f)	offsetof(struct conf, f)
static const struct key keys[] = {
	{ "hostname",		K_DOMAINS,	O(hostname),	0, 0, "" },
	{ "local_domains",	K_DOMAINS,	O(local_domains), 0, 0, "" },
	{ "mailbox",		K_STR,	O(mailbox),	0, 0, "~/Maildir" },
	{ "unpriv_user",	K_STR,	O(unpriv_user),	0, 0, "inetmail" },
	{ "chroot_dir",		K_STR,	O(chroot_dir),	0, 0, "/var/empty" },
	{ "pam_service",	K_STR,	O(pam_service),	0, 0, "inetmail" },
	{ "aliases",		K_STR,	O(aliases),	0, 0, "/etc/inetmail/aliases" },
	{ "max_message_size",	K_SIZE,	O(max_message_size), 1024, 1ull << 32, "25M" },
	{ "max_recipients",	K_UINT,	O(max_recipients), 1, 10000, "100" },
	{ "min_uid",		K_UINT,	O(min_uid),	0, 4294967295u, "1000" },
	{ "smtp_timeout",	K_DURATION, O(smtp_timeout), 1, 3600, "300" },
	{ "pop3_timeout",	K_DURATION, O(pop3_timeout), 1, 3600, "600" },
	{ "max_errors",		K_UINT,	O(max_errors),	1, 1000, "10" },
	{ "vrfy",		K_BOOL,	O(vrfy),	0, 0, "no" },
	{ "expn",		K_BOOL,	O(expn),	0, 0, "no" },
	{ "auth_fail_delay",	K_UINT,	O(auth_fail_delay), 0, 60000, "2000" },
	{ "apop",		K_BOOL,	O(apop),	0, 0, "no" },
	{ "apop_db",		K_STR,	O(apop_db),	0, 0, "/etc/inetmail/apop.db" },
	/* TLS (tls.c checks the values of tls and tls_min_version) */
	{ "tls",		K_STR,	O(tls),		0, 0, "" },
	{ "tls_cert",		K_STR,	O(tls_cert),	0, 0, "" },
	{ "tls_key",		K_STR,	O(tls_key),	0, 0, "" },
	{ "tls_min_version",	K_STR,	O(tls_min_version), 0, 0, "TLSv1.2" },
	{ "tls_ciphers",	K_STR,	O(tls_ciphers),	0, 0,
	    "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!SHA1" },
	{ "tls_ciphersuites",	K_STR,	O(tls_ciphersuites), 0, 0,
	    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256" },
	{ "auth_require_tls",	K_BOOL,	O(auth_require_tls), 0, 0, "yes" },
	/* abuse resistance (throttle.c) */
	{ "throttle_db",	K_STR,	O(throttle_db),	0, 0, "/var/lib/inetmail/throttle" },
	{ "throttle_exempt",	K_STR,	O(throttle_exempt), 0, 0, "127.0.0.0/8 ::1" },
	{ "auth_fail_limit",	K_UINT,	O(auth_fail_limit), 0, 100000, "10" },
	{ "auth_fail_window",	K_DURATION, O(auth_fail_window), 1, 604800, "15m" },
	{ "auth_penalty_max",	K_DURATION, O(auth_penalty_max), 0, 600, "30s" },
	{ "max_conn_per_ip",	K_UINT,	O(max_conn_per_ip), 0, 100000, "50" },
	{ "max_conn_rate_per_ip", K_UINT, O(max_conn_rate_per_ip), 0, 1000000, "600" },
	{ "greet_delay",	K_DURATION, O(greet_delay), 0, 300, "0" },
	/* greylisting (greylist.c) and DNSBL (dnsbl.c), smtpd */
	{ "greylist",		K_BOOL,	O(greylist),	0, 0, "no" },
	{ "greylist_db",	K_STR,	O(greylist_db),	0, 0, "/var/lib/inetmail/greylist" },
	{ "greylist_delay",	K_DURATION, O(greylist_delay), 0, 86400, "5m" },
	{ "greylist_retry_window", K_DURATION, O(greylist_retry_window), 60, 2592000, "2d" },
	{ "greylist_expire",	K_DURATION, O(greylist_expire), 3600, 31536000, "35d" },
	{ "greylist_exempt",	K_STR,	O(greylist_exempt), 0, 0, "127.0.0.0/8 ::1" },
	{ "dnsbl_zones",	K_DOMAINS, O(dnsbl_zones), 0, 0, "" },
	{ "dnsbl_action",	K_STR,	O(dnsbl_action), 0, 0, "reject" },
	{ "dnsbl_exempt",	K_STR,	O(dnsbl_exempt), 0, 0, "127.0.0.0/8 ::1" },
	/* submission and relaying */
	{ "role",		K_CHOICE, O(role),	0, 0, "mx|submission" },
	{ "trusted_networks",	K_STR,	O(trusted_networks), 0, 0, "127.0.0.1 ::1" },
	{ "sender_check",	K_BOOL,	O(sender_check), 0, 0, "yes" },
	{ "queue_dir",		K_STR,	O(queue_dir),	0, 0, "/var/spool/inetmail" },
	{ "queue_lifetime",	K_DURATION, O(queue_lifetime), 0, 2592000, "5d" },
	{ "queue_retry_min",	K_DURATION, O(queue_retry_min), 1, 86400, "5m" },
	{ "queue_retry_max",	K_DURATION, O(queue_retry_max), 1, 86400, "1h" },
	{ "relay_host",		K_STR,	O(relay_host),	0, 0, "" },
	{ "relay_auth_file",	K_STR,	O(relay_auth_file), 0, 0, "" },
	{ "relay_tls",		K_CHOICE, O(relay_tls),	0, 0, "may|encrypt|verify" },
	{ "relay_tls_ca_file",	K_STR,	O(relay_tls_ca_file), 0, 0, "" },
	{ "smtp_connect_timeout", K_DURATION, O(smtp_connect_timeout), 1, 600, "30s" },
};
#undef O

/* 1 when val is one of the '|'-separated words of list. */
static int
word_in(const char *val, const char *list)
{
	size_t n = strlen(val);

	while (*list != '\0') {
		size_t len = strcspn(list, "|");

		if (len == n && strncmp(list, val, n) == 0)
			return 1;
		list += len;
		list += *list == '|';
	}
	return 0;
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
	case K_CHOICE:
	case K_STR: {
		char **p = (char **)(void *)(base + k->off);
		const char *c;

		for (c = val; *c != '\0'; c++)
			if (!isprint((unsigned char)*c)) {
				str_fmt(err, errsize, "%s: control character in value", k->name);
				return -1;
			}
		if (k->type == K_CHOICE && !word_in(val, k->def)) {
			str_fmt(err, errsize, "%s: expected %s, got \"%.40s\"",
			    k->name, k->def, val);
			return -1;
		}
		free(*p);
		*p = xstrdup(val);
		return 0;
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
		r = parse_duration(val, k->max, &v);
		break;
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

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char def[64];
		const char *d = keys[i].def;

		if (keys[i].type == K_CHOICE) {	/* the first word */
			str_copy(def, sizeof(def), d);
			def[strcspn(def, "|")] = '\0';
			d = def;
		}
		if (set_key(&keys[i], d, err, sizeof(err)) == -1)
			abort();	/* a bad default is a programming error */
	}
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
