/*
 * Retry decisions for requests to a tracking server (see mlf/tracking.h).
 *
 * Backoff follows what MLflow's Python client gets from urllib3 2.x, so a
 * machine tuned with MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR behaves the same with
 * us: the first retry goes out at once (urllib3 sleeps 0 while only one
 * failure is in its history), retry n >= 2 sleeps factor * 2^(n-1) plus a
 * uniform 0..jitter, the sum capped at backoff_max.  With the defaults that
 * is 0, 4, 8, 16, 32, 64, 120 s.  Sending the first retry immediately is right
 * for the common case we retry for: a kept-alive connection the server
 * dropped, or one lost packet.
 *
 * Retry-After is honoured for 429 and 503 (urllib3 also lists 413, which
 * neither it nor we retry).  Unlike urllib3 we cap it at backoff_max: a cron
 * job should fail with a message rather than sleep for hours on a
 * misconfigured proxy's say-so.
 */
#include "mlf/tracking.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int status_is_transient(long status)
{
	switch (status) {
	case 408: case 429: case 500: case 502: case 503: case 504:
		return 1;
	default:
		return 0;
	}
}

/* The server answered before doing any work: safe to resend anything. */
static int status_says_not_done(long status)
{
	return status == 429 || status == 503;
}

static double backoff_delay(const struct mlf_retry_policy *p, int retry_number, double jitter_u)
{
	if (retry_number <= 1)
		return 0.0;
	double d = p->backoff_factor * ldexp(1.0, retry_number - 1);
	if (p->backoff_jitter > 0)
		d += jitter_u * p->backoff_jitter;
	if (p->backoff_max > 0 && d > p->backoff_max)
		d = p->backoff_max;
	return d < 0 ? 0 : d;
}

enum mlf_retry_verdict mlf_retry_decide(const struct mlf_retry_policy *p, int attempt,
					enum mlf_transport transport, long http_status,
					int idempotent, const char *retry_after,
					double jitter_u, double *delay_s)
{
	enum mlf_retry_verdict verdict;

	*delay_s = 0.0;
	switch (transport) {
	case MLF_TRANSPORT_OK:
		if (!status_is_transient(http_status))
			return MLF_RETRY_NO;
		verdict = idempotent || status_says_not_done(http_status)
			? MLF_RETRY_YES : MLF_RETRY_CHECK_FIRST;
		break;
	case MLF_TRANSPORT_NOT_SENT:
		verdict = MLF_RETRY_YES;
		break;
	case MLF_TRANSPORT_LOST:
		verdict = idempotent ? MLF_RETRY_YES : MLF_RETRY_CHECK_FIRST;
		break;
	default:
		return MLF_RETRY_NO;
	}
	if (attempt < 0 || attempt >= p->max_retries)
		return MLF_RETRY_NO;

	*delay_s = backoff_delay(p, attempt + 1, jitter_u);
	if (transport == MLF_TRANSPORT_OK && retry_after && p->respect_retry_after &&
	    status_says_not_done(http_status)) {
		double ra = mlf_retry_after_seconds(retry_after, (long)time(NULL));
		if (ra >= 0) {
			if (p->backoff_max > 0 && ra > p->backoff_max)
				ra = p->backoff_max;
			*delay_s = ra;
		}
	}
	return verdict;
}

/* ---- Retry-After ------------------------------------------------------- */

static const char *const month_names[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static int parse_month(const char **s)
{
	for (int i = 0; i < 12; i++) {
		if (strncmp(*s, month_names[i], 3) == 0) {
			*s += 3;
			return i;
		}
	}
	return -1;
}

/* Read exactly `min`..`max` digits. */
static int parse_digits(const char **s, int min, int max, int *out)
{
	int n = 0, v = 0;
	while (n < max && isdigit((unsigned char)**s)) {
		v = v * 10 + (**s - '0');
		(*s)++;
		n++;
	}
	if (n < min)
		return -1;
	*out = v;
	return 0;
}

static int expect_char(const char **s, char c)
{
	if (**s != c)
		return -1;
	(*s)++;
	return 0;
}

static void skip_spaces(const char **s)
{
	while (**s == ' ')
		(*s)++;
}

static int parse_clock(const char **s, struct tm *tm)
{
	if (parse_digits(s, 2, 2, &tm->tm_hour) || expect_char(s, ':') ||
	    parse_digits(s, 2, 2, &tm->tm_min) || expect_char(s, ':') ||
	    parse_digits(s, 2, 2, &tm->tm_sec))
		return -1;
	return 0;
}

/*
 * The three forms RFC 9110 section 5.6.7 makes recipients accept:
 *   Sun, 06 Nov 1994 08:49:37 GMT    (IMF-fixdate)
 *   Sunday, 06-Nov-94 08:49:37 GMT   (obsolete RFC 850)
 *   Sun Nov  6 08:49:37 1994         (asctime)
 */
static int parse_http_date(const char *s, time_t *out)
{
	struct tm tm;
	const char *p = s;

	memset(&tm, 0, sizeof(tm));
	while (isalpha((unsigned char)*p))
		p++;
	if (p - s < 3)
		return -1;
	if (*p == ',') {
		p++;
		skip_spaces(&p);
		if (parse_digits(&p, 1, 2, &tm.tm_mday))
			return -1;
		int rfc850 = *p == '-';
		if (*p != '-' && *p != ' ')
			return -1;
		p++;
		if ((tm.tm_mon = parse_month(&p)) < 0)
			return -1;
		if (rfc850 ? expect_char(&p, '-') : expect_char(&p, ' '))
			return -1;
		const char *y = p;
		if (parse_digits(&p, 2, 4, &tm.tm_year) || (p - y != 2 && p - y != 4))
			return -1;
		if (p - y == 2)  /* RFC 9110: a two-digit year more than 50 years ahead is in the past */
			tm.tm_year += tm.tm_year < 70 ? 2000 : 1900;
		skip_spaces(&p);
		if (parse_clock(&p, &tm))
			return -1;
		skip_spaces(&p);
		if (strncmp(p, "GMT", 3) != 0)
			return -1;
		p += 3;
	} else {
		skip_spaces(&p);
		if ((tm.tm_mon = parse_month(&p)) < 0)
			return -1;
		skip_spaces(&p);
		if (parse_digits(&p, 1, 2, &tm.tm_mday))
			return -1;
		skip_spaces(&p);
		if (parse_clock(&p, &tm))
			return -1;
		skip_spaces(&p);
		if (parse_digits(&p, 4, 4, &tm.tm_year))
			return -1;
	}
	skip_spaces(&p);
	if (*p)
		return -1;
	if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 60)
		return -1;
	tm.tm_year -= 1900;
	*out = timegm(&tm);
	return *out == (time_t)-1 ? -1 : 0;
}

double mlf_retry_after_seconds(const char *value, long now_epoch_s)
{
	const char *p = value;
	if (!p)
		return -1;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t len = strlen(p);
	while (len && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r' ||
		       p[len - 1] == '\n'))
		len--;
	if (!len || len > 64)
		return -1;
	char copy[65];
	memcpy(copy, p, len);
	copy[len] = '\0';

	if (isdigit((unsigned char)copy[0])) {
		double v = 0;
		for (const char *q = copy; *q; q++) {
			if (!isdigit((unsigned char)*q))
				return -1;
			v = v * 10 + (*q - '0');
		}
		return v;
	}
	time_t when;
	if (parse_http_date(copy, &when))
		return -1;
	double d = difftime(when, (time_t)now_epoch_s);
	return d > 0 ? d : 0;
}
