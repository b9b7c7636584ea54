/*
 * netaddr.h - IP address lists ("127.0.0.1 10.0.0.0/8, ::1") and the
 * address keys stores are indexed by. Knows no configuration: the caller
 * passes the list (trusted_networks, throttle_exempt, greylist_exempt,
 * dnsbl_exempt) and the name of its key for warnings.
 */
#ifndef INETMAIL_NETADDR_H
#define INETMAIL_NETADDR_H

#include <stddef.h>

/* 1 when ip is in list (addresses and prefixes, space or comma
 * separated; what names the key in a warning, given once per process); 0
 * otherwise, and always 0 when ip is not an address (fail closed: a caller
 * exempting daemon_start's "pipe" says so itself). */
int	netaddr_in(const char *ip, const char *list, const char *what);
/* Canonical address and its /24 (IPv4) or /64 (IPv6) prefix, as
 * "a.b.c.0/24"; IPv4-mapped IPv6 counts as IPv4. -1 if not an address. */
int	netaddr_keys(const char *ip, char *addr, size_t asize, char *net,
	    size_t nsize);

#endif
