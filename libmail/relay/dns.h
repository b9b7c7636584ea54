/*
 * dns.h - the two look-ups outbound mail needs: the MX records of a domain
 * (libresolv, parsed with ns_initparse/ns_parserr) and the addresses of a
 * host (getaddrinfo, A and AAAA). Every answer is classified the way mail
 * routing needs it: found, no such record (the name exists), no such name
 * (NXDOMAIN: permanent), or try again later (SERVFAIL, timeouts, REFUSED).
 */
#ifndef INETMAIL_DNS_H
#define INETMAIL_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "params.h"

/* Results of dns_mx() and dns_addrs(). */
#define DNS_OK		0
#define DNS_NODATA	1	/* the name exists, but has no record of the type */
#define DNS_NXDOMAIN	2	/* the name does not exist (permanent) */
#define DNS_NULLMX	3	/* RFC 7505: a single MX "0 ." */
#define DNS_TEMP	4	/* SERVFAIL, timeout, refused: try again later */

#define DNS_MX_MAX	16	/* MX records kept (the lowest preferences) */
#define DNS_ADDR_MAX	8	/* addresses kept per host name */

struct dns_mx {
	unsigned	pref;
	char		name[SMTP_DOMAIN_MAX + 1];	/* without the final dot */
};

/*
 * The MX records of domain, sorted by preference, records of equal
 * preference in random order. Records whose exchange is not a host name are
 * skipped ("." among other records, bad names). With DNS_OK *n >= 1. A
 * one-line reason goes into why (for DNS_TEMP and DNS_NXDOMAIN).
 */
int	dns_mx(const char *domain, struct dns_mx *mx, size_t max, size_t *n,
	    char *why, size_t whysize);

/*
 * The addresses of host (a name or a numeric address), with port set.
 * DNS_OK with *n >= 1, DNS_NODATA, DNS_NXDOMAIN or DNS_TEMP.
 */
int	dns_addrs(const char *host, uint16_t port, struct sockaddr_storage *out,
	    socklen_t *lens, size_t max, size_t *n, char *why, size_t whysize);

/* True if s is a syntactically valid host name (LDH labels, <= 253). */
int	dns_valid_name(const char *s);

#endif
