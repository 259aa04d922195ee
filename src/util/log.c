#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "util/log.h"

static int log_to_syslog;
static int log_level = LOG_LEVEL_INFO;

void
log_init(int to_syslog, int verbosity)
{
	log_to_syslog = to_syslog;
	log_level = LOG_LEVEL_INFO + verbosity;
	if (to_syslog)
		openlog("nfq-trigger", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int
log_verbosity(void)
{
	return log_level - LOG_LEVEL_INFO;
}

static void __attribute__((format(printf, 2, 0)))
log_vemit(int priority, const char *fmt, va_list ap, int errnum)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_to_syslog) {
		if (errnum)
			syslog(priority, "%s: %s", msg, strerror(errnum));
		else
			syslog(priority, "%s", msg);
		if (log_to_syslog != LOG_BOTH)
			return;
	}
	if (errnum)
		fprintf(stderr, "nfq-trigger: %s: %s\n", msg, strerror(errnum));
	else
		fprintf(stderr, "nfq-trigger: %s\n", msg);
}

#define LOG_BODY(priority, errnum) do {		\
	va_list ap;				\
	va_start(ap, fmt);			\
	log_vemit(priority, fmt, ap, errnum);	\
	va_end(ap);				\
} while (0)

void
log_warn(const char *fmt, ...)
{
	int saved = errno;

	LOG_BODY(LOG_WARNING, saved);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_WARNING, 0);
}

void
log_info(const char *fmt, ...)
{
	if (log_level < LOG_LEVEL_INFO)
		return;
	LOG_BODY(LOG_INFO, 0);
}

void
log_debug(const char *fmt, ...)
{
	if (log_level < LOG_LEVEL_DEBUG)
		return;
	LOG_BODY(LOG_DEBUG, 0);
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;

	LOG_BODY(LOG_CRIT, saved);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_CRIT, 0);
	exit(1);
}
