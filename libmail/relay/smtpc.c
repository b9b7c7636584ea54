/*
 * smtpc.c - the outbound SMTP client (see smtpc.h).
 *
 * One call delivers one message to the recipients of one domain: route
 * (relay_host, MX records, the implicit MX, an address literal), then try
 * the hosts in order. A host that fails as a whole before the transaction
 * is under way (no connection, a 4xx/5xx greeting, a refused EHLO, TLS
 * required but not offered or failed, AUTH refused, 4xx to MAIL, a lost
 * connection before the final dot) gives way to the next one; when all
 * failed, every recipient still open gets the last host's reason as a
 * temporary failure. Once a host answers MAIL with 2xx or 5xx, it decides:
 * 5xx is permanent, 4xx is temporary, 2xx after the final dot is sent.
 *
 * Timeouts follow RFC 5321 4.5.3.2, capped by smtp_timeout, except the
 * wait after the final dot (10 minutes: a server may be scanning the
 * message, and giving up early sends it twice).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"
#include "dns.h"
#include "lineio.h"
#include "log.h"
#include "smtpc.h"
#include "tls_client.h"
#include "util.h"

#define ROUTE_MAX	10	/* addresses tried per delivery */

/* RFC 5321 4.5.3.2 timeouts, seconds. */
#define T_GREETING	300
#define T_MAIL		300
#define T_RCPT		300
#define T_DATA		120
#define T_BLOCK		180
#define T_DOT		600
#define T_QUIT		10	/* nothing depends on the answer */

static int	inited;
static int	tls_ok;			/* the client context exists */
static char	auth_user[256], auth_pass[256];

/* relay_host, parsed */
static struct {
	int		set;
	int		no_mx;		/* "[host]": its addresses, no MX lookup */
	char		host[SMTP_DOMAIN_MAX + 1];
	uint16_t	port;
} relay;

struct target {
	char			name[SMTP_DOMAIN_MAX + 1];	/* "" for an address literal */
	struct sockaddr_storage	ss;
	socklen_t		len;
};

struct route {
	struct target	t[ROUTE_MAX];
	size_t		n;
};

/* Per-recipient progress inside one call. */
#define M_OPEN		0	/* no verdict yet */
#define M_DONE		1	/* decided (any state) */
#define M_ACCEPTED	2	/* 2xx to RCPT, waiting for the end of DATA */

struct sess {
	struct io		 io;
	int			 fd;
	const struct target	*t;
	char			 remote[300];	/* "name [addr]" */
	char			 addr[INET6_ADDRSTRLEN + 8];
	struct smtpc_reply	 r;
	unsigned		 ext;
	uint64_t		 size_max;
	/* the host's failure, when it failed as a whole */
	char			 hstatus[8];
	char			 hdiag[QERR_MAX];
};

/* Results of the routing functions. */
#define ROUTE_OK	0
#define ROUTE_TEMP	1	/* the recipients stay pending */
#define ROUTE_PERM	2	/* the recipients fail */

/* Host-level results of try_host(). */
#define HOST_NEXT	0	/* failed as a whole: try the next host */
#define HOST_DONE	1	/* every recipient has its verdict */
#define HOST_LOCAL	2	/* a local error (the message file) */

/* ---- set-up ---- */

/* relay_host: "", "[host]", "[host]:port", "host", "host:port". */
static int
parse_relay(const char *s, char *err, size_t errsize)
{
	const char *end, *colon = NULL;
	size_t hl;
	uint64_t port = 25;

	memset(&relay, 0, sizeof(relay));
	if (s[0] == '\0')
		return 0;
	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL)
			goto bad;
		relay.no_mx = 1;
		hl = (size_t)(end - s - 1);
		s++;
		if (end[1] == ':')
			colon = end + 1;
		else if (end[1] != '\0')
			goto bad;
	} else {
		colon = strchr(s, ':');
		hl = colon != NULL ? (size_t)(colon - s) : strlen(s);
	}
	if (hl == 0 || hl >= sizeof(relay.host))
		goto bad;
	memcpy(relay.host, s, hl);
	relay.host[hl] = '\0';
	if (colon != NULL && parse_u64(colon + 1, 65535, &port) == -1)
		goto bad;
	if (port == 0)
		goto bad;
	if (!dns_valid_name(relay.host)) {
		unsigned char a[16];

		/* [addr] may be numeric */
		if (!relay.no_mx || (inet_pton(AF_INET, relay.host, a) != 1 &&
		    inet_pton(AF_INET6, relay.host, a) != 1))
			goto bad;
	}
	relay.port = (uint16_t)port;
	relay.set = 1;
	return 0;
bad:
	memset(&relay, 0, sizeof(relay));
	str_fmt(err, errsize, "relay_host: expected [host]:port, host:port or "
	    "host, got \"%.60s\"", s);
	return -1;
}

