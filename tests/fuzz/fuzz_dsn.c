/*
 * fuzz_dsn.c - libmail/relay/dsn.c: the bounce built from hostile parts (the
 * original header as received, and the remote servers' replies kept in
 * the queue record). Input: NUL-separated fields: the header, then per
 * failed recipient (up to 4) its address, status, remote host and
 * diagnostic. Invariants: every part boundary line of the report is one
 * of ours (3 part starts, 1 end, in that order), and nothing from the
 * input ends up as a NUL or a CR in the report.
 */
#include <sys/mman.h>

#include "fuzz.h"
#include "buf.h"
#include "dsn.h"
#include "util.h"

/* The next NUL-terminated field of the input (the rest when none). */
static const char *
field(const uint8_t **p, const uint8_t *end, size_t *len)
{
	const uint8_t *s = *p, *z = memchr(s, 0, (size_t)(end - s));

	*len = (size_t)((z ? z : end) - s);
	*p = z ? z + 1 : end;
	return (const char *)s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	struct qrcpt r[4];
	struct qmsg m;
	struct buf out;
	const char *h, *f, *b, *e;
	char boundary[100], line[120];
	size_t hlen, n, k, starts = 0, ends = 0;
	int fd;

	memset(&m, 0, sizeof(m));
	memset(r, 0, sizeof(r));
	str_copy(m.id, sizeof(m.id), "0123456789ABCDEFGHJK");
	str_copy(m.sender, sizeof(m.sender), "alice@example.org");
	m.arrival = 1700000000;
	m.rcpts = r;
	h = field(&p, end, &hlen);
	fd = memfd_create("hdr", 0);
	FUZZ_CHECK(fd != -1);
	FUZZ_CHECK(write(fd, h, hlen) == (ssize_t)hlen);
	for (m.nrcpt = 0; m.nrcpt < 4 && p < end; m.nrcpt++) {
		struct qrcpt *q = &r[m.nrcpt];
		char *dst[4] = { q->addr, q->status, q->remote, q->diag };
		size_t cap[4] = { sizeof(q->addr), sizeof(q->status),
		    sizeof(q->remote), sizeof(q->diag) };

		q->state = QR_FAILED;
		for (k = 0; k < 4; k++) {
			f = field(&p, end, &n);
			if (n >= cap[k])
				n = cap[k] - 1;
			memcpy(dst[k], f, n);
		}
		if (!dsn_status_ok(q->status))
			str_copy(q->status, sizeof(q->status), "5.0.0");
	}
	buf_init(&out, DSN_SIZE_MAX);
	if (dsn_build(&out, &m, fd, "mx.example.org", 1700000100) == 0) {
		FUZZ_CHECK(memchr(out.ptr, '\0', out.len) == NULL);
		FUZZ_CHECK(memchr(out.ptr, '\r', out.len) == NULL);
		b = memmem(out.ptr, out.len, "boundary=\"", 10);
		FUZZ_CHECK(b != NULL);
		b += 10;
		e = memchr(b, '"', (size_t)(out.ptr + out.len - b));
		FUZZ_CHECK(e != NULL && (size_t)(e - b) < sizeof(boundary));
		memcpy(boundary, b, (size_t)(e - b));
		boundary[e - b] = '\0';
		str_fmt(line, sizeof(line), "\n--%s", boundary);
		for (b = out.ptr; (b = memmem(b, (size_t)(out.ptr + out.len - b),
		    line, strlen(line))) != NULL; b += strlen(line)) {
			const char *t = b + strlen(line);

			if (t + 2 < out.ptr + out.len && t[0] == '-' && t[1] == '-') {
				ends++;
				FUZZ_CHECK(starts == 3);
			} else {
				FUZZ_CHECK(*t == '\n');
				starts++;
			}
		}
		FUZZ_CHECK(starts == 3 && ends == 1);
	}
	buf_free(&out);
	close(fd);
	return 0;
}
