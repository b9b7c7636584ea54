/*
 * fuzz_pop3_preauth.c - the whole pre-authentication POP3 session
 * (pop3d/preauth.c + common.c + libmail/base/sasl.c): the line policy,
 * the AUTHORIZATION command table and the dispatcher, USER/PASS, APOP,
 * AUTH PLAIN/LOGIN with their base64 SASL exchanges - exactly the code
 * that faces the internet before login. The
 * client input (all of it, then EOF) arrives on fd 0, replies go to a memfd
 * on fd 1, and a fake monitor has three "authentication failed" answers
 * queued (three failures end the session, so no more are ever needed).
 *
 * Input: byte 0 bit 0 = APOP on (a greeting timestamp), the rest the client
 * stream. Invariants: every reply line is at most 512 octets with CRLF and
 * starts "+OK", "-ERR", "+ " or belongs to a CAPA/AUTH list; every login
 * request the monitor receives is a well-formed frame (type POP_REQ_AUTH or
 * POP_REQ_APOP, clean user name of at most USER_NAME_MAX, password length that
 * matches, a known mechanism, nothing trailing); the pipelined input handed
 * over with it is exactly the tail of what the client sent; at most three
 * requests. The TRANSACTION handlers (pop3d/maildrop.c) are not even
 * linked: each state has its own command table, so none can be reached.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz.h"
#include "pop3d.h"
#include "privsep.h"

static void
check_replies(int fd, int apop)
{
	static char out[1 << 20];
	ssize_t n = pread(fd, out, sizeof(out) - 1, 0);
	char *p, *nl;
	int in_list = 0;

	FUZZ_CHECK(n >= 0);
	out[n] = '\0';
	if (getenv("FUZZ_DEBUG") != NULL)
		fprintf(stderr, "--- replies:\n%s---\n", out);
	FUZZ_CHECK(strncmp(out, "+OK inetmail POP3 server ready", 30) == 0);
	if (apop)
		FUZZ_CHECK(strstr(out, "<1234.5678@mx.test>\r\n") != NULL);
	for (p = out; *p != '\0'; p = nl + 1) {
		nl = strstr(p, "\r\n");
		FUZZ_CHECK(nl != NULL);		/* every reply ends in CRLF */
		FUZZ_CHECK(nl - p + 2 <= 512);
		FUZZ_CHECK(memchr(p, '\n', (size_t)(nl - p)) == NULL);
		nl++;
		if (in_list) {
			if (p[0] == '.' && p[1] == '\r')
				in_list = 0;
			continue;
		}
		if (strncmp(p, "+OK Capability list follows\r", 28) == 0 ||
		    strncmp(p, "+OK\r", 4) == 0) {
			in_list = 1;
			continue;
		}
		FUZZ_CHECK(strncmp(p, "+OK ", 4) == 0 || strncmp(p, "-ERR ", 5) == 0 ||
		    strncmp(p, "+ ", 2) == 0);
	}
	FUZZ_CHECK(!in_list);
}

static void
check_requests(int mfd, const uint8_t *in, size_t inlen)
{
	struct ps_frame f;
	char user[USER_NAME_MAX + 1], mech[16], buf[64];
	unsigned char pass[PS_PAYLOAD_MAX];
	uint32_t plen;
	int nreq = 0;

	while (ps_recv(mfd, &f, 0) == 0) {
		nreq++;
		FUZZ_CHECK(f.type == POP_REQ_AUTH || f.type == POP_REQ_APOP);
		FUZZ_CHECK(ps_get_str(&f, user, sizeof(user)) == 0);
		if (f.type == POP_REQ_AUTH) {
			FUZZ_CHECK(ps_get_u32(&f, &plen) == 0);
			FUZZ_CHECK(plen <= POP3_CMD_MAX);
			FUZZ_CHECK(ps_get_bytes(&f, pass, plen) == 0);
			FUZZ_CHECK(ps_get_str(&f, mech, sizeof(mech)) == 0);
			FUZZ_CHECK(strcmp(mech, "USER") == 0 || strcmp(mech, "PLAIN") == 0 ||
			    strcmp(mech, "LOGIN") == 0);
		} else {
			FUZZ_CHECK(ps_get_str(&f, buf, sizeof(buf)) == 0);
			FUZZ_CHECK(strlen(buf) == 32);
			FUZZ_CHECK(ps_get_str(&f, buf, sizeof(buf)) == 0);
			FUZZ_CHECK(strcmp(buf, "<1234.5678@mx.test>") == 0);
		}
		FUZZ_CHECK(ps_done(&f));
		if (f.fd != -1) {
			/* the unparsed input: exactly a tail of what was sent */
			static unsigned char left[65536];
			ssize_t n = pread(f.fd, left, sizeof(left), 0);

			FUZZ_CHECK(n > 0 && (size_t)n <= inlen);
			FUZZ_CHECK(memcmp(left, in + inlen - (size_t)n, (size_t)n) == 0);
			close(f.fd);
		}
	}
	FUZZ_CHECK(nreq <= POP3_AUTH_TRIES);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init, saved0 = -1, saved1 = -1;
	struct ps_frame f;
	int cv[2], mv[2], ofd, i, apop;

	if (size < 1 || size > 16000)
		return 0;
	if (!init) {
		conf_defaults();
		saved0 = dup(0);
		saved1 = dup(1);
		init = 1;
	}
	apop = data[0] & 1;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, cv) == -1 || ps_pair(mv) == -1)
		abort();
	if (size > 1 && write(cv[1], data + 1, size - 1) != (ssize_t)(size - 1))
		abort();
	shutdown(cv[1], SHUT_WR);
	for (i = 0; i < POP3_AUTH_TRIES; i++) {
		ps_init(&f, POP_ANS_PERM);
		if (ps_send(mv[0], &f, -1) == -1)
			abort();
	}
	if ((ofd = memfd_create("fuzz-pop3-out", MFD_CLOEXEC)) == -1)
		abort();
	fflush(stdout);
	if (dup2(cv[0], 0) == -1 || dup2(ofd, 1) == -1)
		abort();

	preauth_run(mv[1], apop ? "<1234.5678@mx.test>" : NULL);

	dup2(saved0, 0);
	dup2(saved1, 1);
	check_replies(ofd, apop);
	check_requests(mv[0], data + 1, size - 1);
	close(ofd);
	close(cv[0]);
	close(cv[1]);
	close(mv[0]);
	close(mv[1]);
	return 0;
}