int
smtpc_init(char *err, size_t errsize)
{
	if (parse_relay(conf.relay_host, err, errsize) == -1)
		return -1;
	if (tls_client_init(conf.relay_tls_ca_file, err, errsize) == -1) {
		/* without a context only relay_tls = may can work (in plaintext) */
		if (conf.relay_tls != RELAY_TLS_MAY)
			return -1;
		log_warnx("smtpc: no TLS for outbound mail: %s", err);
		tls_ok = 0;
	} else
		tls_ok = 1;
	inited = 1;
	return 0;
}

int
smtpc_relay_local(void)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (!relay.set || !relay.no_mx)
		return 0;	/* no relay_host, or a name looked up by MX */
	if (inet_pton(AF_INET, relay.host, &a4) == 1)
		return ntohl(a4.s_addr) == INADDR_LOOPBACK;
	return inet_pton(AF_INET6, relay.host, &a6) == 1 &&
	    IN6_IS_ADDR_LOOPBACK(&a6);
}

void
smtpc_set_auth(const char *user, const char *pass)
{
	explicit_bzero(auth_user, sizeof(auth_user));
	explicit_bzero(auth_pass, sizeof(auth_pass));
	if (user == NULL || user[0] == '\0')
		return;
	if (str_copy(auth_user, sizeof(auth_user), user) == -1 ||
	    str_copy(auth_pass, sizeof(auth_pass), pass != NULL ? pass : "") == -1) {
		log_warnx("smtpc: relay credentials too long: not used");
		explicit_bzero(auth_user, sizeof(auth_user));
		explicit_bzero(auth_pass, sizeof(auth_pass));
	}
}

/* ---- helpers ---- */

static unsigned
tmo(unsigned rfc)
{
	uint64_t t = conf.smtp_timeout / 1000;

	return t > 0 && t < rfc ? (unsigned)t : rfc;
}

static int
has_nonascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

/* An address we may put on a command line: no controls, bounded. */
static int
addr_ok(const char *s)
{
	size_t len = strlen(s);
	size_t i;

	if (len > SMTP_PATH_MAX - 2)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '<' || s[i] == '>')
			return 0;
	return 1;
}

