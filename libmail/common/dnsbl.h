/*
 * dnsbl.h - DNS blocklist lookups for smtpd (dnsbl_zones). For IPv4
 * a.b.c.d the name is d.c.b.a.ZONE, for IPv6 the 32 nibbles reversed
 * (RFC 5782); an A record in 127.0.0.0/8 means listed (127.255.255.x, the
 * lists' "you may not query" codes, does not). smtpd queries from its
 * policy child (unpriv_user, not chrooted): root parses nothing from the
 * network, and the chrooted session cannot resolve.
 *
 * Bounded: one attempt of 2 seconds per name server and zone. Fail open: a
 * timeout, SERVFAIL or refusal counts as not listed and logs
 * event=dnsbl_error.
 */
#ifndef INETMAIL_DNSBL_H
#define INETMAIL_DNSBL_H

#include <stddef.h>

/* 1 when ip is never looked up: no zones, ip in dnsbl_exempt, or "pipe"
 * (no peer); any other non-address is looked up. */
int	dnsbl_exempt(const char *ip);

/*
 * Looks ip up in each zone of dnsbl_zones in order: n > 0 listed in the
 * nth zone (event=dnsbl_listed logged), 0 not listed, exempt, or every
 * lookup failed.
 */
unsigned dnsbl_check(const char *ip);

/* The nth zone (from 1) of dnsbl_zones into zone ("" when too long to be
 * a name); -1 when there is no nth zone. */
int	dnsbl_zone(unsigned n, char *zone, size_t zsize);

/* The name to query for ip in zone ("" zone: just the reversed part). */
int	dnsbl_name(const char *ip, const char *zone, char *out, size_t size);

#endif
