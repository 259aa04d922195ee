/*
 * nfq-trigger: command line and start-up order. Packet logic lives in
 * engine.c and the modules it calls.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "engine/control.h"
#include "engine/engine.h"
#include "util/daemon.h"
#include "util/log.h"
#include "util/sdnotify.h"
#include "kernel/kstats.h"
#include "kernel/nft.h"
#include "config/config_system.h"
#include "privsep/priv_client.h"
#include "privsep/sandbox.h"
#include "privsep/spawn_client.h"

#define INSTALLED_CONFIG NFQT_SYSCONFDIR "/nfq-trigger/nfq-trigger.ini"
#define LOCAL_CONFIG "nfq-trigger.ini"

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: nfq-trigger [-dv] [-c FILE]\n"
	    "       nfq-trigger -C FILE\n"
	    "       nfq-trigger [-c FILE] remove-table\n"
	    "       nfq-trigger [-c FILE] status [--json] | list NAME | metrics\n"
	    "       nfq-trigger [-c FILE] allow NAME ADDR [TIMEOUT] | revoke NAME ADDR\n"
	    "       nfq-trigger [-c FILE] flush NAME\n"
	    "       nfq-trigger [-c FILE] bypass on|off | reset NAME | reload\n"
	    "\n"
	    "Firewall triggers from NFQUEUE and NFLOG: port knocks, activity hooks,\n"
	    "packet counts; programs nftables sets through libnftnl.\n"
	    "\n"
	    "  -c, --config FILE  configuration (default: ./" LOCAL_CONFIG " in the\n"
	    "                     foreground when present, else " INSTALLED_CONFIG ")\n"
	    "  -C, --check FILE   check FILE, print the triggers it defines, exit;\n"
	    "                     touches no netfilter state\n"
	    "  -d, --daemon       detach, log to syslog, write the pidfile; under\n"
	    "                     systemd ($NOTIFY_SOCKET) no fork: Type=notify\n"
	    "  -v, --verbose      more log output (twice: every packet)\n"
	    "  -h, --help         this text\n"
	    "  -V, --version      version\n"
	    "\n"
	    "The engine's nftables table (allow sets, guards, divert rules) stays when\n"
	    "it exits, so guarded services stay closed; remove-table deletes it.\n"
	    "\n"
	    "The other commands talk to the running engine over its control socket\n"
	    "([engine] control in FILE): status, the addresses in a trigger's sets,\n"
	    "Prometheus metrics, allowing and revoking an address, emptying a\n"
	    "trigger's allow or block set (flush), maintenance\n"
	    "bypass (every queued packet accepted uninspected; guards stay), a\n"
	    "trigger back to its initial state, a reload.\n"
	    "\n"
	    "Signals: SIGHUP reloads the configuration (a file with errors is refused\n"
	    "and the running one kept; unchanged triggers keep their state),\n"
	    "SIGUSR1 logs counters, SIGTERM/SIGINT stop.\n"
	    "See nfq-trigger.ini(5) and README.md.\n");
}

/* -C: every error with its line, then the triggers understood; no netfilter. */
static int
check_config(const char *path)
{
	struct config *cfg;
	int nerrors = 0;

	cfg = config_load(path, true, stderr, &nerrors);
	if (cfg != NULL)
		nerrors = config_check_system(cfg, stderr);
	if (cfg == NULL || nerrors > 0) {
		fprintf(stderr, "%s: %d error%s\n", path, nerrors, nerrors == 1 ? "" : "s");
		config_free(cfg);
		return 1;
	}
	config_print(cfg, stdout);
	config_free(cfg);
	return 0;
}

/* The table outlives the engine; only this command removes it
 * (docs/design.md, decision 1). */
static int
remove_table(const char *path)
{
	struct config *cfg;
	struct nft *n;
	int nerrors = 0, rc;

	cfg = config_load(path, true, stderr, &nerrors);
	if (cfg == NULL)
		fatalx("%s: %d error%s", path, nerrors, nerrors == 1 ? "" : "s");
	n = nft_open();
	if (n == NULL)
		fatalx("nftables: cannot open a netlink socket (root or CAP_NET_ADMIN?)");
	rc = nft_table_delete(n, cfg->engine.table);
	if (rc == 0)
		log_info("table inet %s removed", cfg->engine.table);
	nft_close(n);
	config_free(cfg);
	return rc == 0 ? 0 : 1;
}

/*
 * The privileged side works from /; the engine reloads the same file. The
 * name is made absolute without resolving links: a link is refused.
 */
static const char *
absolute_path(const char *path)
{
	static char buf[PATH_MAX];
	char cwd[PATH_MAX];

	if (path[0] == '/')
		return path;
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		fatal("getcwd");
	if ((size_t)snprintf(buf, sizeof(buf), "%s/%s", cwd, path) >= sizeof(buf))
		fatalx("%s: path too long", path);
	return buf;
}

static int
reload_prepare(void *arg, char *why, size_t whylen)
{
	char user[64];
	uid_t uid;
	gid_t gid;
	int nerrors;

	if (priv_load_config(arg, true, user, sizeof(user), &uid, &gid, &nerrors) == 0)
		return 0;
	if (nerrors > 0)
		snprintf(why, whylen, "%s", priv_last_refusal(arg));
	else
		snprintf(why, whylen, "the privileged side did not answer");
	return -1;
}

