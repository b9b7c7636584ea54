/*
 * fuzz_smtp_reply.c - libmail/relay/smtpc_reply.c: the parser of replies from
 * remote SMTP servers (every octet a remote server sends the outbound
 * client goes through it) and the DATA encoding.
 *
 * Input: byte 0 selects the mode. Even: the rest is a stream of reply
 * lines split at LF (a CR before the LF is dropped, as lineio does); each
 * line is copied into a buffer of exactly its size and fed to
 * smtpc_reply_line() until a reply ends or fails, then a new reply
 * starts. An independent model of the documented grammar (smtpc.h) must
 * agree on every result, and the parsed reply must hold: code 200..599
 * equal to the lines' code, nlines <= SMTPC_LINES_MAX, text NUL-terminated,
 * printable ASCII, starting with the code; status "" or "C.d{1,3}.d{1,3}"
 * of the code's class; no line accepted after the end.
 * Odd: the rest is a message; it is encoded in chunks of seeded sizes and
 * ended, and must decode (CR LF -> LF, leading dot removed, up to the
 * final ".") back to the message (plus a LF if it did not end in one),
 * never hold a bare LF, a line "." before the end, or more than 2x + 5
 * octets.
 */
#include "fuzz.h"
#include "smtpc.h"

/* The grammar, written independently: 1 if line l is acceptable after
   `prev` lines of code `code`. */
static int
model_ok(const uint8_t *l, size_t len, unsigned prev, int code)
{
	int c;

	if (len > SMTPC_LINE_MAX || len < 3)
		return 0;
	if (!(l[0] >= '2' && l[0] <= '5' && l[1] >= '0' && l[1] <= '5' &&
	    l[2] >= '0' && l[2] <= '9'))
		return 0;
	if (len > 3 && l[3] != ' ' && l[3] != '-')
		return 0;
	c = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
	if (prev > 0 && c != code)
		return 0;
	return prev < SMTPC_LINES_MAX;
}

static void
check_reply(const struct smtpc_reply *r)
{
	size_t n = strnlen(r->text, sizeof(r->text)), i, k;
	const char *s = r->status;

	FUZZ_CHECK(n < sizeof(r->text));
	FUZZ_CHECK(r->code >= 200 && r->code <= 599);
	FUZZ_CHECK(r->nlines >= 1 && r->nlines <= SMTPC_LINES_MAX);
	for (i = 0; i < n; i++)
		FUZZ_CHECK(r->text[i] >= 0x20 && r->text[i] <= 0x7e);
	FUZZ_CHECK(n >= 3 && r->text[0] == '0' + r->code / 100 &&
	    r->text[1] == '0' + r->code / 10 % 10 && r->text[2] == '0' + r->code % 10);
	FUZZ_CHECK(strnlen(s, sizeof(r->status)) < sizeof(r->status));
	if (s[0] != '\0') {
		FUZZ_CHECK(s[0] == '0' + r->code / 100 && s[1] == '.');
		for (i = 2, k = 0; s[i] >= '0' && s[i] <= '9'; i++)
			k++;
		FUZZ_CHECK(k >= 1 && k <= 3 && s[i] == '.');
		for (i++, k = 0; s[i] >= '0' && s[i] <= '9'; i++)
			k++;
		FUZZ_CHECK(k >= 1 && k <= 3 && s[i] == '\0');
	}
	if (!(r->ext & SMTPC_EXT_SIZE))
		FUZZ_CHECK(r->size_max == 0);
}

static void
replies(const uint8_t *d, size_t size)
{
	struct smtpc_reply r;
	size_t pos = 0;
	int code = 0, res = SR_DONE;
	unsigned prev = 0;

	smtpc_reply_init(&r);
	while (pos < size) {
		const uint8_t *nl = memchr(d + pos, '\n', size - pos);
		size_t len = nl ? (size_t)(nl - (d + pos)) : size - pos;
		char *line;
		int want;

		if (len > 0 && nl && d[pos + len - 1] == '\r')
			len--;
		line = malloc(len ? len : 1);	/* exactly len: ASan sees overreads */
		FUZZ_CHECK(line != NULL);
		memcpy(line, d + pos, len);
		pos = nl ? (size_t)(nl - d) + 1 : size;

		want = model_ok((const uint8_t *)line, len, prev, code);
		res = smtpc_reply_line(&r, line, len);
		if (!want) {
			FUZZ_CHECK(res == SR_ERROR);
			FUZZ_CHECK(r.error[0] != '\0');
			/* no line is accepted after an error */
			FUZZ_CHECK(smtpc_reply_line(&r, "250 x", 5) == SR_ERROR);
		} else {
			int last = len == 3 || line[3] == ' ';

			FUZZ_CHECK(res == (last ? SR_DONE : SR_MORE));
			code = r.code;
			prev++;
			FUZZ_CHECK(r.nlines == prev);
			check_reply(&r);
			if (last)
				FUZZ_CHECK(smtpc_reply_line(&r, "250 x", 5) == SR_ERROR);
		}
		free(line);
		if (res != SR_MORE) {
			smtpc_reply_init(&r);
			prev = 0;
			code = 0;
		}
	}
}

static void
encoding(const uint8_t *d, size_t size)
{
	struct smtpc_dot dot;
	char *out = malloc(2 * size + 5), *back;
	size_t o = 0, i, b = 0, chunk;
	uint32_t seed = size > 0 ? d[0] : 1;

	FUZZ_CHECK(out != NULL);
	smtpc_dot_init(&dot);
	for (i = 0; i < size; i += chunk) {
		seed = seed * 1103515245u + 12345u;
		chunk = 1 + (seed >> 16) % 64;
		if (chunk > size - i)
			chunk = size - i;
		o += smtpc_dot_encode(&dot, (const char *)d + i, chunk, out + o);
		FUZZ_CHECK(o <= 2 * (i + chunk));
	}
	o += smtpc_dot_end(&dot, out + o);
	FUZZ_CHECK(o <= 2 * size + 5);
	FUZZ_CHECK(o >= 3 && memcmp(out + o - 3, ".\r\n", 3) == 0);
	FUZZ_CHECK(o == 3 || (o >= 5 && out[o - 5] == '\r' && out[o - 4] == '\n'));
	/* decode as a receiving server does */
	back = malloc(o + 1);
	FUZZ_CHECK(back != NULL);
	i = 0;
	for (;;) {
		const char *crlf = NULL;
		size_t j, len;

		for (j = i; j + 1 < o; j++)
			if (out[j] == '\r' && out[j + 1] == '\n') {
				crlf = out + j;
				break;
			}
		FUZZ_CHECK(crlf != NULL);	/* the data ends with a line */
		len = (size_t)(crlf - (out + i));
		FUZZ_CHECK(memchr(out + i, '\n', len) == NULL);	/* no bare LF */
		if (len == 1 && out[i] == '.') {
			FUZZ_CHECK(i + 3 == o);	/* "." only at the very end */
			break;
		}
		if (len > 0 && out[i] == '.') {
			FUZZ_CHECK(len >= 2 && out[i + 1] == '.');
			i++, len--;
		}
		memcpy(back + b, out + i, len);
		b += len;
		back[b++] = '\n';
		i += len + 2;
	}
	FUZZ_CHECK(b == size + (size > 0 && d[size - 1] != '\n'));
	FUZZ_CHECK(memcmp(back, d, size) == 0);
	free(back);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 100000)
		return 0;
	if (data[0] & 1)
		encoding(data + 1, size - 1);
	else
		replies(data + 1, size - 1);
	return 0;
}
