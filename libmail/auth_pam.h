/*
 * auth_pam.h - password checks through PAM, for the root monitors only
 * (pam_unix needs root to read shadow). The caller pays a failed attempt's
 * fixed delay with auth_fail_wait, measured from the start of the attempt,
 * so an unknown user costs exactly as much as a wrong password.
 */
#ifndef INETMAIL_AUTH_PAM_H
#define INETMAIL_AUTH_PAM_H

#include <stddef.h>
#include <stdint.h>

#define AUTHP_OK	0	/* password right and account usable */
#define AUTHP_PERM	1	/* wrong password, unknown user, account refused */
#define AUTHP_TEMP	2	/* PAM or a backend failed: try again later */

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
