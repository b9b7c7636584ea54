/*
 * smtpc_reply.c - the pure parts of the outbound SMTP client (smtpc.h):
 * the parser of remote replies, which sees every byte a remote server
 * sends us, and the DATA encoding. No I/O, no globals: the unit tests
 * and tests/fuzz/fuzz_smtp_reply.c drive them directly.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "smtpc.h"
#include "util.h"

/* ---- the reply parser ---- */

void
smtpc_reply_init(struct smtpc_reply *r)
{
	memset(r, 0, sizeof(*r));
}

/*
 * Appends len bytes of s to r->text as printable ASCII. What does not fit
 * is cut and the text ends in "..." (a cut text fills the buffer, so that
 * nothing is appended after the cut).
 */
static void
text_add(struct smtpc_reply *r, const char *s, size_t len)
{
	const size_t cap = sizeof(r->text) - 1;
	size_t o = strlen(r->text), take = len, i;
	int cut = 0;

	if (len == 0)
		return;
	if (len > cap - o) {
		take = cap - o > 3 ? cap - o - 3 : 0;
		cut = 1;
	}
	for (i = 0; i < take; i++) {
		unsigned char c = (unsigned char)s[i];

		r->text[o++] = c == '\t' ? ' ' : (c < 0x20 || c > 0x7e) ? '?' : (char)c;
	}
	if (cut) {
		while (o < cap)		/* pad so that the cut text fills cap */
			r->text[o++] = '.';
		memcpy(r->text + cap - 3, "...", 3);
	}
	r->text[o] = '\0';
}

/*
 * Length of an RFC 3463 enhanced status code "c.sss.ddd" at the start of
 * s[0..len) whose class is cls, followed by a space or the end; 0 if none.
 */
static size_t
enh_code(const char *s, size_t len, char cls)
{
	size_t i = 0, n;
	int part;

	if (len < 5 || s[0] != cls || s[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (n = 0; i < len && s[i] >= '0' && s[i] <= '9' && n < 4; i++)
			n++;
		if (n == 0 || n > 3)
			return 0;
		if (part == 0) {
			if (i >= len || s[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < len && s[i] != ' ')
		return 0;
	return i;
}

/* ASCII case-insensitive: s[0..len) == word. */
static int
word_eq(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

/* EHLO keyword lines (RFC 5321 4.1.1.1): "KEYWORD[ params]". */
static void
ehlo_line(struct smtpc_reply *r, const char *s, size_t len)
{
	size_t k, p;

	for (k = 0; k < len && s[k] != ' ' && s[k] != '='; k++)
		;
	if (word_eq(s, k, "STARTTLS"))
		r->ext |= SMTPC_EXT_STARTTLS;
	else if (word_eq(s, k, "SMTPUTF8"))
		r->ext |= SMTPC_EXT_SMTPUTF8;
	else if (word_eq(s, k, "8BITMIME"))
		r->ext |= SMTPC_EXT_8BITMIME;
	else if (word_eq(s, k, "PIPELINING"))
		r->ext |= SMTPC_EXT_PIPELINING;
	else if (word_eq(s, k, "SIZE")) {
		char num[24];
		uint64_t v;

		r->ext |= SMTPC_EXT_SIZE;
		r->size_max = 0;
		if (k < len && s[k] == ' ' && len - k - 1 < sizeof(num)) {
			memcpy(num, s + k + 1, len - k - 1);
			num[len - k - 1] = '\0';
			if (parse_u64(num, UINT64_MAX, &v) == 0)
				r->size_max = v;
		}
	} else if (word_eq(s, k, "AUTH")) {
		/* "AUTH PLAIN LOGIN", or the old "AUTH=PLAIN LOGIN" */
		for (p = k; p < len; ) {
			size_t e;

			while (p < len && (s[p] == ' ' || s[p] == '='))
				p++;
			for (e = p; e < len && s[e] != ' '; e++)
				;
			if (word_eq(s + p, e - p, "PLAIN"))
				r->ext |= SMTPC_EXT_AUTH_PLAIN;
			p = e;
		}
	}
}

static int
reply_error(struct smtpc_reply *r, const char *why)
{
	str_copy(r->error, sizeof(r->error), why);
	return SR_ERROR;
}

int
smtpc_reply_line(struct smtpc_reply *r, const char *line, size_t len)
{
	const char *text;
	size_t tlen, e;
	int code, last;

	if (r->done || r->error[0] != '\0')
		return reply_error(r, "reply line after the end of the reply");
	if (len > SMTPC_LINE_MAX)
		return reply_error(r, "reply line too long");
	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' ||
	    line[1] > '5' || line[2] < '0' || line[2] > '9')
		return reply_error(r, "malformed reply code");
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return reply_error(r, "malformed reply code");
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (r->nlines > 0 && code != r->code)
		return reply_error(r, "different codes in one reply");
	if (r->nlines >= SMTPC_LINES_MAX)
		return reply_error(r, "too many reply lines");
	r->nlines++;
	r->code = code;
	last = len == 3 || line[3] == ' ';
	text = len > 4 ? line + 4 : "";
	tlen = len > 4 ? len - 4 : 0;
	if (r->nlines == 1) {
		text_add(r, line, 3);
		if ((e = enh_code(text, tlen, line[0])) > 0 && e < sizeof(r->status)) {
			memcpy(r->status, text, e);
			r->status[e] = '\0';
		}
	} else {
		ehlo_line(r, text, tlen);
		/* a continuation repeating the code adds nothing */
		if (r->status[0] != '\0' && (e = enh_code(text, tlen, line[0])) > 0 &&
		    e == strlen(r->status) && memcmp(text, r->status, e) == 0) {
			text += e;
			tlen -= e;
			while (tlen > 0 && *text == ' ')
				text++, tlen--;
		}
		if (tlen > 0)
			text_add(r, ";", 1);
	}
	if (tlen > 0) {
		text_add(r, " ", 1);
		text_add(r, text, tlen);
	}
	r->done = last;
	return last ? SR_DONE : SR_MORE;
}

/* ---- DATA encoding ---- */

int
smtpc_reply_verdict(int code)
{
	return code / 100 == 2 ? QR_SENT : code / 100 == 5 ? QR_FAILED :
	    QR_PENDING;
}

void
smtpc_dot_init(struct smtpc_dot *d)
{
	d->bol = 1;
}

size_t
smtpc_dot_encode(struct smtpc_dot *d, const char *in, size_t len, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {	/* @UNSAFE: out holds 2 * len */
		if (d->bol && in[i] == '.')
			out[o++] = '.';
		if (in[i] == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
			d->bol = 1;
		} else {
			out[o++] = in[i];
			d->bol = 0;
		}
	}
	return o;
}

size_t
smtpc_dot_end(struct smtpc_dot *d, char *out)
{
	size_t o = 0;

	if (!d->bol) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	memcpy(out + o, ".\r\n", 3);
	d->bol = 1;
	return o + 3;
}

