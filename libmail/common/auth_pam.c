/*
 * auth_pam.c - login attempts in the root monitors of pop3d and smtpd: one
 * function for the whole attempt (throttle verdict, credential check,
 * account checks, log line, failure delay, throttle record), so both
 * daemons treat a login alike, and the PAM conversation underneath. The
 * conversation answers echo-off prompts with the password and echo-on
 * prompts with the user name; anything else ends the attempt.
 */
#include <security/pam_appl.h>
#include <errno.h>
#include <pwd.h>
#include <shadow.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth_pam.h"
#include "conf.h"
#include "log.h"
#include "throttle.h"
#include "user.h"
#include "util.h"

struct conv_data {
	const char	*user;
	const char	*pass;
	size_t		 passlen;
};

static int
conv(int n, const struct pam_message **msg, struct pam_response **resp,
    void *arg)
{
	struct conv_data *d = arg;
	struct pam_response *r;
	int i;

	*resp = NULL;
	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	if ((r = calloc((size_t)n, sizeof(*r))) == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			r[i].resp = strndup(d->pass, d->passlen);
			break;
		case PAM_PROMPT_ECHO_ON:
			r[i].resp = strdup(d->user);
			break;
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO:
			continue;
		default:
			goto fail;
		}
		if (r[i].resp == NULL)
			goto fail;
	}
	*resp = r;
	return PAM_SUCCESS;
fail:
	for (i = 0; i < n; i++) {
		if (r[i].resp != NULL) {
			explicit_bzero(r[i].resp, strlen(r[i].resp));
			free(r[i].resp);
		}
	}
	free(r);
	return PAM_CONV_ERR;
}

/* PAM_FAIL_DELAY: the monitor's fixed delay is the only one. */
static void
no_delay(int status, unsigned delay, void *arg)
{
	(void)status;
	(void)delay;
	(void)arg;
}

static int
classify(int r)
{
	switch (r) {
	case PAM_SUCCESS:
		return AUTHP_OK;
	case PAM_AUTH_ERR:
	case PAM_USER_UNKNOWN:
	case PAM_PERM_DENIED:
	case PAM_ACCT_EXPIRED:
	case PAM_AUTHTOK_EXPIRED:
	case PAM_NEW_AUTHTOK_REQD:
	case PAM_MAXTRIES:
	case PAM_CRED_INSUFFICIENT:
		return AUTHP_PERM;
	default:
		return AUTHP_TEMP;
	}
}

