/*
 * fuzz_base64.c - libmail/base/base64.c b64_decode(), the strict RFC 4648
 * decoder behind the SASL exchanges of pop3d and smtpd AUTH, and
 * b64_encode (the SMTP client's credentials). The first input byte picks the
 * output size (the exact-size buffer lets ASan see an overflow), the rest
 * is the text. Invariants: success only for a length that is a multiple of
 * 4 with '=' only as the last one or two characters and only the 64
 * alphabet characters elsewhere; outlen = 3n/4 - padding <= outsize;
 * encoding the result again and decoding that gives the same bytes; the
 * canonical encoding equals the input except for the unused low bits of
 * the last character (see the report: they are not required to be zero).
 */
#include "fuzz.h"
#include "base64.h"

static const char alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t
enc(const unsigned char *in, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = alpha[w >> 18 & 63];
		out[o++] = alpha[w >> 12 & 63];
		out[o++] = alpha[w >> 6 & 63];
		out[o++] = alpha[w & 63];
	}
	if (n - i == 1) {
		uint32_t w = (uint32_t)in[i] << 16;

		out[o++] = alpha[w >> 18 & 63];
		out[o++] = alpha[w >> 12 & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (n - i == 2) {
		uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[o++] = alpha[w >> 18 & 63];
		out[o++] = alpha[w >> 12 & 63];
		out[o++] = alpha[w >> 6 & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *out, *out2;
	char *in, *again, *enc2;
	size_t outsize, n, len, len2, i, pad = 0;
	int r, valid = 1;

	if (size < 1)
		return 0;
	outsize = data[0] == 0xff ? 256 : data[0];
	in = fuzz_cstr(data + 1, size - 1);
	n = strlen(in);
	out = malloc(outsize ? outsize : 1);
	FUZZ_CHECK(out != NULL);
	len = (size_t)-1;
	r = b64_decode(in, out, outsize, &len);
	FUZZ_CHECK(r == 0 || r == -1);
	/* what a strict decoder accepts */
	if (n % 4 != 0)
		valid = 0;
	for (i = 0; i < n && valid; i++) {
		if (in[i] == '=') {
			if (i < n - 2 || (i == n - 2 && in[n - 1] != '='))
				valid = 0;
			pad++;
		} else if (strchr(alpha, in[i]) == NULL)
			valid = 0;
	}
	if (valid && n / 4 * 3 - pad > outsize)
		valid = 0;
	FUZZ_CHECK((r == 0) == valid);
	if (r == 0) {
		FUZZ_CHECK(len == n / 4 * 3 - pad && len <= outsize);
		again = malloc(len / 3 * 4 + 8);
		out2 = malloc(len + 1);
		FUZZ_CHECK(again != NULL && out2 != NULL);
		FUZZ_CHECK(enc(out, len, again) == n);
		/* the library's encoder agrees, and needs room for the NUL */
		enc2 = malloc(n + 1);
		FUZZ_CHECK(enc2 != NULL);
		FUZZ_CHECK(b64_encode(out, len, enc2, n + 1) == 0 &&
		    strcmp(enc2, again) == 0);
		FUZZ_CHECK(b64_encode(out, len, enc2, n) == -1);
		free(enc2);
		/* the same text but for the unused low bits before the '=' */
		FUZZ_CHECK(n == 0 || memcmp(again, in, n - pad - 1) == 0);
		FUZZ_CHECK(b64_decode(again, out2, len, &len2) == 0);
		FUZZ_CHECK(len2 == len && memcmp(out, out2, len) == 0);
		free(again);
		free(out2);
	}
	free(out);
	free(in);
	return 0;
}
