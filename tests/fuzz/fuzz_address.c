/*
 * fuzz_address.c - smtpd/address.c parse_path(), the MAIL FROM / RCPT TO
 * path grammar (RFC 5321 4.1.2), on any bytes. The first input byte picks
 * the output buffer size (1..256, or the 257 smtpd uses), allocated exactly
 * so that ASan sees a one-byte overflow. On success:
 *   - the address fits (strlen < size) and is a substring of the path;
 *   - *rest points just past the closing '>' and the path is at most
 *     SMTP_PATH_MAX octets (4.5.3.1.3), the local part at most 64;
 *   - the address holds no control byte and no DEL (the grammar has none:
 *     quoted-pairSMTP is backslash + %d32-126) and no space outside quotes;
 *   - ADDR_UTF8 is set exactly when a byte >= 0x80 is present;
 *   - parsing is deterministic (a second call gives the same result).
 */
#include <stddef.h>

#include "fuzz.h"
#include "params.h"
#include "smtpd.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, *addr, *addr2;
	const char *rest, *rest2;
	size_t asize, n, i;
	int r, r2, flags, flags2, utf8 = 0, quoted;

	if (size < 1)
		return 0;
	asize = data[0] == 0xff ? SMTP_PATH_MAX + 1 : (size_t)data[0] + 1;
#ifdef FUZZ_KNOWN_BUG_ATEXT_NUL
	/*
	 * BUG-1 (report): atext('\0') is true (strchr finds the terminator),
	 * so the local-part loop runs past the end of the string. Until it is
	 * fixed, a byte that is not atext follows the NUL so that fuzzing can
	 * go on; the crash input is kept in the corpus as a regression seed.
	 */
	s = malloc(size + 1);
	FUZZ_CHECK(s != NULL);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	s[strlen(s) + 1] = '\x01';
#else
	s = fuzz_cstr(data + 1, size - 1);
#endif
	addr = malloc(asize);
	addr2 = malloc(asize);
	FUZZ_CHECK(addr != NULL && addr2 != NULL);
	r = parse_path(s, addr, asize, &rest, &flags);
	FUZZ_CHECK(r == 0 || r == -1);
	if (r == 0) {
		n = strlen(addr);
		FUZZ_CHECK(n < asize);
		FUZZ_CHECK(rest > s && rest <= s + strlen(s));
		FUZZ_CHECK(rest[-1] == '>' && s[0] == '<');
		FUZZ_CHECK((size_t)(rest - s) <= SMTP_PATH_MAX);
		FUZZ_CHECK(n + 2 <= (size_t)(rest - s));
		FUZZ_CHECK(n == 0 || memmem(s, (size_t)(rest - s), addr, n) != NULL);
		quoted = addr[0] == '"';
		for (i = 0; i < n; i++) {
			unsigned char c = (unsigned char)addr[i];

			if (c >= 0x80)
				utf8 = 1;
#ifndef FUZZ_ALLOW_CTL_IN_QUOTED
			/* BUG-2 (report): a quoted-pair lets any byte through */
			FUZZ_CHECK(c >= 0x20 && c != 0x7f);
#endif
			FUZZ_CHECK(c != ' ' || quoted);
			FUZZ_CHECK(c != '<' || quoted);
			FUZZ_CHECK(c != '>' || quoted);
		}
		FUZZ_CHECK(!!(flags & ADDR_UTF8) == utf8);
		if (n > 0 && !quoted) {
			const char *at = strrchr(addr, '@');

			FUZZ_CHECK(at != NULL || strcasecmp(addr, "postmaster") == 0);
			FUZZ_CHECK(at == NULL || (size_t)(at - addr) <= SMTP_LOCAL_MAX);
			FUZZ_CHECK(at == NULL || strlen(at + 1) <= SMTP_DOMAIN_MAX);
		}
	}
	r2 = parse_path(s, addr2, asize, &rest2, &flags2);
	FUZZ_CHECK(r2 == r);
	if (r == 0)
		FUZZ_CHECK(rest2 == rest && flags2 == flags && strcmp(addr, addr2) == 0);
	free(addr);
	free(addr2);
	free(s);
	return 0;
}
