/*
 * fuzz_index.c - libmail/mailbox/index.c record format: idx_rec_decode() on any
 * bytes (what a damaged or hostile index.db could hold). Invariants: a
 * decoded record re-encodes (idx_rec_encode) to exactly the same bytes, its
 * strings are terminated inside their fields, dir is new/cur and wsize >=
 * size; a rejected input leaves the record zeroed. Also maildir_uidl() on the
 * input as a file name: the UIDL is 1..70 octets of 0x21..0x7e (RFC 1939 7)
 * and the same for the same name.
 */
#include "fuzz.h"
#include "index.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct idx_rec zero;
	struct idx_rec r;
	unsigned char *buf, *enc;
	char *name, uidl[UIDL_MAX + 1], uidl2[UIDL_MAX + 1];
	size_t i, n;
	int len;

	/* exact-size copy so that an overread is caught */
	buf = malloc(size ? size : 1);
	FUZZ_CHECK(buf != NULL);
	memcpy(buf, data, size);
	memset(&r, 0xA5, sizeof(r));
	if (idx_rec_decode(buf, size, &r) == 0) {
		FUZZ_CHECK(memchr(r.name, '\0', sizeof(r.name)) != NULL);
		FUZZ_CHECK(memchr(r.uidl, '\0', sizeof(r.uidl)) != NULL);
		FUZZ_CHECK(memchr(r.from, '\0', sizeof(r.from)) != NULL);
		FUZZ_CHECK(memchr(r.to, '\0', sizeof(r.to)) != NULL);
		FUZZ_CHECK(memchr(r.subject, '\0', sizeof(r.subject)) != NULL);
		FUZZ_CHECK(memchr(r.date, '\0', sizeof(r.date)) != NULL);
		FUZZ_CHECK(memchr(r.msgid, '\0', sizeof(r.msgid)) != NULL);
		FUZZ_CHECK(r.dir == IDX_NEW || r.dir == IDX_CUR);
		FUZZ_CHECK(r.wsize >= r.size);
		FUZZ_CHECK(r.name[0] != '\0' && strchr(r.name, '/') == NULL);
		FUZZ_CHECK(r.uidl[0] != '\0');
		for (i = 0; r.uidl[i] != '\0'; i++)
			FUZZ_CHECK(r.uidl[i] >= 0x21 && r.uidl[i] <= 0x7e);
		enc = malloc(IDX_REC_MAX);
		FUZZ_CHECK(enc != NULL);
		len = idx_rec_encode(&r, enc, IDX_REC_MAX);
		FUZZ_CHECK(len == (int)size);
		FUZZ_CHECK(memcmp(enc, buf, size) == 0);
		/* too small a buffer is refused, never overrun */
		FUZZ_CHECK(idx_rec_encode(&r, enc, size - 1) == -1);
		free(enc);
	} else {
		FUZZ_CHECK(memcmp(&r, &zero, sizeof(r)) == 0);
	}
	free(buf);

	/* The input as a Maildir file name (names are < IDX_NAME_MAX). */
	n = size < IDX_NAME_MAX - 1 ? size : IDX_NAME_MAX - 1;
	name = fuzz_cstr(data, n);
	if (name[0] != '\0') {
		memset(uidl, 0xA5, sizeof(uidl));
		maildir_uidl(name, uidl);
		FUZZ_CHECK(memchr(uidl, '\0', sizeof(uidl)) != NULL);
		n = strlen(uidl);
		FUZZ_CHECK(n >= 1 && n <= UIDL_MAX);
		for (i = 0; i < n; i++)
			FUZZ_CHECK(uidl[i] >= 0x21 && uidl[i] <= 0x7e);
		maildir_uidl(name, uidl2);
		FUZZ_CHECK(strcmp(uidl, uidl2) == 0);
	}
	free(name);
	return 0;
}
