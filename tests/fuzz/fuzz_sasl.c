/*
 * fuzz_sasl.c - libmail/base/sasl.c, the SASL PLAIN/LOGIN response parsing
 * behind smtpd's and pop3d's AUTH, on its own (fuzz_pop3_preauth drives it
 * through a whole POP3 session; this target reaches every buffer size).
 *
 * Input: byte 0 bit 0 picks the mechanism (PLAIN, LOGIN), bit 1 whether
 * the exchange starts without an initial response; byte 1 the size of the
 * decode buffer (0..255), byte 2 the size of the user buffer (1..64); the
 * rest is the client's responses, one per line. Every buffer is malloc'ed
 * at exactly its size, so ASan sees any read or write past it.
 *
 * Invariants: results are from the documented set; a challenge comes
 * exactly with SASL_CONTINUE, is one of the three, and at most one (PLAIN)
 * or two (LOGIN) are asked for; once the exchange ended every further
 * step is SASL_MALFORMED; the user name is terminated inside its buffer;
 * the password lies inside the decode buffer; PLAIN's result agrees with
 * an independent split of the decoded message (exactly two NULs, the
 * authcid when it fits and the authzid is empty or equal); sasl_decode
 * agrees with b64_decode and never reports more than the buffer; the whole
 * exchange run twice on fresh buffers gives the same results and bytes;
 * sasl_split and sasl_user keep their contracts.
 */
#include <strings.h>

#include "base64.h"
#include "fuzz.h"
#include "sasl.h"

#define MAX_STEPS	8

struct run {
	int		 r[MAX_STEPS];
	size_t		 nsteps;
	char		*user;
	unsigned char	*buf;
	size_t		 passoff, passlen;
};

static void
check_decode(const char *resp, size_t bufsize)
{
	unsigned char *out = malloc(bufsize), *ref;
	size_t n = 99, rn = 0;
	int r, rr;

	r = sasl_decode(resp, out, bufsize, &n);
	FUZZ_CHECK(r == SASL_OK || r == SASL_CANCEL || r == SASL_BAD_BASE64);
	FUZZ_CHECK(n <= bufsize);
	FUZZ_CHECK(r == SASL_OK || n == 0);
	if (strcmp(resp, "*") == 0)
		FUZZ_CHECK(r == SASL_CANCEL);
	else if (strcmp(resp, "=") == 0)
		FUZZ_CHECK(r == SASL_OK && n == 0);
	else {
		ref = malloc(bufsize);
		rr = b64_decode(resp, ref, bufsize, &rn);
		FUZZ_CHECK((rr == 0) == (r == SASL_OK));
		FUZZ_CHECK(r != SASL_OK || (rn == n && memcmp(ref, out, n) == 0));
		free(ref);
	}
	free(out);
}

/* An independent PLAIN split of the decoded response resp. */
static void
check_plain(const char *resp, const char *user, size_t usersize,
    size_t passlen)
{
	unsigned char *d = malloc(strlen(resp) + 1);
	size_t n = 0, i, nul[3], k = 0;

	if (strcmp(resp, "=") != 0)
		FUZZ_CHECK(b64_decode(resp, d, strlen(resp) + 1, &n) == 0);
	for (i = 0; i < n; i++)
		if (d[i] == '\0' && k < 3)
			nul[k++] = i;
	FUZZ_CHECK(k == 2);
	FUZZ_CHECK(passlen == n - nul[1] - 1);
	if (nul[1] - nul[0] - 1 < usersize && (nul[0] == 0 ||
	    (nul[0] == nul[1] - nul[0] - 1 &&
	    memcmp(d, d + nul[0] + 1, nul[0]) == 0))) {
		FUZZ_CHECK(strlen(user) == nul[1] - nul[0] - 1);
		FUZZ_CHECK(memcmp(user, d + nul[0] + 1, strlen(user)) == 0);
	} else
		FUZZ_CHECK(user[0] == '\0');
	free(d);
}

