/*
 * conf.h - inetmail.conf: `key = value` lines, `#` comments. Unknown keys
 * and bad values are errors naming file:line. `-o key=value` on the command
 * line wins over the file. Every key is documented in inetmail.conf(5).
 */
#ifndef INETMAIL_CONF_H
#define INETMAIL_CONF_H

#include <stdint.h>

#define CONF_FILE	"/etc/inetmail/inetmail.conf"

/*
 * The values of the keys that are one word of a fixed set (conf.c maps
 * each word to one of these; tls and tls_min_version take tls_server.h's).
 */
enum { ROLE_MX, ROLE_SUBMISSION };			/* role */
enum { DNSBL_REJECT, DNSBL_LOG };			/* dnsbl_action */
enum { RELAY_TLS_MAY, RELAY_TLS_ENCRYPT, RELAY_TLS_VERIFY };	/* relay_tls */

/* Every duration is in milliseconds; keys whose users count in seconds
 * accept whole seconds only. */
struct conf {
	char	*hostname;		/* our name in greetings and Received: */
	char	*local_domains;		/* space/comma separated; "" = hostname only */
	char	*mailbox;		/* ~/Maildir, %u user, %h home */
	char	*unpriv_user;		/* the unprivileged session user */
	char	*chroot_dir;		/* "" = no chroot */
	char	*pam_service;
	char	*aliases;		/* aliases(5) source; compiled to .db */
	uint64_t max_message_size;	/* octets, as received */
	uint64_t max_recipients;
	uint64_t min_uid;
	uint64_t smtp_timeout;		/* ms, whole seconds */
	uint64_t pop3_timeout;		/* ms (whole seconds) after login */
	uint64_t max_errors;		/* protocol errors before disconnect */
	int	 vrfy;			/* VRFY answers 250/550 instead of 252 */
	int	 expn;			/* EXPN allowed */
	uint64_t auth_fail_delay;	/* ms a failed login costs */
	int	 apop;			/* pop3d offers APOP (RFC 1939 7) */
	char	*apop_db;		/* APOP secrets, Berkeley DB hash, 0600 root */
	/* TLS (tls_server.c) */
	int	 tls;			/* tls_server.h's TLS_AUTO ("": starttls
					   when tls_cert is set, else none),
					   TLS_NONE, TLS_STARTTLS, TLS_IMPLICIT */
	char	*tls_cert;		/* PEM, leaf first then the chain */
	char	*tls_key;		/* PEM; "" = in tls_cert */
	int	 tls_min_version;	/* TLS_V1_2 ... (tls_server.h) */
	char	*tls_ciphers;		/* TLS <= 1.2 cipher list */
	char	*tls_ciphersuites;	/* TLS 1.3 suites */
	int	 auth_require_tls;	/* no plaintext passwords before TLS */
	/* abuse resistance (throttle.c) */
	char	*throttle_db;		/* directory of the throttle store; "" = off */
	char	*throttle_exempt;	/* addresses/prefixes never throttled */
	uint64_t auth_fail_limit;	/* failures per address per window; 0 = off */
	uint64_t auth_fail_window;	/* ms, whole seconds */
	uint64_t auth_penalty_max;	/* ms: cap of the growing delay */
	uint64_t max_conn_per_ip;	/* concurrent connections; 0 = no limit */
	uint64_t max_conn_rate_per_ip;	/* connections per minute; 0 = no limit */
	uint64_t greet_delay;		/* ms smtpd waits before its greeting */
	/* greylisting (greylist.c) and DNSBL (dnsbl.c), smtpd only */
	int	 greylist;		/* greylist RCPT from non-exempt clients */
	char	*greylist_db;		/* directory of the triplet store */
	uint64_t greylist_delay;	/* ms before a retry is accepted */
	uint64_t greylist_retry_window;	/* ms a first try waits for its retry */
	uint64_t greylist_expire;	/* ms a passed triplet stays known */
	char	*greylist_exempt;	/* addresses/prefixes never greylisted */
	char	*dnsbl_zones;		/* space/comma separated; "" = no lookups */
	int	 dnsbl_action;		/* DNSBL_REJECT (554 greeting), _LOG */
	char	*dnsbl_exempt;		/* addresses/prefixes never looked up */
	/* submission and relaying (smtpd roles, the queue, the runner) */
	int	 role;			/* ROLE_MX, ROLE_SUBMISSION */
	char	*trusted_networks;	/* clients that may relay without AUTH (mx) */
	int	 sender_check;		/* submission: MAIL FROM must be the user's */
	char	*queue_dir;		/* the relay queue, owned by unpriv_user */
	uint64_t queue_lifetime;	/* ms (whole s) before mail bounces */
	uint64_t queue_retry_min;	/* ms (whole s): first retry, doubling */
	uint64_t queue_retry_max;	/* ms (whole s): retry delay cap */
	char	*relay_host;		/* "" = MX; [host]:port or host:port */
	char	*relay_auth_file;	/* "user password" for relay_host, 0600 root */
	int	 relay_tls;		/* RELAY_TLS_MAY, _ENCRYPT, _VERIFY */
	char	*relay_tls_ca_file;	/* "" = the system's CA store */
	uint64_t smtp_connect_timeout;	/* ms (whole s) per outbound connect */
};

extern struct conf conf;

/* Sets every key to its default. */
void	conf_defaults(void);
/*
 * Reads path. A missing file is an error unless optional is set (the default
 * path when -f was not given). Errors go to the log and stderr-less callers
 * exit: returns -1 with a message in err (file:line: what).
 */
int	conf_load(const char *path, int optional, char *err, size_t errsize);
/* Applies "key=value" (from -o). Same checks as a file line. */
int	conf_option(const char *kv, char *err, size_t errsize);
/* True if dom (any case) is one of local_domains or hostname. */
int	conf_is_local_domain(const char *dom);
/* Fills in derived defaults (hostname from gethostname) after loading. */
void	conf_finish(void);

#endif
