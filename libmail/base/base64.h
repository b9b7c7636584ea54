/*
 * base64.h - strict base64 (RFC 4648 4) for SASL: the AUTH exchanges of
 * pop3d and smtpd decode client data with it, the SMTP client encodes its
 * own credentials. No line breaks, no white space, no URL alphabet.
 */
#ifndef INETMAIL_BASE64_H
#define INETMAIL_BASE64_H

#include <stddef.h>

/*
 * Decodes the NUL-terminated in: its length a multiple of 4, '=' padding
 * only as the last one or two characters, nothing outside the alphabet.
 * Writes at most outsize bytes. 0 ok (*outlen set), -1 bad input or too
 * long for out.
 */
int	b64_decode(const char *in, unsigned char *out, size_t outsize,
	    size_t *outlen);

/* The encoded length of n bytes, without the NUL. */
#define B64_ENCLEN(n)	(((n) + 2) / 3 * 4)

/*
 * Encodes n bytes of in into out (outsize >= B64_ENCLEN(n) + 1), padded,
 * NUL-terminated. 0 ok, -1 out too small (out then holds "").
 */
int	b64_encode(const unsigned char *in, size_t n, char *out, size_t outsize);

#endif
