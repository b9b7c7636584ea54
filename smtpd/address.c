/*
 * address.c - RFC 5321 path syntax: "<" [source-route ":"] mailbox ">"
 * or "<>". Checks every length limit of 4.5.3.1; the result is the bare
 * address (local@domain, or "" for the null path).
 */
#include <ctype.h>
#include <string.h>

#include "params.h"
#include "smtpd.h"

static int
atext(unsigned char c)
{
	/* c != 0: strchr would find the terminator and call NUL atext. */
	return isalnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL) ||
	    c >= 0x80;
}

/* Returns the length of a valid domain (or address literal) at s, else 0. */
static size_t
domain_len(const char *s, int *flags)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0, label = 0;

	if (*p == '[') {
		/* an address literal (4.1.3): IPv4 or "IPv6:..." characters
		 * only (the address itself is checked by whoever connects to
		 * it); other standardized tags cannot be delivered to */
		n = 1;
		while (p[n] != '\0' && p[n] != ']') {
			if (!isalnum(p[n]) && p[n] != '.' && p[n] != ':')
				return 0;
			n++;
		}
		return p[n] == ']' && n > 1 ? n + 1 : 0;
	}
	for (;; n++) {
		unsigned char c = p[n];

		if (c == '-' && label == 0)
			return 0;	/* a label never starts with a hyphen */
		if (isalnum(c) || c == '-' || c >= 0x80) {
			if (c >= 0x80)
				*flags |= ADDR_UTF8;
			label++;
		} else if (c == '.' && label > 0 && p[n - 1] != '-') {
			label = 0;
		} else
			break;
		if (label > 63)
			return 0;
	}
	if (n == 0 || label == 0 || p[n - 1] == '-')
		return 0;
	return n;
}

int
parse_path(const char *s, char *addr, size_t size, const char **rest, int *flags)
{
	const char *p = s, *start;
	size_t n, local;

	*flags = 0;
	if (*p++ != '<')
		return -1;
	if (*p == '>') {
		addr[0] = '\0';
		*rest = p + 1;
		return 0;
	}
	/* A source route (@a,@b:) is accepted and ignored (4.1.1.3). */
	if (*p == '@') {
		const char *colon = strchr(p, ':');

		if (colon == NULL || (size_t)(colon - s) > SMTP_PATH_MAX)
			return -1;
		p = colon + 1;
	}
	start = p;
	if (*p == '"') {
		/* qtextSMTP and quoted-pairSMTP (4.1.2): printable ASCII only,
		 * bytes >= 0x80 for SMTPUTF8; never a control byte. */
		for (p++; *p != '"'; p++) {
			if (*p == '\\')
				p++;
			if (*p == '\0' || (unsigned char)*p < 0x20 || *p == 0x7f)
				return -1;
			if ((unsigned char)*p >= 0x80)
				*flags |= ADDR_UTF8;
		}
		p++;
	} else {
		for (; atext((unsigned char)*p) || *p == '.'; p++) {
			if (*p == '.' && (p == start || p[1] == '.' || p[1] == '@'))
				return -1;
			if ((unsigned char)*p >= 0x80)
				*flags |= ADDR_UTF8;
		}
	}
	local = (size_t)(p - start);
	if (local == 0 || local > SMTP_LOCAL_MAX)
		return -1;
	if (*p == '@') {
		p++;
		if ((n = domain_len(p, flags)) == 0 || n > SMTP_DOMAIN_MAX)
			return -1;
		p += n;
	} else if (!(local == 10 && strncasecmp(start, "postmaster", 10) == 0))
		return -1;	/* only postmaster may come without a domain */
	if (*p != '>' || (size_t)(p + 1 - s) > SMTP_PATH_MAX)
		return -1;
	n = (size_t)(p - start);
	if (n >= size)
		return -1;
	memcpy(addr, start, n);
	addr[n] = '\0';
	*rest = p + 1;
	return 0;
}
