/*
 * One logging vocabulary for the whole engine (OpenBSD style): the plain
 * variants append strerror(errno), the x variants do not. Messages go to
 * stderr in the foreground and to syslog once daemonized.
 */
#ifndef NFQT_LOG_H
#define NFQT_LOG_H

enum log_level { LOG_LEVEL_WARN = 0, LOG_LEVEL_INFO = 1, LOG_LEVEL_DEBUG = 2 };

/* to_syslog: 0 stderr, 1 syslog, LOG_BOTH both (a daemon's start-up). */
#define LOG_BOTH	2
void log_init(int to_syslog, int verbosity);
int log_verbosity(void);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Start-up only: once packets flow, the engine never exits on an error. */
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
