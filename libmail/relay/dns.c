/*
 * dns.c - MX and address look-ups for outbound mail (see dns.h).
 *
 * res_query() reports the kind of failure in h_errno: HOST_NOT_FOUND is
 * NXDOMAIN, NO_DATA a name without records of the type, TRY_AGAIN a
 * SERVFAIL or a timeout, NO_RECOVERY a FORMERR/REFUSED/NOTIMP answer. Only
 * the first two are facts about the domain; the others say nothing about it
 * and are temporary, as in every MTA.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "log.h"
#include "util.h"

/* A DNS message over TCP is at most 64 KiB; UDP answers are smaller. */
#define DNS_ANSWER_MAX	65536

int
dns_valid_name(const char *s)
{
	size_t len = strlen(s), label = 0, i;

	if (len == 0 || len > 253)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
		if (c == '-' && label == 0)
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0 && s[len - 1] != '-';
}

static int
mx_cmp(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;

	return x->pref < y->pref ? -1 : x->pref > y->pref;
}

int
dns_mx(const char *domain, struct dns_mx *mx, size_t max, size_t *n,
    char *why, size_t whysize)
{
	static unsigned char ans[DNS_ANSWER_MAX];
	struct dns_mx *all;
	size_t nall = 0, i, j;
	ns_msg msg;
	ns_rr rr;
	int len, count, k, nullmx = 0, nmx = 0;

	*n = 0;
	str_copy(why, whysize, "");
	if (!dns_valid_name(domain)) {
		str_fmt(why, whysize, "not a domain name");
		return DNS_NXDOMAIN;
	}
	if (!(_res.options & RES_INIT) && res_init() == -1) {
		str_fmt(why, whysize, "res_init failed");
		return DNS_TEMP;
	}
	h_errno = 0;
	len = res_query(domain, ns_c_in, ns_t_mx, ans, sizeof(ans));
	if (len < 0) {
		switch (h_errno) {
		case HOST_NOT_FOUND:
			str_fmt(why, whysize, "MX lookup of %s: no such domain", domain);
			return DNS_NXDOMAIN;
		case NO_DATA:
			return DNS_NODATA;
		case TRY_AGAIN:
			str_fmt(why, whysize, "MX lookup of %s: temporary failure "
			    "(server failure or timeout)", domain);
			return DNS_TEMP;
		default:
			str_fmt(why, whysize, "MX lookup of %s: %s", domain,
			    hstrerror(h_errno));
			return DNS_TEMP;
		}
	}
	if (len > (int)sizeof(ans) || ns_initparse(ans, len, &msg) == -1) {
		str_fmt(why, whysize, "MX lookup of %s: malformed answer", domain);
		return DNS_TEMP;
	}
	count = ns_msg_count(msg, ns_s_an);
	all = xcalloc(count > 0 ? (size_t)count : 1, sizeof(*all));
	for (k = 0; k < count; k++) {
		char name[NS_MAXDNAME];
		const unsigned char *rd;

		if (ns_parserr(&msg, ns_s_an, k, &rr) == -1) {
			str_fmt(why, whysize, "MX lookup of %s: malformed answer", domain);
			free(all);
			return DNS_TEMP;
		}
		if (ns_rr_type(rr) != ns_t_mx || ns_rr_class(rr) != ns_c_in)
			continue;	/* a CNAME on the way, ... */
		rd = ns_rr_rdata(rr);
		if (ns_rr_rdlen(rr) < 3 ||
		    ns_name_uncompress(ns_msg_base(msg), ns_msg_end(msg), rd + 2,
		    name, sizeof(name)) == -1) {
			str_fmt(why, whysize, "MX lookup of %s: malformed MX record", domain);
			free(all);
			return DNS_TEMP;
		}
		nmx++;
		/* ns_name_uncompress spells the root "." */
		if (name[0] == '\0' || strcmp(name, ".") == 0) {
			if (ns_get16(rd) == 0)
				nullmx++;
			continue;
		}
		if (!dns_valid_name(name)) {
			log_info("dns mx domain=%s skipped=\"%s\" reason=\"not a host name\"",
			    domain, pr(name));
			continue;
		}
		all[nall].pref = ns_get16(rd);
		str_copy(all[nall].name, sizeof(all[nall].name), name);
		nall++;
	}
	/* RFC 7505 3: a null MX is the domain's only MX record. */
	if (nullmx > 0 && nmx == 1) {
		free(all);
		str_fmt(why, whysize, "%s has a null MX (RFC 7505)", domain);
		return DNS_NULLMX;
	}
	if (nmx == 0) {
		free(all);
		return DNS_NODATA;
	}
	if (nall == 0) {
		free(all);
		str_fmt(why, whysize, "MX lookup of %s: no usable MX host name", domain);
		return DNS_NXDOMAIN;
	}
	qsort(all, nall, sizeof(*all), mx_cmp);
	/* Spread the load over hosts of equal preference (RFC 5321 5.1). */
	for (i = 0; i < nall; i = j) {
		size_t m;

		for (j = i + 1; j < nall && all[j].pref == all[i].pref; j++)
			;
		for (m = j - i; m > 1; m--) {
			size_t r = arc4random_uniform((uint32_t)m);
			struct dns_mx t = all[i + m - 1];

			all[i + m - 1] = all[i + r];
			all[i + r] = t;
		}
	}
	for (i = 0; i < nall && i < max; i++)
		mx[i] = all[i];
	*n = i;
	free(all);
	return DNS_OK;
}

int
dns_addrs(const char *host, uint16_t port, struct sockaddr_storage *out,
    socklen_t *lens, size_t max, size_t *n, char *why, size_t whysize)
{
	struct addrinfo hints, *res = NULL, *ai;
	int e;

	*n = 0;
	str_copy(why, whysize, "");
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	/* No AI_ADDRCONFIG: it ignores loopback, and a host may only have lo. */
	if ((e = getaddrinfo(host, NULL, &hints, &res)) != 0) {
		switch (e) {
		case EAI_NONAME:
			str_fmt(why, whysize, "address lookup of %s: host not found", host);
			return DNS_NXDOMAIN;
#ifdef EAI_NODATA
		case EAI_NODATA:
			str_fmt(why, whysize, "address lookup of %s: no address", host);
			return DNS_NODATA;
#endif
		case EAI_SYSTEM:
			str_fmt(why, whysize, "address lookup of %s: %s", host, strerror(errno));
			return DNS_TEMP;
		default:
			str_fmt(why, whysize, "address lookup of %s: %s", host, gai_strerror(e));
			return DNS_TEMP;
		}
	}
	for (ai = res; ai != NULL && *n < max; ai = ai->ai_next) {
		size_t i;

		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    ai->ai_addrlen > sizeof(*out))
			continue;
		if (ai->ai_family == AF_INET)
			((struct sockaddr_in *)(void *)ai->ai_addr)->sin_port = htons(port);
		else
			((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_port = htons(port);
		for (i = 0; i < *n; i++)	/* getaddrinfo may repeat one */
			if (lens[i] == ai->ai_addrlen &&
			    memcmp(&out[i], ai->ai_addr, ai->ai_addrlen) == 0)
				break;
		if (i < *n)
			continue;
		memset(&out[*n], 0, sizeof(out[*n]));
		memcpy(&out[*n], ai->ai_addr, ai->ai_addrlen);
		lens[*n] = (socklen_t)ai->ai_addrlen;
		(*n)++;
	}
	freeaddrinfo(res);
	if (*n == 0) {
		str_fmt(why, whysize, "address lookup of %s: no address", host);
		return DNS_NODATA;
	}
	return DNS_OK;
}
