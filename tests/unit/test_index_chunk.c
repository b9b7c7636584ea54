/*
 * test_index_chunk.c - index.c's record chunks (idx_iter's copy of every
 * record) with a chunk smaller than a record: the accounting must not
 * depend on records being capped below ITER_CHUNK (issue 16). White box:
 * index.c is compiled in here with ITER_CHUNK set to 64 bytes, so its
 * static iter_room() is reachable; every other idx_* symbol comes from
 * this copy too, and libmailbox.a's index.o is never linked.
 */
#define ITER_CHUNK	64
#include "../../libmail/mailbox/index.c"

#include "check.h"

/* p..p+len lies inside one chunk of l. */
static int
inside(const struct iter_list *l, const unsigned char *p, size_t len)
{
	const unsigned char *c = l->chunks[l->nchunks - 1];

	return p >= c && p + len <= c + l->size;
}

int
main(void)
{
	struct iter_list l;
	unsigned char *p;
	size_t i;
	int ok = 1;

	memset(&l, 0, sizeof(l));
	p = iter_room(&l, 100);
	CHECK(l.nchunks == 1 && p == l.chunks[0] && inside(&l, p, 100),
	    "a record longer than a chunk: a chunk of its own");
	memset(p, 'a', 100);
	p = iter_room(&l, 10);
	CHECKF(l.nchunks == 2 && p == l.chunks[1] && inside(&l, p, 10),
	    "the next record does not go after it (%zu chunks)", l.nchunks);
	memset(p, 'b', 10);
	p = iter_room(&l, 50);
	CHECK(l.nchunks == 2 && p == l.chunks[1] + 10 && inside(&l, p, 50),
	    "a record that fits shares the chunk");
	p = iter_room(&l, 10);
	CHECK(l.nchunks == 3 && p == l.chunks[2] && inside(&l, p, 10),
	    "one that does not fit gets the next chunk");
	for (i = 0; i < 100; i++)
		ok &= l.chunks[0][i] == 'a';
	CHECK(ok && l.chunks[1][0] == 'b', "earlier records left intact");
	for (i = 0; i < l.nchunks; i++)
		free(l.chunks[i]);
	free(l.chunks);
	return CHECK_DONE();
}
