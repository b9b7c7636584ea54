/*
 * base64.c - strict base64 decoding and encoding (RFC 4648 4). The decoder
 * sees untrusted client input before login (SASL PLAIN/LOGIN), so it
 * accepts exactly the canonical alphabet and padding and never writes past
 * the caller's buffer.
 */
#include <stdint.h>
#include <string.h>

#include "base64.h"

static const char alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
b64_decode(const char *in, unsigned char *out, size_t outsize, size_t *outlen)
{
	size_t n = strlen(in), i, o = 0;

	if (n % 4 != 0)
		return -1;
	for (i = 0; i < n; i += 4) {
		int v[4], k, pad = 0;
		uint32_t w = 0;

		for (k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)in[i + k];

			if (c == '=' && i + 4 == n && k >= 2) {
				pad++;
				v[k] = 0;
				continue;
			}
			if (pad || (v[k] = b64_val(c)) < 0)
				return -1;
		}
		w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
		    (uint32_t)v[2] << 6 | (uint32_t)v[3];
		if (o + (size_t)(3 - pad) > outsize)
			return -1;
		out[o++] = (unsigned char)(w >> 16);
		if (pad < 2)
			out[o++] = (unsigned char)(w >> 8);
		if (pad < 1)
			out[o++] = (unsigned char)w;
	}
	*outlen = o;
	return 0;
}

int
b64_encode(const unsigned char *in, size_t n, char *out, size_t outsize)
{
	size_t i, o = 0;

	if (outsize == 0)
		return -1;
	/* ceil(n / 3) * 4 <= outsize - 1, without overflow for a huge n */
	if (n > (outsize - 1) / 4 * 3) {
		out[0] = '\0';
		return -1;
	}
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		    in[i + 2];

		out[o++] = alpha[w >> 18 & 63];
		out[o++] = alpha[w >> 12 & 63];
		out[o++] = alpha[w >> 6 & 63];
		out[o++] = alpha[w & 63];
	}
	if (n - i > 0) {
		uint32_t w = (uint32_t)in[i] << 16;

		if (n - i == 2)
			w |= (uint32_t)in[i + 1] << 8;
		out[o++] = alpha[w >> 18 & 63];
		out[o++] = alpha[w >> 12 & 63];
		out[o++] = n - i == 2 ? alpha[w >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return 0;
}
