/*
 * auth_pam.c - one PAM conversation per login attempt, in the root monitor.
 * The conversation answers echo-off prompts with the password and echo-on
 * prompts with the user name; anything else ends the attempt.
 */
#include <security/pam_appl.h>
#include <stdlib.h>
#include <string.h>

#include "auth_pam.h"
#include "log.h"
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
