/*
 * policy.c - the policy child: the DNSBL lookup and the greylisting
 * verdicts, out of the root monitor (root parses nothing from the
 * network, DNS included, and writes no store a client's traffic decides).
 *
 * The monitor starts it per connection when a DNSBL or greylisting
 * applies to the client's address: a child as unpriv_user, not chrooted
 * (it needs resolv.conf and greylist_db, which the monitor gives to
 * unpriv_user first), holding no client fd. It looks the client up at
 * once, while the session waits for greet_delay or TLS, and sends the
 * verdict unasked (POL_DNSBL); then it answers POL_GREY questions until
 * the monitor closes its socket. Each verdict is one u32 that the monitor
 * range-checks (a zone number of its own dnsbl_zones; at most
 * greylist_delay seconds); a dead, slow or garbled child counts as a
 * failed lookup: not listed, not greylisted (fail open, as a DNS or store
 * error), logged once.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "dnsbl.h"
#include "greylist.h"
#include "log.h"
#include "privsep.h"
#include "smtpd.h"
#include "user.h"

/* Policy child <-> monitor frames. */
#define POL_DNSBL	1	/* child: u32 zone number, 0 not listed */
#define POL_GREY	2	/* monitor: str sender, str rcpt; child: u32 s */

/* A generous bound on a verdict: a DNSBL lookup is 2 s per name server
 * and zone, a greylist store update waits for the store's lock. */
#define POLICY_TIMEOUT_MS	60000

/* ---- the child (unpriv_user) ---- */

static int
send_u32(int fd, uint32_t type, uint32_t v)
{
	struct ps_frame f;

	ps_init(&f, type);
	ps_put_u32(&f, v);
	return ps_send(fd, &f, -1);
}

static int
policy_child(int fd, void *ip)
{
	char sender[MSG_SENDER_MAX + 1], rcpt[SMTP_PATH_MAX + 1];
	struct ps_frame f;
	struct stat s1, s2;
	int64_t wait;
	int null;

	/* no client fd here: fd 0 and 1 (and 2 when it is the client) go */
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		return 1;
	if (fstat(1, &s1) == 0 && fstat(2, &s2) == 0 && S_ISSOCK(s2.st_mode) &&
	    s1.st_dev == s2.st_dev && s1.st_ino == s2.st_ino)
		(void)dup2(null, 2);
	if (dup2(null, 0) == -1 || dup2(null, 1) == -1 || dup2(fd, 3) != 3)
		return 1;
	close_range(4, ~0U, 0);
	fd = 3;
	if (send_u32(fd, POL_DNSBL, dnsbl_check(ip)) == -1)
		return 1;
	while (ps_recv(fd, &f, -1) == 0) {
		if (f.type != POL_GREY || f.fd != -1 ||
		    ps_get_str(&f, sender, sizeof(sender)) == -1 ||
		    ps_get_str(&f, rcpt, sizeof(rcpt)) == -1 || !ps_done(&f))
			return 1;
		wait = grey_check(ip, sender, rcpt);
		if (send_u32(fd, POL_GREY, (uint32_t)(wait > 0 ? wait : 0)) == -1)
			return 1;
	}
	return 0;
}

/* ---- the monitor's side (root) ---- */

/*
 * 1 when greylist_db may be handed to unpriv_user: never when it is the
 * throttle's store or the queue (by path, or by the same directory), or
 * the login throttle and the queued mail would become the child's.
 */
static int
greylist_dir_separate(void)
{
	const char *other[] = { conf.throttle_db, conf.queue_dir };
	struct stat g, o;
	size_t i;

	for (i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		if (strcmp(conf.greylist_db, other[i]) == 0 ||
		    (stat(conf.greylist_db, &g) == 0 && stat(other[i], &o) == 0 &&
		    g.st_dev == o.st_dev && g.st_ino == o.st_ino)) {
			log_warnx("greylist_db %s is also %s: not handed to "
			    "unpriv_user, greylisting not applied",
			    pr(conf.greylist_db), i == 0 ? "throttle_db" :
			    "queue_dir");
			return 0;
		}
	}
	return 1;
}

void
policy_start(struct policy *p, const char *ip)
{
	struct mailuser u;
	int grey = !grey_exempt(ip);

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	if ((dnsbl_exempt(ip) && !grey) ||
	    user_lookup(conf.unpriv_user, &u) != 0 || u.uid == 0) {
		p->dnsbl_done = 1;
		return;
	}
	/* root's part of greylisting: the store's directory is the child's */
	if (grey && greylist_dir_separate())
		(void)ps_give_dir(conf.greylist_db, u.uid, u.gid);
	p->pid = ps_spawn(u.name, u.uid, u.gid, NULL, 0, policy_child,
	    (void *)ip, &p->fd);
	p->dnsbl_done = p->pid == -1;
}

/* The child is of no more use: fail open from now on. */
static void
policy_lost(struct policy *p, const char *what)
{
	log_warnx("policy child: no %s verdict: not applied", what);
	policy_stop(p);
}

/* Receives the child's u32 verdict of a type; -1 (child stopped) when
 * there is none, or when it is above max. */
static int
verdict(struct policy *p, uint32_t type, uint32_t max, uint32_t *v)
{
	struct ps_frame f;

	if (p->fd == -1)
		return -1;
	if (ps_recv(p->fd, &f, POLICY_TIMEOUT_MS) == -1 || f.type != type ||
	    f.fd != -1 || ps_get_u32(&f, v) == -1 || !ps_done(&f) || *v > max) {
		if (f.fd != -1)
			close(f.fd);
		policy_lost(p, type == POL_DNSBL ? "DNSBL" : "greylist");
		return -1;
	}
	return 0;
}

unsigned
policy_dnsbl(struct policy *p)
{
	char zone[256];
	uint32_t n;

	if (!p->dnsbl_done) {
		p->dnsbl_done = 1;
		/* a zone number is one of our own zones, or it is garbage */
		if (verdict(p, POL_DNSBL, UINT32_MAX, &n) == 0 && n > 0 &&
		    dnsbl_zone(n, zone, sizeof(zone)) == -1)
			policy_lost(p, "DNSBL");
		else if (p->fd != -1)
			p->zone = n;
	}
	return p->zone;
}

int64_t
policy_grey(struct policy *p, const char *sender, const char *rcpt)
{
	struct ps_frame f;
	uint32_t wait;

	(void)policy_dnsbl(p);	/* its verdict comes first */
	if (p->fd == -1)
		return 0;
	ps_init(&f, POL_GREY);
	if (ps_put_str(&f, sender) == -1 || ps_put_str(&f, rcpt) == -1 ||
	    ps_send(p->fd, &f, -1) == -1) {
		policy_lost(p, "greylist");
		return 0;
	}
	/* the wait is in whole seconds, rounded up; greylist_delay is ms */
	if (verdict(p, POL_GREY, (uint32_t)((conf.greylist_delay + 999) / 1000),
	    &wait) == -1)
		return 0;
	return wait;
}

void
policy_stop(struct policy *p)
{
	int status;

	if (p->fd != -1) {
		close(p->fd);
		p->fd = -1;
	}
	if (p->pid > 0) {
		/* a lookup in flight is of no use any more */
		kill(p->pid, SIGKILL);
		while (waitpid(p->pid, &status, 0) == -1 && errno == EINTR)
			;
		p->pid = 0;
	}
}