int
auth_pam(const char *service, const char *user, const char *pass,
    size_t passlen, const char *rhost, char *canon, size_t canonsize)
{
	struct conv_data d = { user, pass, passlen };
	struct pam_conv pc = { conv, &d };
	pam_handle_t *h = NULL;
	const void *item = NULL;
	const char *stage = "start";
	int r, rv;

	if (memchr(pass, '\0', passlen) != NULL)
		return AUTHP_PERM;
	if ((r = pam_start(service, user, &pc, &h)) != PAM_SUCCESS) {
		log_warnx("pam_start %s: error %d", pr(service), r);
		return AUTHP_TEMP;
	}
	(void)pam_set_item(h, PAM_FAIL_DELAY, (const void *)no_delay);
	if (rhost != NULL)
		(void)pam_set_item(h, PAM_RHOST, rhost);
	stage = "authenticate";
	r = pam_authenticate(h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (r == PAM_SUCCESS) {
		stage = "acct_mgmt";
		r = pam_acct_mgmt(h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	}
	if (r == PAM_SUCCESS) {
		stage = "get_item";
		r = pam_get_item(h, PAM_USER, &item);
		if (r == PAM_SUCCESS && (item == NULL ||
		    str_copy(canon, canonsize, item) == -1))
			r = PAM_USER_UNKNOWN;
	}
	rv = classify(r);
	if (rv != AUTHP_OK)
		log_debug("pam %s: %s", stage, pam_strerror(h, r));
	pam_end(h, r);
	return rv;
}

void
auth_fail_wait(uint64_t start_ms, uint64_t delay_ms)
{
	uint64_t now = now_ms(), end = start_ms + delay_ms;

	if (now < end)
		sleep_ms((unsigned)(end - now));
}

int
auth_account_check(const char *name, struct mailuser *u, const char **why)
{
	switch (user_lookup(name, u)) {
	case 0:
		if (u->uid < conf.min_uid || u->uid == 0) {
			*why = "uid_below_min_uid";
			return AUTHP_PERM;
		}
		return AUTHP_OK;
	case 1:
		*why = "no_account";
		return AUTHP_PERM;
	default:
		*why = "account_lookup";
		return AUTHP_TEMP;
	}
}

int
auth_password_usable(const char *name, const char **why)
{
	struct spwd sp, *s = NULL;
	struct passwd pw, *p = NULL;
	char buf[4096];
	long today = (long)(time(NULL) / (60 * 60 * 24));
	int e;

	if ((e = getspnam_r(name, &sp, buf, sizeof(buf), &s)) != 0 &&
	    e != ENOENT) {
		*why = "shadow_lookup";
		return AUTHP_TEMP;
	}
	if (s == NULL) {
		/* no shadow entry: the hash, if any, is passwd's field 2 */
		if ((e = getpwnam_r(name, &pw, buf, sizeof(buf), &p)) != 0 &&
		    e != ENOENT) {
			*why = "account_lookup";
			return AUTHP_TEMP;
		}
		if (p == NULL) {
			*why = "no_account";
			return AUTHP_PERM;
		}
		if (p->pw_passwd[0] == '!') {
			*why = "account_locked";
			return AUTHP_PERM;
		}
		return AUTHP_OK;
	}
	/* pam_unix's rules (passverify.c check_shadow_expiry), the lock
	 * first: its account phase never looks at the hash */
	if (s->sp_pwdp[0] == '!')
		*why = "account_locked";
	else if (s->sp_expire != -1 && today >= s->sp_expire)
		*why = "account_expired";
	else if (s->sp_lstchg == 0)
		*why = "password_change_required";
	else if (s->sp_max != -1 && today - s->sp_lstchg > s->sp_max)
		*why = "password_expired";
	else
		return AUTHP_OK;
	return AUTHP_PERM;
}

int
auth_attempt(const char *ip, const char *user, const char *mech,
    auth_check_fn check, void *arg, struct mailuser *u)
{
	struct thr_verdict tv;
	const char *why = "bad_credentials";
	uint64_t start;
	int r;

	thr_auth_check(ip, user, &tv);
	if (tv.refuse)
		return AUTHP_REFUSED;
	/* the penalty comes before the check, so a client cannot learn the
	 * verdict early by timing out */
	if (tv.delay_ms > 0)
		sleep_ms(tv.delay_ms);
	start = now_ms();
	if (!user_name_ok(user)) {
		why = "bad_name";
		r = AUTHP_PERM;
	} else
		r = check(arg, user, u, &why);
	if (r == AUTHP_OK)
		log_info("login user=%s ip=%s method=%s status=ok", u->name,
		    ip, mech);
	else {
		if (r != AUTHP_TEMP)
			r = AUTHP_PERM;
		auth_fail_wait(start, conf.auth_fail_delay);
		log_info("login user=%s ip=%s method=%s status=%s reason=%s",
		    pr(user), ip, mech, r == AUTHP_TEMP ? "tempfail" : "failed",
		    why);
	}
	if (r != AUTHP_TEMP)
		thr_auth_result(ip, user, r == AUTHP_OK);
	return r;
}

struct pw_check {
	const char	*ip;
	const char	*pass;
	size_t		 passlen;
};

static int
password_check(void *arg, const char *user, struct mailuser *u,
    const char **why)
{
	struct pw_check *c = arg;
	char canon[USER_NAME_MAX + 1];
	int r;

	r = auth_pam(conf.pam_service, user, c->pass, c->passlen, c->ip,
	    canon, sizeof(canon));
	if (r == AUTHP_OK)
		return auth_account_check(canon, u, why);
	*why = r == AUTHP_TEMP ? "pam_error" : "bad_password";
	return r;
}

int
auth_password(const char *ip, const char *user, const char *pass,
    size_t passlen, const char *mech, struct mailuser *u)
{
	struct pw_check c = { ip, pass, passlen };

	return auth_attempt(ip, user, mech, password_check, &c, u);
}

/* PAM conversation for pam_acct_mgmt alone: messages are accepted, any
 * prompt ends the attempt (there is no password to answer with). */
static int
acct_conv(int n, const struct pam_message **msg, struct pam_response **resp,
    void *arg)
{
	int i;

	(void)arg;
	*resp = NULL;
	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	for (i = 0; i < n; i++)
		if (msg[i]->msg_style != PAM_ERROR_MSG &&
		    msg[i]->msg_style != PAM_TEXT_INFO)
			return PAM_CONV_ERR;
	if ((*resp = calloc((size_t)n, sizeof(**resp))) == NULL)
		return PAM_BUF_ERR;
	return PAM_SUCCESS;
}

int
auth_pam_account(const char *service, const char *user, const char *rhost)
{
	struct pam_conv pc = { acct_conv, NULL };
	pam_handle_t *h = NULL;
	int r;

	if ((r = pam_start(service, user, &pc, &h)) != PAM_SUCCESS) {
		log_warnx("pam_start %s: error %d", pr(service), r);
		return AUTHP_TEMP;
	}
	(void)pam_set_item(h, PAM_RHOST, rhost);
	r = pam_acct_mgmt(h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (r != PAM_SUCCESS)
		log_debug("pam acct_mgmt: %s", pam_strerror(h, r));
	pam_end(h, r);
	switch (r) {
	case PAM_SUCCESS:
		return AUTHP_OK;
	case PAM_USER_UNKNOWN:
	case PAM_AUTH_ERR:
	case PAM_PERM_DENIED:
	case PAM_ACCT_EXPIRED:
	case PAM_AUTHTOK_EXPIRED:
	case PAM_NEW_AUTHTOK_REQD:
		return AUTHP_PERM;
	default:
		return AUTHP_TEMP;
	}
}
