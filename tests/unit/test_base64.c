/*
 * test_base64.c - libmail/base/base64.c: the RFC 4648 section 10 test vectors
 * both ways, the strictness the SASL exchanges rely on (length, padding
 * place, alphabet, no white space), the output bound of both directions,
 * and the SASL PLAIN message of RFC 4616.
 */
#include <string.h>

#include "base64.h"
#include "check.h"

static const struct {
	const char *plain, *enc;
} vec[] = {
	{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
};

static int
dec(const char *in, char *out, size_t size, size_t *len)
{
	return b64_decode(in, (unsigned char *)out, size, len);
}

int
main(void)
{
	char out[64], enc[64];
	size_t i, len;
	unsigned char bin[256];

	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		size_t n = strlen(vec[i].plain);

		CHECK(dec(vec[i].enc, out, sizeof(out), &len) == 0 && len == n &&
		    memcmp(out, vec[i].plain, n) == 0, "RFC 4648 vector decodes");
		CHECK(b64_encode((const unsigned char *)vec[i].plain, n, enc,
		    sizeof(enc)) == 0 && strcmp(enc, vec[i].enc) == 0,
		    "RFC 4648 vector encodes");
		CHECK(strlen(vec[i].enc) == B64_ENCLEN(n), "B64_ENCLEN");
	}
	/* strictness */
	CHECK(dec("Zg=", out, sizeof(out), &len) == -1, "length not a multiple of 4");
	CHECK(dec("Zg", out, sizeof(out), &len) == -1, "missing padding");
	CHECK(dec("Z===", out, sizeof(out), &len) == -1, "three padding characters");
	CHECK(dec("Zg==Zm8=", out, sizeof(out), &len) == -1, "padding inside");
	CHECK(dec("Z=g=", out, sizeof(out), &len) == -1, "data after padding");
	CHECK(dec("Zm9v\r\n", out, sizeof(out), &len) == -1, "a line break");
	CHECK(dec("Zm 9v", out, sizeof(out), &len) == -1, "white space");
	CHECK(dec("Zm9-", out, sizeof(out), &len) == -1, "URL alphabet");
	CHECK(dec("Zm9*", out, sizeof(out), &len) == -1, "the SASL cancel character");
	CHECK(dec("Zm9v\xc3\xa9==", out, sizeof(out), &len) == -1, "8-bit bytes");
	/* output bounds */
	CHECK(dec("Zm9vYmFy", out, 6, &len) == 0 && len == 6, "decode into exactly 6");
	CHECK(dec("Zm9vYmFy", out, 5, &len) == -1, "decode into 5: refused");
	CHECK(dec("Zm9vYg==", out, 4, &len) == 0 && len == 4, "padding: 4 bytes fit 4");
	CHECK(b64_encode((const unsigned char *)"foo", 3, enc, 5) == 0,
	    "encode into exactly 4 + NUL");
	CHECK(b64_encode((const unsigned char *)"foo", 3, enc, 4) == -1 &&
	    enc[0] == '\0', "encode without room for the NUL: refused, \"\"");
	CHECK(b64_encode((const unsigned char *)"", 0, enc, 0) == -1,
	    "encode into nothing");
	CHECK(b64_encode(bin, (size_t)-1, enc, sizeof(enc)) == -1,
	    "a huge length does not overflow the bound");
	/* every byte value round-trips */
	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)i;
	{
		char big[B64_ENCLEN(256) + 1];
		unsigned char back[256];

		CHECK(b64_encode(bin, sizeof(bin), big, sizeof(big)) == 0 &&
		    b64_decode(big, back, sizeof(back), &len) == 0 &&
		    len == 256 && memcmp(back, bin, 256) == 0,
		    "all 256 byte values round-trip");
	}
	/* RFC 4616: [authzid] NUL authcid NUL passwd */
	CHECK(dec("AHRpbQB0YW5zdGFhZnRhbnN0YWFm", out, sizeof(out), &len) == 0 &&
	    len == 21 && memcmp(out, "\0tim\0tanstaaftanstaaf", 21) == 0,
	    "RFC 4616 PLAIN example");
	return CHECK_DONE();
}
