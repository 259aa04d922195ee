/*
 * The event loop: epoll over the packet sources, a signalfd for signals and
 * one timerfd for the earliest deadline. One loop owns all trigger state
 * (docs/design.md, decision 7), so nothing on the packet path takes a lock.
 */
#ifndef NFQT_LOOP_H
#define NFQT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;

typedef void (*loop_fd_fn)(void *arg);
typedef void (*loop_signal_fn)(void *arg, int signo);
typedef void (*loop_timer_fn)(void *arg, uint64_t now_ms);
/* Runs once after each pass over ready events: flush batched work here. */
typedef void (*loop_pass_fn)(void *arg);

struct loop *loop_new(void);
void loop_free(struct loop *l);

int loop_add_fd(struct loop *l, int fd, loop_fd_fn fn, void *arg);
int loop_del_fd(struct loop *l, int fd);
/* Which of readable, writable (a client's pending reply) calls fn for fd. */
int loop_fd_events(struct loop *l, int fd, bool in, bool out);

/* Block the given signals (0-terminated list) and deliver them through fn. */
int loop_set_signals(struct loop *l, const int *signals, loop_signal_fn fn, void *arg);
int loop_set_timer_fn(struct loop *l, loop_timer_fn fn, void *arg);
void loop_set_pass_fn(struct loop *l, loop_pass_fn fn, void *arg);

/* Arm the timer for an absolute CLOCK_MONOTONIC time in ms; 0 disarms. */
void loop_timer_at(struct loop *l, uint64_t when_ms);

/* Run until loop_stop(); returns 0, or -1 when epoll itself failed. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

/* CLOCK_MONOTONIC in milliseconds: the engine's notion of time. */
uint64_t loop_now_ms(void);

/*
 * loop_now_ms() and time(2) as of the current pass, read at its first use:
 * what the packet path asks, so that it reads no clock per packet.
 */
uint64_t loop_pass_ms(struct loop *l);
int64_t loop_pass_wall_s(struct loop *l);

#endif
