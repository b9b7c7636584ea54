/*
 * fuzz_queue_record.c - libmail/relay/queue.c record format: qmsg_decode() on
 * any bytes (what a damaged queue.db could hold). Invariants: a decoded
 * record has terminated strings, states in range, at most QUEUE_RCPT_MAX
 * recipients, and re-encodes (qmsg_encode) to exactly the same bytes; a
 * rejected input never leaves memory behind.
 */
#include "fuzz.h"
#include "queue.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qmsg m;
	unsigned char *buf, *enc;
	size_t i, len;

	/* exact-size copy so that an overread is caught */
	buf = malloc(size ? size : 1);
	FUZZ_CHECK(buf != NULL);
	memcpy(buf, data, size);
	memset(&m, 0, sizeof(m));
	if (qmsg_decode("0123456789ABCDEFGHJK", buf, size, &m) == 0) {
		FUZZ_CHECK(memchr(m.sender, '\0', sizeof(m.sender)) != NULL);
		FUZZ_CHECK(memchr(m.auth_user, '\0', sizeof(m.auth_user)) != NULL);
		FUZZ_CHECK(m.nrcpt <= QUEUE_RCPT_MAX);
		FUZZ_CHECK(m.nrcpt == 0 || m.rcpts != NULL);
		for (i = 0; i < m.nrcpt; i++) {
			struct qrcpt *r = &m.rcpts[i];

			FUZZ_CHECK(r->state == QR_PENDING || r->state == QR_SENT ||
			    r->state == QR_FAILED);
			FUZZ_CHECK(memchr(r->addr, '\0', sizeof(r->addr)) != NULL);
			FUZZ_CHECK(memchr(r->status, '\0', sizeof(r->status)) != NULL);
			FUZZ_CHECK(memchr(r->remote, '\0', sizeof(r->remote)) != NULL);
			FUZZ_CHECK(memchr(r->diag, '\0', sizeof(r->diag)) != NULL);
		}
		enc = qmsg_encode(&m, &len);
		FUZZ_CHECK(enc != NULL);
		FUZZ_CHECK(len == size);
		FUZZ_CHECK(memcmp(enc, buf, size) == 0);
		free(enc);
	}
	qmsg_free(&m);
	free(buf);
	return 0;
}