static void
verdict(struct smtpc_rcpt *rc, int state, const char *status, const char *remote,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
verdict(struct smtpc_rcpt *rc, int state, const char *status, const char *remote,
    const char *fmt, ...)
{
	va_list ap;
	size_t i;

	rc->state = state;
	str_copy(rc->status, sizeof(rc->status), status);
	str_copy(rc->remote, sizeof(rc->remote), remote);
	va_start(ap, fmt);
	vsnprintf(rc->diag, sizeof(rc->diag), fmt, ap);	/* cut to fit */
	va_end(ap);
	for (i = 0; rc->diag[i] != '\0'; i++)	/* our text may quote others' */
		if ((unsigned char)rc->diag[i] < 0x20 || (unsigned char)rc->diag[i] > 0x7e)
			rc->diag[i] = '?';
}

/* The status of a reply: its enhanced code, else "C.0.0". */
static void
reply_status(const struct smtpc_reply *r, char *out, size_t size)
{
	if (r->status[0] != '\0')
		str_copy(out, size, r->status);
	else
		str_fmt(out, size, "%d.0.0", r->code / 100);
}

/* Records a failure of the host as a whole (always temporary: class 4). */
static void
host_fail(struct sess *s, const char *status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
host_fail(struct sess *s, const char *status, const char *fmt, ...)
{
	va_list ap;

	str_copy(s->hstatus, sizeof(s->hstatus), status);
	s->hstatus[0] = '4';
	va_start(ap, fmt);
	vsnprintf(s->hdiag, sizeof(s->hdiag), fmt, ap);
	va_end(ap);
	log_info("smtpc host=\"%s\" failed status=%s reason=\"%s\"", s->remote,
	    s->hstatus, pr(s->hdiag));
}

/* The host failed because of its reply s->r to what. */
static void
host_fail_reply(struct sess *s, const char *what)
{
	char st[8];

	reply_status(&s->r, st, sizeof(st));
	host_fail(s, st, "%s (in reply to %s)", s->r.text, what);
}

/* Reads one reply into s->r. 0 ok; -1: the host failed (recorded). */
static int
read_reply(struct sess *s, unsigned timeout_s, const char *what)
{
	char line[SMTPC_LINE_MAX + 2];	/* + 1 octet to show an over-long line */
	size_t len;
	unsigned fl;
	int r;

	s->io.timeout_ms = (int)timeout_s * 1000;
	/* the whole reply within the timeout, not each read: a server that
	 * trickles an endless line must not hold the queue runner */
	s->io.deadline_ms = now_ms() + (uint64_t)timeout_s * 1000;
	smtpc_reply_init(&s->r);
	for (;;) {	/* ends: SMTPC_LINES_MAX lines at most */
		r = io_getline(&s->io, line, SMTPC_LINE_MAX, &len, &fl);
		s->io.deadline_ms = r == IO_OK ? s->io.deadline_ms : 0;
		if (r == IO_TIMEOUT) {
			host_fail(s, "4.4.2", "conversation with %s timed out "
			    "while waiting for the reply to %s", s->remote, what);
			return -1;
		}
		if (r != IO_OK) {
			host_fail(s, "4.4.2", "lost connection with %s while "
			    "waiting for the reply to %s", s->remote, what);
			return -1;
		}
		/* an over-long line was cut: the parser sees one octet too many */
		r = smtpc_reply_line(&s->r, line, fl & IOL_LONG ? SMTPC_LINE_MAX + 1 : len);
		if (r != SR_MORE)
			s->io.deadline_ms = 0;
		if (r == SR_DONE)
			return 0;
		if (r == SR_ERROR) {
			host_fail(s, "4.5.0", "protocol error in the reply of %s "
			    "to %s: %s", s->remote, what, s->r.error);
			return -1;
		}
	}
}

/* Sends one command line; the reply is read by read_reply (which flushes). */
static int
send_cmd(struct sess *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
send_cmd(struct sess *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		return -1;
	memcpy(line + n, "\r\n", 2);
	return io_write(&s->io, line, (size_t)n + 2);
}

/* A command and its reply. 0: a reply in s->r; -1: the host failed. */
static int
command(struct sess *s, unsigned timeout_s, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
command(struct sess *s, unsigned timeout_s, const char *what, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		host_fail(s, "4.3.0", "command too long for %s", what);
		return -1;
	}
	s->io.timeout_ms = (int)timeout_s * 1000;
	if (send_cmd(s, "%s", line) == -1) {
		host_fail(s, "4.4.2", "lost connection with %s while sending %s",
		    s->remote, what);
		return -1;
	}
	return read_reply(s, timeout_s, what);
}

static void
quit(struct sess *s)
{
	if (send_cmd(s, "QUIT") == 0) {
		s->io.timeout_ms = T_QUIT * 1000;
		(void)io_flush(&s->io);
		/* the answer decides nothing; a short wait lets it say goodbye */
		{
			char line[SMTPC_LINE_MAX + 1];
			size_t len;
			unsigned fl;
			int i;

			for (i = 0; i < SMTPC_LINES_MAX; i++)
				if (io_getline(&s->io, line, SMTPC_LINE_MAX, &len, &fl) != IO_OK ||
				    len < 4 || line[3] != '-')
					break;
		}
	}
}

static void
sess_close(struct sess *s)
{
	tls_end(&s->io);
	buf_free(&s->io.out);
	if (s->fd != -1)
		close(s->fd);
	s->fd = -1;
}

/* Non-blocking connect within timeout_s. fd or -1 with the reason in why. */
static int
connect_to(const struct target *t, unsigned timeout_s, char *why, size_t whysize)
{
	struct pollfd p;
	int fd, r, err = 0;
	socklen_t elen = sizeof(err);

	fd = socket(t->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		str_fmt(why, whysize, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&t->ss, t->len) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		str_copy(why, whysize, strerror(errno));
		close(fd);
		return -1;
	}
	p.fd = fd;
	p.events = POLLOUT;
	do
		r = poll(&p, 1, (int)timeout_s * 1000);
	while (r == -1 && errno == EINTR);
	if (r == 0) {
		str_copy(why, whysize, "connection timed out");
		close(fd);
		return -1;
	}
	if (r == -1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == -1) {
		str_copy(why, whysize, strerror(errno));
		close(fd);
		return -1;
	}
	if (err != 0) {
		str_copy(why, whysize, strerror(err));
		close(fd);
		return -1;
	}
	return fd;
}

static void
b64_encode(const unsigned char *in, size_t len, char *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, o = 0;

	for (i = 0; i + 2 < len; i += 3) {	/* @UNSAFE: out holds 4 * ceil(len / 3) + 1 */
		out[o++] = tab[in[i] >> 2];
		out[o++] = tab[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		out[o++] = tab[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
		out[o++] = tab[in[i + 2] & 63];
	}
	if (len - i == 1) {
		out[o++] = tab[in[i] >> 2];
		out[o++] = tab[(in[i] & 3) << 4];
		out[o++] = '=';
		out[o++] = '=';
	} else if (len - i == 2) {
		out[o++] = tab[in[i] >> 2];
		out[o++] = tab[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		out[o++] = tab[(in[i + 1] & 15) << 2];
		out[o++] = '=';
	}
	out[o] = '\0';
}

static int
is_loopback(const struct target *t)
{
	if (t->ss.ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)&t->ss)->sin_addr.s_addr) >> 24) == 127;
	if (t->ss.ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)&t->ss)->sin6_addr);
	return 0;
}

/* ---- routing ---- */

static int
is_numeric(const char *host)
{
	unsigned char a[16];

	return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

/* Appends the addresses of name to rt. DNS_* of the look-up. */
static int
add_host(struct route *rt, const char *name, const char *host, uint16_t port,
    char *why, size_t whysize)
{
	struct sockaddr_storage ss[DNS_ADDR_MAX];
	socklen_t lens[DNS_ADDR_MAX];
	size_t n, i;
	int r;

	r = dns_addrs(host, port, ss, lens, DNS_ADDR_MAX, &n, why, whysize);
	for (i = 0; r == DNS_OK && i < n && rt->n < ROUTE_MAX; i++) {
		struct target *t = &rt->t[rt->n++];

		str_copy(t->name, sizeof(t->name), name);
		t->ss = ss[i];
		t->len = lens[i];
	}
	return r;
}

/*
 * The hosts for mail to domain through its MX records (or its own
 * addresses without MX). ROUTE_OK with rt filled, else ROUTE_TEMP or
 * ROUTE_PERM with status and diag.
 */
static int
route_mx(const char *domain, uint16_t port, struct route *rt, char *status,
    char *diag, size_t dsize)
{
	struct dns_mx mx[DNS_MX_MAX];
	char why[QERR_MAX];
	size_t n, i;
	int r, temp = 0;

	r = dns_mx(domain, mx, DNS_MX_MAX, &n, why, sizeof(why));
	switch (r) {
	case DNS_NXDOMAIN:
		str_copy(status, 8, "5.1.2");
		str_fmt(diag, dsize, "Host or domain name not found (%s)", why);
		return ROUTE_PERM;
	case DNS_NULLMX:
		str_copy(status, 8, "5.1.10");
		str_fmt(diag, dsize, "556 5.1.10 Domain %s does not accept mail "
		    "(null MX, RFC 7505)", domain);
		return ROUTE_PERM;
	case DNS_TEMP:
		str_copy(status, 8, "4.4.3");
		str_fmt(diag, dsize, "%s", why);
		return ROUTE_TEMP;
	case DNS_NODATA:
		/* RFC 5321 5.1: no MX, the domain itself is the host */
		r = add_host(rt, domain, domain, port, why, sizeof(why));
		if (r == DNS_OK)
			return ROUTE_OK;
		if (r == DNS_TEMP) {
			str_copy(status, 8, "4.4.3");
			str_fmt(diag, dsize, "%s", why);
			return ROUTE_TEMP;
		}
		str_copy(status, 8, "5.4.4");
		str_fmt(diag, dsize, "Domain %s has no MX and no address record "
		    "(%s)", domain, why);
		return ROUTE_PERM;
	}
	for (i = 0; i < n && rt->n < ROUTE_MAX; i++) {
		r = add_host(rt, mx[i].name, mx[i].name, port, why, sizeof(why));
		if (r == DNS_TEMP)
			temp = 1;
		if (r != DNS_OK)
			log_info("smtpc domain=%s mx=%s skipped reason=\"%s\"", domain,
			    mx[i].name, pr(why));
	}
	if (rt->n > 0)
		return ROUTE_OK;
	str_copy(status, 8, temp ? "4.4.3" : "5.4.4");
	str_fmt(diag, dsize, "No MX host of %s has an address (%s)", domain, why);
	return temp ? ROUTE_TEMP : ROUTE_PERM;
}

static int
route(const char *domain, struct route *rt, char *status, char *diag, size_t dsize)
{
	char why[QERR_MAX];
	size_t len = strlen(domain);
	int r;

	memset(rt, 0, sizeof(*rt));
	if (relay.set) {
		if (relay.no_mx)
			/* a numeric [addr] is shown as such, without a name */
			r = add_host(rt, is_numeric(relay.host) ? "" : relay.host,
			    relay.host, relay.port, why, sizeof(why)) == DNS_OK ?
			    ROUTE_OK : ROUTE_TEMP;
		else {
			r = route_mx(relay.host, relay.port, rt, status, diag, dsize);
			why[0] = '\0';
		}
		if (r == ROUTE_OK)
			return ROUTE_OK;
		/* relay_host is our configuration: its failures never bounce */
		str_copy(status, 8, "4.4.3");
		if (why[0] != '\0')
			str_fmt(diag, dsize, "relay_host %s: %s", conf.relay_host, why);
		else {
			char d[QERR_MAX];

			str_copy(d, sizeof(d), diag);
			str_fmt(diag, dsize, "relay_host %s: %s", conf.relay_host, d);
		}
		return ROUTE_TEMP;
	}
	if (len >= 3 && domain[0] == '[' && domain[len - 1] == ']') {
		/* an address literal, RFC 5321 4.1.3 */
		char lit[64];
		const char *a = lit;

		if (len - 2 >= sizeof(lit))
			goto badlit;
		memcpy(lit, domain + 1, len - 2);
		lit[len - 2] = '\0';
		if (strncasecmp(lit, "IPv6:", 5) == 0)
			a = lit + 5;
		else if (strchr(lit, ':') != NULL)
			goto badlit;
		{
			unsigned char b[16];
			struct target *t = &rt->t[0];

			memset(t, 0, sizeof(*t));
			if (a == lit && inet_pton(AF_INET, a, b) == 1) {
				struct sockaddr_in *sin = (struct sockaddr_in *)&t->ss;

				sin->sin_family = AF_INET;
				sin->sin_port = htons(25);
				memcpy(&sin->sin_addr, b, 4);
				t->len = sizeof(*sin);
			} else if (a != lit && inet_pton(AF_INET6, a, b) == 1) {
				struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&t->ss;

				sin6->sin6_family = AF_INET6;
				sin6->sin6_port = htons(25);
				memcpy(&sin6->sin6_addr, b, 16);
				t->len = sizeof(*sin6);
			} else
				goto badlit;
			rt->n = 1;
			return ROUTE_OK;
		}
badlit:
		str_copy(status, 8, "5.1.2");
		str_fmt(diag, dsize, "Bad address literal %.64s", domain);
		return ROUTE_PERM;
	}
	if (!dns_valid_name(domain)) {
		str_copy(status, 8, "5.1.2");
		str_fmt(diag, dsize, "Bad domain name \"%.64s\"", domain);
		return ROUTE_PERM;
	}
	return route_mx(domain, 25, rt, status, diag, dsize);
}

/* ---- one host ---- */

/* EHLO, falling back to HELO on 5xx. 0 ok; -1 the host failed. */
static int
hello(struct sess *s)
{
	if (command(s, tmo(T_MAIL), "EHLO", "EHLO %s", conf.hostname) == -1)
		return -1;
	if (s->r.code / 100 == 2) {
		s->ext = s->r.ext;
		s->size_max = s->r.size_max;
		return 0;
	}
	if (s->r.code / 100 != 5) {
		host_fail_reply(s, "EHLO");
		return -1;
	}
	if (command(s, tmo(T_MAIL), "HELO", "HELO %s", conf.hostname) == -1)
		return -1;
	if (s->r.code / 100 != 2) {
		host_fail_reply(s, "HELO");
		return -1;
	}
	s->ext = 0;
	s->size_max = 0;
	return 0;
}

/* STARTTLS per relay_tls. 0 go on; -1 the host failed (closed or to QUIT). */
static int
starttls(struct sess *s, int *closed)
{
	int pol = conf.relay_tls;
	char why[200];
	const char *name;
	char ip[INET6_ADDRSTRLEN];

	*closed = 0;
	if (!(s->ext & SMTPC_EXT_STARTTLS)) {
		if (pol == RELAY_TLS_MAY)
			return 0;
		host_fail(s, "4.7.4", "TLS is required, but was not offered by %s",
		    s->remote);
		return -1;
	}
	if (!tls_ok) {
		if (pol == RELAY_TLS_MAY)
			return 0;
		host_fail(s, "4.7.5", "TLS is required, but not available here");
		return -1;
	}
	if (command(s, tmo(T_MAIL), "STARTTLS", "STARTTLS") == -1) {
		*closed = 1;
		return -1;
	}
	if (s->r.code / 100 != 2) {
		if (pol == RELAY_TLS_MAY) {
			log_info("smtpc host=\"%s\" starttls refused reply=\"%s\"",
			    s->remote, pr(s->r.text));
			return 0;
		}
		host_fail_reply(s, "STARTTLS");
		return -1;
	}
	name = s->t->name;
	if (name[0] == '\0') {	/* an address literal: verify the address */
		str_copy(ip, sizeof(ip), s->addr);
		name = ip;
	}
	if (tls_connect(&s->io, name, pol == RELAY_TLS_VERIFY, tmo(T_MAIL), why,
	    sizeof(why)) == -1) {
		host_fail(s, "4.7.5", "TLS with %s failed: %s", s->remote, why);
		*closed = 1;
		return -1;
	}
	/* RFC 3207 4.2: forget what was learnt before; ask again */
	if (command(s, tmo(T_MAIL), "EHLO", "EHLO %s", conf.hostname) == -1) {
		*closed = 1;
		return -1;
	}
	if (s->r.code / 100 != 2) {
		host_fail_reply(s, "EHLO");
		return -1;
	}
	s->ext = s->r.ext;
	s->size_max = s->r.size_max;
	return 0;
}

/* AUTH PLAIN at relay_host. 0 go on; -1 the host failed. */
static int
auth(struct sess *s, int *closed)
{
	unsigned char raw[2 * sizeof(auth_user) + 2];
	char b64[4 * (sizeof(raw) / 3 + 1) + 1];
	size_t ul = strlen(auth_user), pl = strlen(auth_pass);
	int r;

	*closed = 0;
	if (!relay.set || auth_user[0] == '\0')
		return 0;
	if (!(s->ext & SMTPC_EXT_AUTH_PLAIN)) {
		host_fail(s, "4.7.0", "%s does not offer AUTH PLAIN; the relay "
		    "credentials cannot be used", s->remote);
		return -1;
	}
	if (!tls_active(&s->io) && !is_loopback(s->t)) {
		host_fail(s, "4.7.0", "not sending the relay credentials to %s "
		    "without TLS", s->remote);
		return -1;
	}
	/* RFC 4616: authzid NUL authcid NUL passwd; authzid empty */
	raw[0] = '\0';
	memcpy(raw + 1, auth_user, ul);
	raw[1 + ul] = '\0';
	memcpy(raw + 2 + ul, auth_pass, pl);
	b64_encode(raw, ul + pl + 2, b64);
	r = command(s, tmo(T_MAIL), "AUTH", "AUTH PLAIN %s", b64);
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(b64, sizeof(b64));
	if (r == -1) {
		*closed = 1;
		return -1;
	}
	if (s->r.code != 235 && s->r.code / 100 != 2) {
		host_fail_reply(s, "AUTH");
		return -1;
	}
	log_info("smtpc host=\"%s\" auth=PLAIN user=%s", s->remote, pr(auth_user));
	return 0;
}

/* Sends the message body and the final dot. 0 ok; -1 connection; -2 local. */
static int
send_body(struct sess *s, int fd)
{
	static char in[32768], out[2 * sizeof(in)];
	struct smtpc_dot d;
	off_t off = 0;
	size_t n;

	s->io.timeout_ms = (int)tmo(T_BLOCK) * 1000;
	smtpc_dot_init(&d);
	for (;;) {	/* ends at end of file */
		ssize_t r = pread(fd, in, sizeof(in), off);

		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			log_warn("smtpc: reading the message");
			return -2;
		}
		if (r == 0)
			break;
		off += r;
		n = smtpc_dot_encode(&d, in, (size_t)r, out);
		if (io_write(&s->io, out, n) == -1)
			return -1;
	}
	n = smtpc_dot_end(&d, out);
	if (io_write(&s->io, out, n) == -1 || io_flush(&s->io) == -1)
		return -1;
	return 0;
}

/* Marks every open (or accepted) recipient with the reply in s->r. */
static void
decide_all(struct sess *s, struct smtpc_rcpt *rc, int *mark, size_t n, int which,
    const char *what)
{
	char st[8];
	int state = smtpc_reply_verdict(s->r.code);
	size_t i;

	reply_status(&s->r, st, sizeof(st));
	for (i = 0; i < n; i++)
		if (mark[i] == which) {
			verdict(&rc[i], state, st, s->remote, "%s (in reply to %s)",
			    s->r.text, what);
			mark[i] = M_DONE;
		}
}

/* Accepted recipients go back to open (the transaction broke). */
static void
reopen(int *mark, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (mark[i] == M_ACCEPTED)
			mark[i] = M_OPEN;
}

static int
try_host(struct sess *s, const struct target *t, const char *sender, int fd,
    uint64_t size, struct smtpc_rcpt *rc, int *mark, size_t n)
{
	char why[200], st[8], params[64];
	size_t i, naccepted = 0;
	int closed, utf8 = 0, r;
	uint16_t port;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->t = t;
	if (t->ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)&t->ss)->sin_addr,
		    s->addr, sizeof(s->addr));
		port = ntohs(((const struct sockaddr_in *)&t->ss)->sin_port);
	} else {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&t->ss)->sin6_addr,
		    s->addr, sizeof(s->addr));
		port = ntohs(((const struct sockaddr_in6 *)&t->ss)->sin6_port);
	}
	str_fmt(s->remote, sizeof(s->remote), "%s%s[%s]", t->name,
	    t->name[0] != '\0' ? " " : "", s->addr);

	if ((s->fd = connect_to(t, (unsigned)(conf.smtp_connect_timeout / 1000),
	    why, sizeof(why))) == -1) {
		host_fail(s, "4.4.1", "connect to %s port %u: %s", s->remote,
		    (unsigned)port, why);
		return HOST_NEXT;
	}
	io_init(&s->io, s->fd, s->fd, tmo(T_GREETING));
	log_info("smtpc connected host=\"%s\" port=%u", s->remote, (unsigned)port);

	if (read_reply(s, tmo(T_GREETING), "the initial greeting") == -1)
		goto next_closed;
	if (s->r.code / 100 != 2) {
		host_fail_reply(s, "the initial greeting");
		goto next_quit;
	}
	if (hello(s) == -1)
		goto next_quit;
	if (starttls(s, &closed) == -1)
		goto next_maybe;
	if (auth(s, &closed) == -1)
		goto next_maybe;

	/* what the server cannot take is decided now, for good */
	if ((s->ext & SMTPC_EXT_SIZE) && s->size_max > 0 && size > s->size_max) {
		for (i = 0; i < n; i++)
			if (mark[i] == M_OPEN) {
				verdict(&rc[i], QR_FAILED, "5.3.4", s->remote,
				    "Message size %llu exceeds the limit %llu of %s",
				    (unsigned long long)size,
				    (unsigned long long)s->size_max, s->remote);
				mark[i] = M_DONE;
			}
		goto done_quit;
	}
	if (has_nonascii(sender)) {
		utf8 = 1;
		if (!(s->ext & SMTPC_EXT_SMTPUTF8)) {
			for (i = 0; i < n; i++)
				if (mark[i] == M_OPEN) {
					verdict(&rc[i], QR_FAILED, "5.6.7", s->remote,
					    "The sender address needs SMTPUTF8, which %s "
					    "does not support", s->remote);
					mark[i] = M_DONE;
				}
			goto done_quit;
		}
	}
	for (i = 0; i < n; i++) {
		if (mark[i] != M_OPEN || !has_nonascii(rc[i].addr))
			continue;
		if (s->ext & SMTPC_EXT_SMTPUTF8)
			utf8 = 1;
		else {
			verdict(&rc[i], QR_FAILED, "5.6.7", s->remote,
			    "The recipient address needs SMTPUTF8, which %s does "
			    "not support", s->remote);
			mark[i] = M_DONE;
		}
	}
	for (i = 0; i < n && mark[i] != M_OPEN; i++)
		;
	if (i == n)
		goto done_quit;

	str_copy(params, sizeof(params), "");
	if (s->ext & SMTPC_EXT_SIZE)
		str_fmt(params, sizeof(params), " SIZE=%llu", (unsigned long long)size);
	if (utf8 && str_fmt(params + strlen(params), sizeof(params) - strlen(params),
	    " SMTPUTF8") == -1)
		goto next_quit;	/* cannot happen: params is large enough */
	if (command(s, tmo(T_MAIL), "MAIL FROM", "MAIL FROM:<%s>%s", sender,
	    params) == -1)
		goto next_closed;
	if (s->r.code / 100 == 4 || s->r.code / 100 == 3) {
		host_fail_reply(s, "MAIL FROM");
		goto next_quit;
	}
	if (s->r.code / 100 == 5) {
		decide_all(s, rc, mark, n, M_OPEN, "MAIL FROM");
		goto done_quit;
	}

	for (i = 0; i < n; i++) {
		if (mark[i] != M_OPEN)
			continue;
		if (command(s, tmo(T_RCPT), "RCPT TO", "RCPT TO:<%s>", rc[i].addr) == -1) {
			reopen(mark, n);
			goto next_closed;
		}
		if (s->r.code / 100 == 2) {
			mark[i] = M_ACCEPTED;
			naccepted++;
			continue;
		}
		reply_status(&s->r, st, sizeof(st));
		verdict(&rc[i], smtpc_reply_verdict(s->r.code), st,
		    s->remote, "%s (in reply to RCPT TO)", s->r.text);
		mark[i] = M_DONE;
	}
	if (naccepted == 0)
		goto done_quit;

	if (command(s, tmo(T_DATA), "DATA", "DATA") == -1) {
		reopen(mark, n);
		goto next_closed;
	}
	if (s->r.code / 100 != 3) {
		if (s->r.code / 100 == 2)	/* nonsense: no verdict from it */
			s->r.code = 451;
		decide_all(s, rc, mark, n, M_ACCEPTED, "DATA");
		goto done_quit;
	}
	if ((r = send_body(s, fd)) != 0) {
		if (r == -2) {
			for (i = 0; i < n; i++)
				if (mark[i] == M_ACCEPTED) {
					verdict(&rc[i], QR_PENDING, "4.3.0", "",
					    "Local error: cannot read the queued message");
					mark[i] = M_DONE;
				}
			sess_close(s);	/* without the dot: nothing is sent */
			return HOST_LOCAL;
		}
		host_fail(s, "4.4.2", "lost connection with %s while sending the "
		    "message", s->remote);
		reopen(mark, n);
		goto next_closed;
	}
	if (read_reply(s, T_DOT, "end of DATA") == -1) {
		/* the server may have the message: no other host, retry later */
		for (i = 0; i < n; i++)
			if (mark[i] == M_ACCEPTED) {
				verdict(&rc[i], QR_PENDING, s->hstatus, s->remote,
				    "%s (the message may be delivered twice)", s->hdiag);
				mark[i] = M_DONE;
			}
		sess_close(s);
		return HOST_DONE;
	}
	if (s->r.code / 100 == 3)
		s->r.code = 451;	/* nonsense after the dot */
	decide_all(s, rc, mark, n, M_ACCEPTED, "end of DATA");
