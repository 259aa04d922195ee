/*
 * The engine's privilege drop and system-call filter (sandbox.h).
 */
#include <errno.h>
#include <grp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <seccomp.h>

#include "privsep/sandbox.h"

static int
sandbox_fail(char *why, size_t whylen, const char *what)
{
	snprintf(why, whylen, "%s: %s", what, strerror(errno));
	return -1;
}

int
sandbox_drop(uid_t uid, gid_t gid, char *why, size_t whylen)
{
	cap_value_t cap, last = (cap_value_t)cap_max_bits() - 1, keep = CAP_NET_ADMIN;
	cap_t c;
	int rc;

	/* Nothing can come back: not through exec, not through setuid. */
	for (cap = 0; cap <= last; cap++)
		if (cap != keep && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return sandbox_fail(why, whylen, "dropping the bounding set");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return sandbox_fail(why, whylen, "clearing ambient capabilities");
	if (uid != 0) {
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
			return sandbox_fail(why, whylen, "PR_SET_KEEPCAPS");
		if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0)
			return sandbox_fail(why, whylen, "setting the group");
		if (setresuid(uid, uid, uid) < 0)
			return sandbox_fail(why, whylen, "setting the user");
	}
	if ((c = cap_init()) == NULL)
		return sandbox_fail(why, whylen, "cap_init");
	rc = cap_set_flag(c, CAP_PERMITTED, 1, &keep, CAP_SET) == 0 &&
	    cap_set_flag(c, CAP_EFFECTIVE, 1, &keep, CAP_SET) == 0 ? cap_set_proc(c) : -1;
	cap_free(c);
	if (rc < 0)
		return sandbox_fail(why, whylen, "keeping CAP_NET_ADMIN alone");
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return sandbox_fail(why, whylen, "no_new_privs");
#if defined(__SANITIZE_ADDRESS__)
	/* LeakSanitizer stops our threads with ptrace at exit, as the same user. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
	return 0;
}

int
sandbox_keep_caps(uint64_t keep, char *why, size_t whylen)
{
	cap_value_t cap, last = (cap_value_t)cap_max_bits() - 1;
	cap_flag_value_t have;
	cap_t c;
	int rc = 0;

	if ((c = cap_get_proc()) == NULL)
		return sandbox_fail(why, whylen, "cap_get_proc");
	/* The bounding set first: dropping from it needs CAP_SETPCAP. */
	for (cap = 0; cap <= last && cap < 64; cap++)
		if (!(keep & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
		    errno != EINVAL) {
			cap_free(c);
			return sandbox_fail(why, whylen, "dropping the bounding set");
		}
	for (cap = 0; cap <= last && rc == 0; cap++) {
		if (cap_get_flag(c, cap, CAP_PERMITTED, &have) < 0)
			rc = -1;
		else if (cap >= 64 || !(keep & (1ULL << cap)) || have != CAP_SET)
			rc = cap_set_flag(c, CAP_PERMITTED, 1, &cap, CAP_CLEAR) |
			    cap_set_flag(c, CAP_EFFECTIVE, 1, &cap, CAP_CLEAR);
		else
			rc = cap_set_flag(c, CAP_EFFECTIVE, 1, &cap, CAP_SET);
	}
	if (rc == 0)
		rc = cap_clear_flag(c, CAP_INHERITABLE);
	if (rc == 0)
		rc = cap_set_proc(c);
	cap_free(c);
	if (rc < 0)
		return sandbox_fail(why, whylen, "keeping the hooks' capabilities");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return sandbox_fail(why, whylen, "clearing ambient capabilities");
	return 0;
}

/*
 * What the engine's loop, its netlink sockets, reloads (files come as
 * descriptors from the privileged side), logging and libc's own needs
 * call; found with strace -f -ff over the integration tests (the engine's
 * calls after PR_SET_NO_NEW_PRIVS). socket() is allowed apart, for
 * AF_NETLINK, AF_UNIX (syslog, if_indextoname(), the control socket) and
 * AF_INET/AF_INET6 (metrics_listen) alone: no packet socket, no other
 * family.
 */
static const char *const sandbox_allowed[] = {
	/* the loop */
	"epoll_wait", "epoll_pwait", "epoll_ctl", "read", "readv", "write", "writev",
	"close", "timerfd_settime", "timerfd_gettime", "clock_gettime",
	"clock_nanosleep", "nanosleep", "gettimeofday", "time", "poll", "ppoll",
	"restart_syscall",
	/* netlink: queue, log, nftables; the hook and control sockets */
	"recvmsg", "recvfrom", "recvmmsg", "sendmsg", "sendto", "sendmmsg",
	"bind", "connect", "getsockname", "getpeername", "getsockopt", "setsockopt",
	"shutdown", "accept4", "accept", "listen",
	/* files (descriptors from the privileged side; /proc counters) */
	"openat", "open", "fstat", "newfstatat", "statx", "lseek", "fcntl", "ioctl",
	"dup", "dup2", "dup3", "pread64", "getdents64", "access", "faccessat", "faccessat2",
	"readlink", "readlinkat", "uname", "unlink", "unlinkat", "flock", "ftruncate",
	"fchmod", "chmod", "fchmodat", "umask", "mkdir", "mkdirat", "fsync", "fdatasync",
	/* memory */
	"brk", "mmap", "munmap", "mremap", "madvise", "mprotect",
	/* signals, the priv child, exit */
	"rt_sigprocmask", "rt_sigaction", "rt_sigreturn", "signalfd4", "wait4",
	"tgkill", "getpid", "gettid", "getppid", "getuid", "geteuid",
	"getgid", "getegid", "exit", "exit_group", "futex", "getrandom",
	"sched_yield", "sched_getaffinity", "prlimit64", "getrlimit", "sysinfo",
	"set_robust_list", "rseq", "membarrier",
#if defined(__SANITIZE_ADDRESS__)
	/* ASan's reports and LeakSanitizer's stop-the-world at exit */
	"clone", "clone3", "ptrace", "prctl", "sigaltstack", "waitid", "pipe2",
	"execve", "set_tid_address", "arch_prctl", "getdents",
	"sched_setaffinity", "process_vm_readv",
#endif
	NULL
};

int
sandbox_seccomp(char *why, size_t whylen)
{
	const char *mode = getenv("NFQT_SECCOMP");
	bool log_only = mode != NULL && strcmp(mode, "log") == 0;
	scmp_filter_ctx ctx;
	int i, nr, rc;

	ctx = seccomp_init(log_only ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS);
	if (ctx == NULL) {
		snprintf(why, whylen, "seccomp_init failed");
		return -1;
	}
	for (i = 0; sandbox_allowed[i] != NULL; i++) {
		/* A name this architecture lacks (open on arm64) is simply absent. */
		if ((nr = seccomp_syscall_resolve_name(sandbox_allowed[i])) == __NR_SCMP_ERROR)
			continue;
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) < 0) {
			snprintf(why, whylen, "seccomp rule for %s: %s", sandbox_allowed[i],
			    strerror(-rc));
			seccomp_release(ctx);
			return -1;
		}
	}
	if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
	    SCMP_A0(SCMP_CMP_EQ, AF_NETLINK))) < 0 ||
	    (rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
	    SCMP_A0(SCMP_CMP_EQ, AF_UNIX))) < 0 ||
	    /* metrics_listen, reopened by a reload that changes it */
	    (rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
	    SCMP_A0(SCMP_CMP_EQ, AF_INET))) < 0 ||
	    (rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
	    SCMP_A0(SCMP_CMP_EQ, AF_INET6))) < 0) {
		snprintf(why, whylen, "seccomp rule for socket: %s", strerror(-rc));
		seccomp_release(ctx);
		return -1;
	}
	rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc < 0) {
		snprintf(why, whylen, "seccomp_load: %s", strerror(-rc));
		return -1;
	}
	return 0;
}
