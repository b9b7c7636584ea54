/*
 * throttle.h - abuse resistance across connections: a shared store of
 * recent login failures (per address, per /24 or /64 prefix, per user
 * name) and of live connections per address, so that one short-lived
 * process per connection can still remember an attacker.
 *
 * Storage (DESIGN.md "Berkeley DB index", the same recipe as index.c):
 * throttle_db is a directory holding `lock` (flock(2), exclusive, held only
 * for one short operation), the logs of a private transactional environment
 * and throttle.db, a BTREE. Only root opens it: the daemons' monitors and
 * maildb; the unprivileged session children never do. A kill -9 at any
 * instant leaves a store the next opener recovers; a damaged store is
 * discarded and started empty (it holds nothing that must survive).
 *
 * Every daemon entry point fails open: when the store cannot be used the
 * error is logged and the connection or login proceeds unthrottled.
 * Addresses in throttle_exempt, and "pipe" (no socket), are never
 * throttled and never touch the store.
 */
#ifndef INETMAIL_THROTTLE_H
#define INETMAIL_THROTTLE_H

#include <stdint.h>
#include <sys/types.h>

/* A verdict before a login attempt (thr_auth_check). */
struct thr_verdict {
	int		 refuse;	/* blocked: answer without checking */
	unsigned	 delay_ms;	/* else: wait this long before checking */
	int64_t		 until;		/* refuse: Unix time the block ends */
	const char	*reason;	/* ip_blocked, net_blocked, ... */
};

/* 1 when ip is exempt (throttle_exempt, "pipe" but no other
 * non-address, or throttling is off). */
int	thr_exempt(const char *ip);

/*
 * Before a login attempt from ip for user (as typed; may be ""): refuse
 * while ip or its prefix is blocked, else a delay growing with the recent
 * failures of ip, its prefix and user (capped at auth_penalty_max). Logs
 * event=throttled. Never fails: an unusable store gives "go on, no delay".
 */
void	thr_auth_check(const char *ip, const char *user, struct thr_verdict *);
/*
 * After a login attempt: ok clears ip's failures (not the prefix's or the
 * user's, which decay); a failure counts against all three and logs
 * event=auth_fail. Failures beyond auth_fail_limit block ip for
 * auth_fail_window (4 x the limit blocks the prefix).
 */
void	thr_auth_result(const char *ip, const char *user, int ok);

/*
 * At the start of a connection, in the process that lives as long as the
 * connection (the monitor): counts the connection rate and registers pid
 * as a live connection of ip. Returns 0 go on, 1 over a limit (*reason set,
 * event=throttled logged; nothing registered). thr_conn_leave unregisters;
 * a pid that died without leaving is pruned by the next enter (kill(pid,0)
 * and its start time in /proc, against pid reuse).
 */
int	thr_conn_enter(const char *ip, pid_t pid, const char **reason);
void	thr_conn_leave(const char *ip, pid_t pid);

/* ---- the store itself (maildb, tests) ---- */

struct thr;

/* One entry as listed: key ("ip:ADDR", "net:PREFIX", "user:NAME",
 * "rate:ADDR", "live:ADDR"), its decayed count (live: pids alive), last
 * seen and blocked-until as Unix times (0 = never/not blocked). */
struct thr_entry {
	char		 key[320];
	double		 count;
	int64_t		 last;
	int64_t		 until;
};

#define THR_CREATE	0x01	/* create the directory (root:root 0700) */
/* Opens the store in dir, taking its lock (waiting). -1 errno set, logged. */
int	thr_open(struct thr **, const char *dir, int flags);
/* Checkpoints, closes, marks clean, unlocks. Sets *t to NULL. */
int	thr_close(struct thr **);
/* Calls fn for every entry still in effect, in key order. */
int	thr_list(struct thr *, int (*fn)(const struct thr_entry *, void *),
	    void *);
/* Removes every entry about what (an address, a prefix, or a user name):
 * returns how many, or -1. */
int	thr_clear(struct thr *, const char *what);

/*
 * The same crash-safe store holding other records: dbname is the file in
 * dir (thr_open uses "throttle.db"), name prefixes its log lines. Records
 * are text keys and opaque values; every access below happens in the one
 * transaction of thr_begin (or autocommits without it) until thr_commit.
 */
int	thr_open_db(struct thr **, const char *dir, const char *dbname,
	    const char *name, int flags);
int	thr_begin(struct thr *);
/* Commits (ok) or aborts the transaction; thr_close aborts an open one. */
int	thr_commit(struct thr *, int ok);
/* 0 found (*val malloc'd, the caller frees it), 1 absent, -1 error. */
int	thr_get(struct thr *, const char *key, unsigned char **val,
	    size_t *len);
int	thr_put(struct thr *, const char *key, const void *val, size_t len);
int	thr_del(struct thr *, const char *key);	/* absent is no error */
/* fn for every record in key order (keys cut at THR_WALK_KEY_MAX - 1):
 * returns 0 keep going, 1 delete this record, -1 stop. */
#define THR_WALK_KEY_MAX 1024
int	thr_walk(struct thr *, int (*fn)(const char *key,
	    const unsigned char *val, size_t len, void *), void *);

#endif