done_quit:
	quit(s);
	sess_close(s);
	return HOST_DONE;
next_maybe:
	if (closed)
		goto next_closed;
next_quit:
	quit(s);
next_closed:
	sess_close(s);
	return HOST_NEXT;
}

/* ---- the entry point ---- */

static void
log_verdict(const char *sender, const struct smtpc_rcpt *rc)
{
	char from[LOG_TEXT_MAX + 8], to[LOG_TEXT_MAX + 8];

	printable(sender, strlen(sender), from, sizeof(from));
	printable(rc->addr, strlen(rc->addr), to, sizeof(to));
	log_info("smtpc from=<%s> to=<%s> relay=\"%s\" status=%s dsn=%s diag=\"%s\"",
	    from, to, rc->remote, rc->state == QR_SENT ? "sent" :
	    rc->state == QR_FAILED ? "bounced" : "deferred", rc->status,
	    pr(rc->diag));
}

int
smtpc_deliver(const char *domain, const char *sender, int fd, uint64_t size,
    struct smtpc_rcpt *rc, size_t n)
{
	struct sigaction ign, old;
	struct route *rt = NULL;
	struct sess *s = NULL;
	char err[QERR_MAX], status[8], diag[QERR_MAX];
	int *mark, ret = 0, r, have_fail = 0;
	size_t i, k;

