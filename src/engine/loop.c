#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "engine/loop.h"

#define LOOP_MAX_EVENTS	32

struct loop_watch {
	int fd;
	loop_fd_fn fn;
	void *arg;
	struct loop_watch *next;
};

struct loop {
	int epfd;
	int sigfd;
	int timerfd;
	bool running;
	struct loop_watch *watches;
	loop_signal_fn signal_fn;
	void *signal_arg;
	loop_timer_fn timer_fn;
	void *timer_arg;
	loop_pass_fn pass_fn;
	void *pass_arg;
	bool timer_set;			/* timer_ms is what the timerfd is armed for */
	uint64_t timer_ms;
	bool clock_read;		/* pass_ms and pass_wall_s hold this pass's time */
	uint64_t pass_ms;
	int64_t pass_wall_s;
};

uint64_t
loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Read once per pass: the packets of one pass are a millisecond apart at most. */
static void
loop_clock_read(struct loop *l)
{
	if (l->clock_read)
		return;
	l->pass_ms = loop_now_ms();
	l->pass_wall_s = (int64_t)time(NULL);
	l->clock_read = true;
}

uint64_t
loop_pass_ms(struct loop *l)
{
	loop_clock_read(l);
	return l->pass_ms;
}

int64_t
loop_pass_wall_s(struct loop *l)
{
	loop_clock_read(l);
	return l->pass_wall_s;
}

static int
loop_epoll_add(struct loop *l, int fd, void *ptr)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = ptr };

	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
}

struct loop *
loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->sigfd = l->timerfd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	return l;
}

void
loop_free(struct loop *l)
{
	struct loop_watch *w, *next;

	if (l == NULL)
		return;
	for (w = l->watches; w != NULL; w = next) {
		next = w->next;
		free(w);
	}
	if (l->sigfd >= 0)
		close(l->sigfd);
	if (l->timerfd >= 0)
		close(l->timerfd);
	close(l->epfd);
	free(l);
}

int
loop_add_fd(struct loop *l, int fd, loop_fd_fn fn, void *arg)
{
	struct loop_watch *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return -1;
	w->fd = fd;
	w->fn = fn;
	w->arg = arg;
	if (loop_epoll_add(l, fd, w) < 0) {
		free(w);
		return -1;
	}
	w->next = l->watches;
	l->watches = w;
	return 0;
}

int
loop_del_fd(struct loop *l, int fd)
{
	struct loop_watch **wp, *w;

	for (wp = &l->watches; (w = *wp) != NULL; wp = &w->next) {
		if (w->fd != fd)
			continue;
		*wp = w->next;
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
		/* Events already fetched for it in this pass are ignored. */
		w->fn = NULL;
		free(w);
		return 0;
	}
	errno = ENOENT;
	return -1;
}

int
loop_fd_events(struct loop *l, int fd, bool in, bool out)
{
	struct epoll_event ev = {
		.events = (in ? EPOLLIN : 0) | (out ? EPOLLOUT : 0)
	};
	struct loop_watch *w;

	for (w = l->watches; w != NULL; w = w->next)
		if (w->fd == fd) {
			ev.data.ptr = w;
			return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev);
		}
	errno = ENOENT;
	return -1;
}

int
loop_set_signals(struct loop *l, const int *signals, loop_signal_fn fn, void *arg)
{
	sigset_t set;

	sigemptyset(&set);
	for (; *signals != 0; signals++)
		sigaddset(&set, *signals);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	l->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (l->sigfd < 0)
		return -1;
	l->signal_fn = fn;
	l->signal_arg = arg;
	return loop_epoll_add(l, l->sigfd, &l->sigfd);
}

int
loop_set_timer_fn(struct loop *l, loop_timer_fn fn, void *arg)
{
	l->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (l->timerfd < 0)
		return -1;
	l->timer_fn = fn;
	l->timer_arg = arg;
	return loop_epoll_add(l, l->timerfd, &l->timerfd);
}

void
loop_set_pass_fn(struct loop *l, loop_pass_fn fn, void *arg)
{
	l->pass_fn = fn;
	l->pass_arg = arg;
}

void
loop_timer_at(struct loop *l, uint64_t when_ms)
{
	struct itimerspec its = { 0 };

	if (l->timerfd < 0)
		return;
	/* Every pass asks again: a system call only when the deadline moved. */
	if (l->timer_set && l->timer_ms == when_ms)
		return;
	if (when_ms != 0) {
		/* 0 would disarm: an already-due deadline fires in 1 ns instead. */
		its.it_value.tv_sec = (time_t)(when_ms / 1000);
		its.it_value.tv_nsec = (long)(when_ms % 1000) * 1000000;
		if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
			its.it_value.tv_nsec = 1;
	}
	if (timerfd_settime(l->timerfd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
		log_warn("timerfd_settime");
		l->timer_set = false;
		return;
	}
	l->timer_set = true;
	l->timer_ms = when_ms;
}

static void
loop_read_signals(struct loop *l)
{
	struct signalfd_siginfo si;

	while (read(l->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (l->signal_fn != NULL)
			l->signal_fn(l->signal_arg, (int)si.ssi_signo);
	}
}

static void
loop_read_timer(struct loop *l)
{
	uint64_t expirations;

	if (read(l->timerfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_warn("timerfd read");
	l->timer_set = false;		/* it fired: no longer armed */
	if (l->timer_fn != NULL)
		l->timer_fn(l->timer_arg, loop_now_ms());
}

static void
loop_dispatch(struct loop *l, void *ptr)
{
	struct loop_watch *w;

	if (ptr == &l->sigfd) {
		loop_read_signals(l);
		return;
	}
	if (ptr == &l->timerfd) {
		loop_read_timer(l);
		return;
	}
	/* A watch removed earlier in this pass is no longer on the list. */
	for (w = l->watches; w != NULL; w = w->next) {
		if (w == ptr) {
			w->fn(w->arg);
			return;
		}
	}
}

int
loop_run(struct loop *l)
{
	struct epoll_event ev[LOOP_MAX_EVENTS];
	int i, n;

	l->running = true;
	while (l->running) {
		n = epoll_wait(l->epfd, ev, LOOP_MAX_EVENTS, -1);
		l->clock_read = false;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_warn("epoll_wait");
			return -1;
		}
		for (i = 0; i < n; i++)
			loop_dispatch(l, ev[i].data.ptr);
		if (l->pass_fn != NULL)
			l->pass_fn(l->pass_arg);
	}
	return 0;
}

void
loop_stop(struct loop *l)
{
	l->running = false;
}