static void
reload_done(void *arg, bool applied)
{
	priv_reload_done(arg, applied);
}

static int
reload_listen(void *arg, const char *path)
{
	return priv_listen(arg, path);
}


/* The daemon never reads the working directory: its config names root commands. */
static const char *
default_config_path(bool daemonize)
{
	if (!daemonize && access(LOCAL_CONFIG, F_OK) == 0)
		return LOCAL_CONFIG;
	return INSTALLED_CONFIG;
}

/*
 * The start-up order (docs/design.md): the spawner forks off first (it is a
 * copy of this process), then the daemon detaches, and only then is the
 * loop built (epoll, signalfd, timerfd), so its signals are the daemon's.
 * Under systemd nothing forks: readiness goes over $NOTIFY_SOCKET.
 */
static int
run_engine(const char *path, bool daemonize, int verbose)
{
	struct engine_reload_hooks rh = { .prepare = reload_prepare, .done = reload_done,
	    .listen = reload_listen };
	struct priv_client *pc;
	struct config *cfg;
	struct engine *e;
	struct spawn *sp;
	char user[64], why[256];
	bool supervised;
	int nerrors = 0, status, ready_fd = -1;
	uid_t uid;
	gid_t gid;

	path = absolute_path(path);
	/* Before anything is read: the privileged side is a copy of us. */
	if ((pc = priv_start(path, verbose)) == NULL)
		fatal("cannot fork the privileged side");
	if (priv_load_config(pc, false, user, sizeof(user), &uid, &gid, &nerrors) < 0)
		fatalx("%s: %d error%s, not starting", path, nerrors, nerrors == 1 ? "" : "s");
	priv_use_for_files(pc);
	cfg = config_load(path, true, stderr, &nerrors);
	if (cfg == NULL)
		fatalx("%s: %d error%s, not starting", path, nerrors, nerrors == 1 ? "" : "s");
	supervised = sdnotify_open();
	log_info("nfq-trigger %s starting with %s%s", NFQT_VERSION, path,
	    supervised ? " (supervised: no fork)" : "");
	if ((sp = spawn_attach(priv_hook_fd(pc), priv_pid(pc))) == NULL)
		fatal("hooks");
	if (daemonize) {
		if (!supervised)
			ready_fd = daemon_detach();
		/* Start-up errors still reach the terminal until the parent exits. */
		log_init(supervised ? 1 : LOG_BOTH, verbose);
		spawn_set_log(sp, 1, verbose);
		if (cfg->engine.pidfile[0] != '\0' && pidfile_write(cfg->engine.pidfile) < 0)
			fatalx("not starting");
	}
	e = engine_open(cfg, sp);
	if (e == NULL)
		fatalx("start-up failed");
	rh.arg = pc;
	engine_set_reload_hooks(e, &rh);
	/*
	 * Sockets open (netlink, control, metrics): from here on the engine is
	 * its user with CAP_NET_ADMIN alone, under seccomp (decision 2).
	 */
	kstats_open();
	if (sandbox_drop(uid, gid, why, sizeof(why)) < 0)
		fatalx("cannot run as %s (uid %u): %s", user, (unsigned)uid, why);
	log_info("engine runs as %s (uid %u) with CAP_NET_ADMIN alone", user, (unsigned)uid);
	if (sandbox_seccomp(why, sizeof(why)) < 0)
		fatalx("seccomp: %s", why);
	log_info("seccomp: system-call allow-list in force; a call outside it kills "
	    "the engine with SIGSYS (the kernel's audit log says which: "
	    "journalctl -k | grep SECCOMP), NFQT_SECCOMP=log only logs it");
	if (ready_fd >= 0) {
		daemon_ready(ready_fd);
		log_init(1, verbose);
	}
	/* Start-up's buffers (dumps, the config text) go back to the kernel. */
	malloc_trim(0);
	sdnotify_send("READY=1");
	log_info("running");
	status = engine_run(e);
	sdnotify_send("STOPPING=1");
	engine_close(e);
	spawn_close(sp);
	pidfile_remove();
	priv_close(pc);
	return status;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", required_argument, NULL, 'C' },
		{ "daemon", no_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *command = NULL;
	bool daemonize = false;
	int ch, verbose = 0;

	/* "+": options end at the command, whose own (--json) are its own. */
	while ((ch = getopt_long(argc, argv, "+c:C:dvhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'C':
			return check_config(optarg);
		case 'd':
			daemonize = true;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("nfq-trigger %s\n", NFQT_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		command = argv[optind++];
	log_init(0, verbose);
	if (path == NULL)
		path = default_config_path(daemonize);
	if (command != NULL && strcmp(command, "remove-table") != 0)
		return control_command(path, command, argc - optind, argv + optind);
	if (optind < argc) {
		fprintf(stderr, "nfq-trigger: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (command != NULL)
		return remove_table(path);
	return run_engine(path, daemonize, verbose);
}