	for (i = 0; i < n; i++) {
		rc[i].state = QR_PENDING;
		rc[i].status[0] = rc[i].remote[0] = rc[i].diag[0] = '\0';
	}
	if (n == 0)
		return 0;
	if (!inited && smtpc_init(err, sizeof(err)) == -1) {
		log_warnx("smtpc: %s", err);
		for (i = 0; i < n; i++)
			verdict(&rc[i], QR_PENDING, "4.3.5", "", "Local configuration "
			    "error: %s", err);
		return -1;
	}
	mark = xcalloc(n, sizeof(*mark));
	if (!addr_ok(sender)) {
		for (i = 0; i < n; i++)
			verdict(&rc[i], QR_FAILED, "5.1.7", "", "Bad sender address syntax");
		goto out;
	}
	for (i = 0; i < n; i++)
		if (!addr_ok(rc[i].addr)) {
			verdict(&rc[i], QR_FAILED, "5.1.3", "",
			    "Bad recipient address syntax");
			mark[i] = M_DONE;
		}
	rt = xcalloc(1, sizeof(*rt));
	if ((r = route(domain, rt, status, diag, sizeof(diag))) != ROUTE_OK) {
		for (i = 0; i < n; i++)
			if (mark[i] == M_OPEN)
				verdict(&rc[i], r == ROUTE_PERM ? QR_FAILED : QR_PENDING,
				    status, "", "%s", diag);
		goto out;
	}
	/* a server closing on us must not kill the runner */
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	sigaction(SIGPIPE, &ign, &old);
	s = xcalloc(1, sizeof(*s));
	for (k = 0; k < rt->n; k++) {
		for (i = 0; i < n && mark[i] != M_OPEN; i++)
			;
		if (i == n)
			break;
		r = try_host(s, &rt->t[k], sender, fd, size, rc, mark, n);
		if (r == HOST_LOCAL) {
			ret = -1;
			break;
		}
		have_fail = r == HOST_NEXT;
		if (r == HOST_DONE)
			break;
	}
	sigaction(SIGPIPE, &old, NULL);
	for (i = 0; i < n; i++)
		if (mark[i] == M_OPEN) {
			if (ret == -1)
				verdict(&rc[i], QR_PENDING, "4.3.0", "", "Local error: "
				    "cannot read the queued message");
			else if (have_fail)
				verdict(&rc[i], QR_PENDING, s->hstatus, s->remote, "%s",
				    s->hdiag);
			else
				verdict(&rc[i], QR_PENDING, "4.4.1", "", "No host to "
				    "deliver to");
		}
out:
	for (i = 0; i < n; i++)
		log_verdict(sender, &rc[i]);
	free(s);
	free(rt);
	free(mark);
	return ret;
}
