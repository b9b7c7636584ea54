/*
 * netaddr.c - address lists and address keys (see netaddr.h): inet_pton
 * parsing with IPv4-mapped IPv6 folded into IPv4, prefix matching.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "log.h"
#include "netaddr.h"
#include "util.h"

/* Parses ip into family and 16 bytes (IPv4-mapped IPv6 counts as IPv4). */
static int
addr_parse(const char *ip, int *af, unsigned char a[16])
{
	memset(a, 0, 16);
	if (inet_pton(AF_INET, ip, a) == 1) {
		*af = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, ip, a) == 1) {
		static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0,
		    0, 0, 0xff, 0xff };

		if (memcmp(a, mapped, 12) == 0) {
			memmove(a, a + 12, 4);
			memset(a + 4, 0, 12);
			*af = AF_INET;
		} else
			*af = AF_INET6;
		return 0;
	}
	return -1;
}

static int
prefix_match(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[full] ^ b[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

int
netaddr_keys(const char *ip, char *addr, size_t asize, char *net,
    size_t nsize)
{
	unsigned char a[16];
	char buf[INET6_ADDRSTRLEN];
	int af;

	if (addr_parse(ip, &af, a) == -1 ||
	    inet_ntop(af, a, buf, sizeof(buf)) == NULL ||
	    str_copy(addr, asize, buf) == -1)
		return -1;
	memset(a + (af == AF_INET ? 3 : 8), 0, af == AF_INET ? 1 : 8);
	if (inet_ntop(af, a, buf, sizeof(buf)) == NULL ||
	    str_fmt(net, nsize, "%s/%d", buf, af == AF_INET ? 24 : 64) == -1)
		return -1;
	return 0;
}

int
netaddr_in(const char *ip, const char *list, const char *what)
{
	static int warned;
	const char *p = list;
	unsigned char a[16], b[16];
	char tok[INET6_ADDRSTRLEN + 8], *slash;
	uint64_t bits;
	int af, bf;

	if (addr_parse(ip, &af, a) == -1)
		return 0;	/* fail closed: no address is in no list */
	while (*p != '\0') {
		size_t n = strcspn(p, " ,\t");

		if (n > 0 && n < sizeof(tok)) {
			memcpy(tok, p, n);
			tok[n] = '\0';
			bits = 128;
			if ((slash = strchr(tok, '/')) != NULL)
				*slash++ = '\0';
			if (addr_parse(tok, &bf, b) == -1 ||
			    (slash != NULL && (parse_u64(slash, 128, &bits) == -1 ||
			    bits > (bf == AF_INET ? 32u : 128u)))) {
				if (!warned++)
					log_warnx("%s: bad entry \"%s\", "
					    "ignored", what, pr(tok));
			} else if (bf == af && prefix_match(a, b, (unsigned)
			    (slash == NULL ? (af == AF_INET ? 32 : 128) : bits)))
				return 1;
		} else if (n > 0 && !warned++)
			log_warnx("%s: entry too long, ignored", what);
		p += n;
		p += strspn(p, " ,\t");
	}
	return 0;
}
