/*
 * dnsbl.c - DNS blocklist lookups (see dnsbl.h) with res_query(T_A), the
 * resolver's timeout cut to 2 seconds and one attempt. The answer is
 * parsed by hand (ns_initparse lives in libresolv; res_query and
 * dn_skipname are in libc).
 */
#include <sys/types.h>

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "dnsbl.h"
#include "log.h"
#include "netaddr.h"
#include "util.h"

#define DNSBL_TIMEOUT	2	/* seconds per name server */
#define DNSBL_ATTEMPTS	1

int
dnsbl_exempt(const char *ip)
{
	if (conf.dnsbl_zones == NULL || conf.dnsbl_zones[0] == '\0')
		return 1;
	/* no peer (stdin, smtpd -q): nothing to count; any other
	 * non-address is in no list (netaddr_in fails closed) */
	return strcmp(ip, "pipe") == 0 ||
	    netaddr_in(ip, conf.dnsbl_exempt, "dnsbl_exempt");
}

int
dnsbl_name(const char *ip, const char *zone, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	char addr[64], net[80], rev[80], *p = rev;
	unsigned char a[16];
	int i;

	if (netaddr_keys(ip, addr, sizeof(addr), net, sizeof(net)) == -1)
		return -1;
	if (inet_pton(AF_INET, addr, a) == 1) {
		if (str_fmt(rev, sizeof(rev), "%u.%u.%u.%u", a[3], a[2], a[1],
		    a[0]) == -1)
			return -1;
	} else if (inet_pton(AF_INET6, addr, a) == 1) {
		for (i = 15; i >= 0; i--) {
			*p++ = hex[a[i] & 0xf];
			*p++ = '.';
			*p++ = hex[a[i] >> 4];
			*p++ = i > 0 ? '.' : '\0';
		}
	} else
		return -1;
	if (zone[0] == '\0')
		return str_copy(out, size, rev);
	return str_fmt(out, size, "%s.%s", rev, zone);
}

/* The first A record of an answer: 0 found, -1 none or malformed. */
static int
first_a(const unsigned char *msg, int len, unsigned char a[4])
{
	const unsigned char *p = msg + HFIXEDSZ, *end = msg + len;
	unsigned qd, an, type, rdlen;
	int n;

	if (len < HFIXEDSZ)
		return -1;
	qd = (unsigned)msg[4] << 8 | msg[5];
	an = (unsigned)msg[6] << 8 | msg[7];
	while (qd-- > 0) {
		if ((n = dn_skipname(p, end)) < 0 || end - p < n + QFIXEDSZ)
			return -1;
		p += n + QFIXEDSZ;
	}
	while (an-- > 0) {
		if ((n = dn_skipname(p, end)) < 0 || end - p < n + RRFIXEDSZ)
			return -1;
		p += n;
		type = (unsigned)p[0] << 8 | p[1];
		rdlen = (unsigned)p[8] << 8 | p[9];
		p += RRFIXEDSZ;
		if ((size_t)(end - p) < rdlen)
			return -1;
		if (type == T_A && rdlen == 4) {
			memcpy(a, p, 4);
			return 0;
		}
		p += rdlen;
	}
	return -1;
}

static const char *
herr_name(int h)
{
	switch (h) {
	case TRY_AGAIN:		return "timeout_or_servfail";
	case NO_RECOVERY:	return "refused_or_formerr";
	case NETDB_INTERNAL:	return "resolver_error";
	default:		return "unknown";
	}
}

/* One zone: 1 listed, 0 not, -1 lookup failed (logged). */
static int
lookup(const char *ip, const char *zone)
{
	unsigned char ans[1024], a[4];
	char name[NS_MAXDNAME], ab[INET_ADDRSTRLEN];
	uint64_t t0 = now_ms();
	int n;

	if (dnsbl_name(ip, zone, name, sizeof(name)) == -1)
		return 0;
	h_errno = 0;
	n = res_query(name, C_IN, T_A, ans, sizeof(ans));
	/* res_query returns the answer's full length, which may exceed the
	 * buffer (a truncated copy): never parse past it (as dns.c) */
	if (n > (int)sizeof(ans))
		n = (int)sizeof(ans);
	if (n < 0) {
		if (h_errno == HOST_NOT_FOUND || h_errno == NO_DATA)
			return 0;
		log_warnx("event=dnsbl_error ip=%s zone=%s error=%s ms=%llu",
		    ip, zone, herr_name(h_errno),
		    (unsigned long long)(now_ms() - t0));
		return -1;
	}
	if (first_a(ans, n, a) == -1)
		return 0;
	inet_ntop(AF_INET, a, ab, sizeof(ab));
	if (a[0] != 127 || (a[1] == 255 && a[2] == 255)) {
		log_warnx("event=dnsbl_error ip=%s zone=%s error=answer_%s "
		    "(not a listing; ignored)", ip, zone, ab);
		return -1;
	}
	log_info("event=dnsbl_listed ip=%s zone=%s answer=%s", ip, zone, ab);
	return 1;
}

int
dnsbl_zone(unsigned n, char *zone, size_t zsize)
{
	const char *p = conf.dnsbl_zones;
	size_t len;

	for (;;) {
		p += strspn(p, " ,");
		if (*p == '\0')
			return -1;
		len = strcspn(p, " ,");
		if (--n == 0)
			break;
		p += len;
	}
	if (len >= zsize)
		len = 0;	/* too long for a name: never looked up */
	memcpy(zone, p, len);
	zone[len] = '\0';
	return 0;
}

unsigned
dnsbl_check(const char *ip)
{
	static int inited;
	char z[NS_MAXDNAME];
	unsigned n;

	if (dnsbl_exempt(ip))
		return 0;
	if (!inited) {
		if (res_init() == -1) {
			log_warnx("event=dnsbl_error ip=%s error=res_init", ip);
			return 0;
		}
		_res.retrans = DNSBL_TIMEOUT;
		_res.retry = DNSBL_ATTEMPTS;
		inited = 1;
	}
	for (n = 1; dnsbl_zone(n, z, sizeof(z)) == 0; n++)
		if (z[0] != '\0' && lookup(ip, z) == 1)
			return n;
	return 0;
}