static void
exchange(struct run *run, int mech, int no_ir, char **resp, size_t nresp,
    size_t bufsize, size_t usersize)
{
	struct sasl x;
	const char *ch, *last = NULL;
	size_t i = 0, nchal = 0;
	int r, ended = 0;

	run->buf = malloc(bufsize);
	run->user = malloc(usersize);
	run->nsteps = 0;
	run->passoff = run->passlen = 0;
	sasl_start(&x, mech, run->buf, bufsize, run->user, usersize);
	FUZZ_CHECK(run->user[0] == '\0');
	while (run->nsteps < MAX_STEPS) {
		const char *in = NULL;

		if (!(no_ir && run->nsteps == 0)) {
			if (i >= nresp)
				break;
			in = resp[i++];
		}
		r = sasl_step(&x, in, &ch);
		run->r[run->nsteps++] = r;
		FUZZ_CHECK(memchr(run->user, '\0', usersize) != NULL);
		if (ended) {
			FUZZ_CHECK(r == SASL_MALFORMED && ch == NULL);
			continue;
		}
		FUZZ_CHECK(r >= SASL_OK && r <= SASL_MALFORMED);
		if (r == SASL_CONTINUE) {
			FUZZ_CHECK(ch != NULL);
			FUZZ_CHECK(strcmp(ch, "") == 0 ||
			    strcmp(ch, "VXNlcm5hbWU6") == 0 ||
			    strcmp(ch, "UGFzc3dvcmQ6") == 0);
			FUZZ_CHECK(mech == SASL_LOGIN || strcmp(ch, "") == 0);
			FUZZ_CHECK(++nchal <= (mech == SASL_PLAIN ? 1u : 2u));
			last = ch;
			continue;
		}
		FUZZ_CHECK(ch == NULL);
		ended = 1;
		if (r == SASL_CANCEL)
			FUZZ_CHECK(in != NULL && strcmp(in, "*") == 0);
		if (r != SASL_OK)
			continue;
		FUZZ_CHECK(in != NULL);
		FUZZ_CHECK(strlen(run->user) < usersize);
		FUZZ_CHECK(x.pass >= run->buf && x.passlen <= bufsize &&
		    (size_t)(x.pass - run->buf) <= bufsize - x.passlen);
		run->passoff = (size_t)(x.pass - run->buf);
		run->passlen = x.passlen;
		if (mech == SASL_PLAIN) {
			FUZZ_CHECK(memchr(x.pass, '\0', x.passlen) == NULL);
			check_plain(in, run->user, usersize, x.passlen);
		} else
			FUZZ_CHECK(last != NULL &&
			    strcmp(last, "UGFzc3dvcmQ6") == 0);
	}
}

static void
check_split(const char *resp, size_t usersize)
{
	char *a = strdup(resp), *ir = NULL;
	const char *u;

	if (a == NULL)
		abort();
	if (sasl_split(a, &ir) == 0) {
		FUZZ_CHECK(strchr(a, ' ') == NULL);
		FUZZ_CHECK(ir == NULL || (*ir != '\0' && strchr(ir, ' ') == NULL));
	}
	free(a);
	u = sasl_user(resp, usersize - 1);
	if (u[0] != '\0') {
		size_t i;

		FUZZ_CHECK(u == resp && strlen(u) <= usersize - 1);
		for (i = 0; u[i] != '\0'; i++)
			FUZZ_CHECK((unsigned char)u[i] >= 0x20 && u[i] != 0x7f);
	}
	FUZZ_CHECK(sasl_mech(resp) == 0 || strcasecmp(resp, sasl_mech_name(
	    sasl_mech(resp))) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *resp[MAX_STEPS], *p;
	size_t nresp = 0, bufsize, usersize, i;
	struct run a, b;
	int mech, no_ir;

	if (size < 3 || size > 8192)
		return 0;
	mech = data[0] & 1 ? SASL_LOGIN : SASL_PLAIN;
	no_ir = (data[0] & 2) != 0;
	bufsize = data[1];
	usersize = 1 + data[2] % 64;
	text = fuzz_cstr(data + 3, size - 3);
	for (p = text; nresp < MAX_STEPS && p != NULL; nresp++) {
		char *nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);

		resp[nresp] = fuzz_cstr((const uint8_t *)p, len);	/* exact */
		p = nl != NULL ? nl + 1 : NULL;
	}
	for (i = 0; i < nresp; i++) {
		check_decode(resp[i], bufsize);
		check_split(resp[i], usersize);
	}
	exchange(&a, mech, no_ir, resp, nresp, bufsize, usersize);
	exchange(&b, mech, no_ir, resp, nresp, bufsize, usersize);
	FUZZ_CHECK(a.nsteps == b.nsteps &&
	    memcmp(a.r, b.r, a.nsteps * sizeof(a.r[0])) == 0);
	FUZZ_CHECK(strcmp(a.user, b.user) == 0);
	FUZZ_CHECK(a.passoff == b.passoff && a.passlen == b.passlen);
	FUZZ_CHECK(a.passlen == 0 || memcmp(a.buf + a.passoff,
	    b.buf + b.passoff, a.passlen) == 0);
	free(a.buf);
	free(a.user);
	free(b.buf);
	free(b.user);
	for (i = 0; i < nresp; i++)
		free(resp[i]);
	free(text);
	return 0;
}
