/*
 * test_privsep.c - monitor frames: round trip with an fd, the readers'
 * bounds, and rejection of malformed frames (truncated, extra fds).
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "privsep.h"

int
main(void)
{
	struct ps_frame f, g;
	char s[32], big[PS_PAYLOAD_MAX + 100];
	uint32_t v;
	int sv[2], p[2];

	CHECK(ps_pair(sv) == 0, "socketpair");
	pipe(p);
	ps_init(&f, 7);
	CHECK(ps_put_u32(&f, 42) == 0 && ps_put_str(&f, "alice@example.test") == 0,
	    "build frame");
	CHECK(ps_send(sv[0], &f, p[0]) == 0, "send with fd");
	CHECK(ps_recv(sv[1], &g, 1000) == 0 && g.type == 7 && g.fd >= 0, "receive with fd");
	CHECK(ps_get_u32(&g, &v) == 0 && v == 42, "u32");
	CHECK(ps_get_str(&g, s, sizeof(s)) == 0 && strcmp(s, "alice@example.test") == 0,
	    "string");
	CHECK(ps_done(&g), "frame fully read");
	CHECK(ps_get_u32(&g, &v) == -1, "no read past the end");
	write(p[1], "x", 1);
	CHECK(read(g.fd, s, 1) == 1 && s[0] == 'x', "passed fd works");
	close(g.fd);

	/* A string longer than the reader allows, or with a control byte. */
	ps_init(&f, 1);
	ps_put_str(&f, "0123456789");
	ps_send(sv[0], &f, -1);
	ps_recv(sv[1], &g, 1000);
	CHECK(ps_get_str(&g, s, 5) == -1, "string over max refused");
	ps_init(&f, 1);
	ps_put_str(&f, "a\nb");
	ps_send(sv[0], &f, -1);
	ps_recv(sv[1], &g, 1000);
	CHECK(ps_get_str(&g, s, sizeof(s)) == -1, "control byte refused");

	/* A length field that lies. */
	ps_init(&f, 1);
	v = 1000;
	ps_put_u32(&f, v);
	ps_put_bytes(&f, "abc", 3);
	ps_send(sv[0], &f, -1);
	ps_recv(sv[1], &g, 1000);
	CHECK(ps_get_str(&g, s, sizeof(s)) == -1, "length past the frame refused");

	/* An oversized datagram is truncated and dropped. */
	memset(big, 'a', sizeof(big));
	CHECK(send(sv[0], big, sizeof(big), 0) == (ssize_t)sizeof(big), "send oversized");
	CHECK(ps_recv(sv[1], &g, 1000) == -1, "oversized frame refused");

	/* A frame with two fds is refused and both are closed. */
	{
		struct msghdr msg;
		struct iovec iov;
		union { struct cmsghdr h; char b[CMSG_SPACE(2 * sizeof(int))]; } cm;
		struct cmsghdr *c;
		uint32_t type = 3;
		int fds[2] = { p[0], p[1] };

		memset(&msg, 0, sizeof(msg));
		memset(&cm, 0, sizeof(cm));
		iov.iov_base = &type;
		iov.iov_len = sizeof(type);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cm.b;
		msg.msg_controllen = sizeof(cm.b);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(2 * sizeof(int));
		memcpy(CMSG_DATA(c), fds, sizeof(fds));
		sendmsg(sv[0], &msg, 0);
		CHECK(ps_recv(sv[1], &g, 1000) == -1 && g.fd == -1, "two fds refused");
	}
	CHECK(ps_recv(sv[1], &g, 100) == -1, "timeout when nothing comes");
	close(sv[0]);
	CHECK(ps_recv(sv[1], &g, 1000) == -1, "EOF");
	return CHECK_DONE();
}
