/*
 * auth_pam.h - logins for the root monitors only (pam_unix needs root to
 * read shadow): one attempt as pop3d and smtpd make it (auth_password,
 * auth_attempt: throttling, PAM, account checks, logging, the fixed delay
 * of a failure), and the PAM calls underneath. A failed attempt returns
 * only after auth_fail_delay from its start, so an unknown user costs
 * exactly as much as a wrong password.
 */
#ifndef INETMAIL_AUTH_PAM_H
#define INETMAIL_AUTH_PAM_H

#include <stddef.h>
#include <stdint.h>

#define AUTHP_OK	0	/* password right and account usable */
#define AUTHP_PERM	1	/* wrong password, unknown user, account refused */
#define AUTHP_TEMP	2	/* PAM or a backend failed: try again later */
#define AUTHP_REFUSED	3	/* throttled (throttle.h): refused unchecked */

struct mailuser;

/*
 * One password login in a root monitor, for client address ip (the
 * monitor's own view, "pipe" when none) and the name as the client typed
 * it: auth_attempt around auth_pam(conf.pam_service) and
 * auth_account_check. On AUTHP_OK *u is the account. mech names the
 * method in the log ("PLAIN", "USER", ...). pass is never logged.
 */
int	auth_password(const char *ip, const char *user, const char *pass,
	    size_t passlen, const char *mech, struct mailuser *u);

/*
 * One login attempt with any credential check: the throttle's verdict
 * first (AUTHP_REFUSED without checking while ip is blocked, else its
 * growing delay before the check), a user name that is no valid account
 * name fails unchecked, then check(arg, user, u, &why) returns AUTHP_* (why:
 * a short log reason on failure); the attempt is logged (login user= ip=
 * method= status=), a failure waits out auth_fail_delay, and the result
 * is told to the throttle (a temporary failure is not counted).
 */
typedef int (*auth_check_fn)(void *arg, const char *user, struct mailuser *u,
	    const char **why);
int	auth_attempt(const char *ip, const char *user, const char *mech,
	    auth_check_fn check, void *arg, struct mailuser *u);

/*
 * The account checks every login method shares once the credentials are
 * right: an account that exists, not root, uid >= min_uid. AUTHP_*;
 * *why set on failure.
 */
int	auth_account_check(const char *name, struct mailuser *u,
	    const char **why);

/*
 * For a login that checks no Unix password (APOP): whether the account's
 * password entry would let PASS in at all. Refused (AUTHP_PERM, *why set)
 * when the shadow hash is locked (starts with '!': passwd -l, usermod -L),
 * the account has expired (sp_expire), a password change is due (sp_lstchg
 * 0) or the password is older than sp_max days: pam_unix's rules, as its
 * PASS path (pam_authenticate, then pam_acct_mgmt) applies them. Without a
 * shadow entry passwd's field 2 is the hash ('!' locked). AUTHP_TEMP when
 * a lookup fails.
 */
int	auth_password_usable(const char *name, const char **why);

/*
 * pam_acct_mgmt alone, for a login checked without PAM (APOP): the
 * account rules (expired, locked, pam_access, ...) still apply. AUTHP_*.
 */
int	auth_pam_account(const char *service, const char *user,
	    const char *rhost);

/*
 * pam_start(service, user) with the password answering every echo-off
 * prompt, PAM_RHOST set to rhost, then pam_authenticate(PAM_SILENT |
 * PAM_DISALLOW_NULL_AUTHTOK) and pam_acct_mgmt. PAM's own failure delay is
 * replaced by a no-op (auth_fail_wait is the one delay). On AUTHP_OK the
 * name PAM settled on is copied into canon (canonsize bytes). pass is
 * passlen bytes, need not be NUL-terminated, and is never logged.
 */
int	auth_pam(const char *service, const char *user, const char *pass,
	    size_t passlen, const char *rhost, char *canon, size_t canonsize);

/* Sleeps until start_ms (now_ms() clock) + delay_ms has passed. */
void	auth_fail_wait(uint64_t start_ms, uint64_t delay_ms);

#endif
