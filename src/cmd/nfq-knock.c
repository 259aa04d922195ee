/*
 * nfq-knock: the knock client shipped with nfq-trigger.
 *
 *   nfq-knock [-46v] [-d DELAY] HOST FRAME...
 *   nfq-knock [-46v] [-d DELAY] -c FILE -t NAME [--counter-file PATH] HOST
 *   nfq-knock [-46v] --spa NAME (-c FILE | --key FILE --port udp:N) [-a ADDR] HOST
 *   nfq-knock --gen-key FILE
 *
 * Sends one packet per frame, in order, DELAY apart, and nothing else: no
 * retransmission, so a knock is exactly the frames asked for. UDP frames go
 * through an ordinary socket; TCP frames are built here, with the flags of
 * the frame, and sent through a raw socket (root or CAP_NET_RAW). A frame
 * list comes from the command line or from a [knock NAME] section of a
 * config in nfq-trigger.ini(5) form; a derived one (derive = time |
 * counter) is computed from the section's key with the engine's own code
 * (knock_otp.c). --spa sends one single-packet authorization datagram of
 * our format (core/spa.h, docs/spa.md), --gen-key makes a key file for it
 * or for a derived knock. Exit status: 0 sent, 1 could not send, 2 usage or a file
 * in the way. See docs/nfq-knock.md.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "config/config.h"
#include "core/knock_frame.h"
#include "config/keyfile.h"
#include "core/knock_otp.h"
#include "config/statefile.h"
#include "core/spa.h"

#ifndef NFQT_VERSION
#define NFQT_VERSION "unknown"
#endif

#define EXIT_SEND	1
#define EXIT_USAGE	2
#define DELAY_DEFAULT_MS 20
#define DELAY_MAX_MS	(60 * 1000)
#define TCP_HDR_LEN	20
#define COUNTER_DIR	".nfq-knock"
/* What a UDP frame carries: the engine looks at ports only. */
#define UDP_PAYLOAD	"nfq-knock"

struct opts {
	int family;			/* AF_UNSPEC, AF_INET or AF_INET6 */
	bool both;			/* -4 -6: IPv4, then IPv6 */
	bool twice;			/* --twice: each frame twice */
	bool verbose;
	bool print;
	uint64_t delay_ms;
	const char *config;
	const char *trigger;
	const char *counter_file;
	bool counter_given;
	uint64_t counter;
	const char *host;
	char **frame_args;
	int nframe_args;
	const char *gen_key;		/* --gen-key FILE */
	const char *spa;		/* --spa NAME */
	const char *key;		/* --key FILE */
	const char *port;		/* --port udp:N */
	const char *address;		/* -a ADDR: the address to open */
};

struct knock {
	struct config_knock_frame frames[CONFIG_KNOCK_FRAMES_MAX];
	int nframes;
	/* Counter mode: where the next counter goes once these are chosen. */
	char counter_path[PATH_MAX];
	uint64_t counter_next;
	bool save_counter;
};

struct target {
	int family;
	struct sockaddr_storage dst;
	socklen_t dstlen;
	struct sockaddr_storage src;	/* for the TCP checksum's pseudo-header */
	char name[INET6_ADDRSTRLEN];
	int udp;			/* -1 unless a frame needs it */
	int raw;
};

static void die(int, const char *, ...) __attribute__((noreturn, format(printf, 2, 3)));

static void
die(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("nfq-knock: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (status == EXIT_USAGE)
		fputs("Try 'nfq-knock --help'.\n", stderr);
	exit(status);
}

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: nfq-knock [-46v] [-d DELAY] HOST FRAME...\n"
	    "       nfq-knock [-46v] [-d DELAY] -c FILE -t NAME [--counter-file PATH]\n"
	    "                 [--counter N] HOST\n"
	    "       nfq-knock -c FILE -t NAME --print [HOST]\n"
	    "       nfq-knock [-46v] --spa NAME (-c FILE | --key FILE --port udp:N)\n"
	    "                 [-a ADDR] HOST\n"
	    "       nfq-knock --gen-key FILE\n"
	    "Send a port knock to HOST (an address or a name).\n\n"
	    "  FRAME               proto:port[:flags]: udp:7000, tcp:8000 (SYN),\n"
	    "                      tcp:9000:fa; flags f s r p a u, x = all six,\n"
	    "                      n = none, i = any (sends SYN)\n"
	    "  -c, --config FILE   read the sequence from FILE (nfq-trigger.ini(5))\n"
	    "  -t, --trigger NAME  ... from its [knock NAME] section; derived\n"
	    "                      sequences are computed from its key file\n"
	    "      --counter-file PATH  derive = counter: the next counter to send\n"
	    "                      (default ~/" COUNTER_DIR "/NAME.counter)\n"
	    "      --counter N     derive = counter: send counter N (then N+1 is next)\n"
	    "  -p, --print         print the frames it would send, send nothing\n"
	    "      --spa NAME      send one SPA datagram for trigger NAME: its port\n"
	    "                      and key from -c FILE's [spa NAME], or from\n"
	    "      --key FILE      the key file (from --gen-key) and\n"
	    "      --port udp:N    the trigger's port\n"
	    "  -a, --address ADDR  SPA: the address to open (the trigger must allow\n"
	    "                      it; default: the address the datagram comes from)\n"
	    "      --gen-key FILE  write a new key to FILE (mode 0600), send nothing\n"
	    "  -d, --delay DELAY   time between frames (default 20ms; 0ms..1m)\n"
	    "  -4, -6              use IPv4 / IPv6 only; both: knock over each\n"
	    "      --twice         send each frame twice (lossy paths; the engine\n"
	    "                      ignores a repeated frame)\n"
	    "  -v, --verbose       print each frame as it is sent\n"
	    "  -h, --help          this text\n"
	    "  -V, --version       the version\n\n"
	    "tcp frames need a raw socket: run as root or with CAP_NET_RAW.\n"
	    "Exit status: 0 sent, 1 could not send, 2 bad usage or file.\n");
}

static uint64_t
parse_counter(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (*s < '0' || *s > '9' || (v = strtoull(s, &end, 10), errno != 0) ||
	    *end != '\0')
		die(EXIT_USAGE, "--counter: '%s' is not a number", s);
	return (uint64_t)v;
}

static void args_check(struct opts *, int, char **);

enum { OPT_COUNTER_FILE = 256, OPT_COUNTER, OPT_SPA, OPT_KEY, OPT_PORT,
    OPT_GEN_KEY, OPT_TWICE };
static const struct option longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "trigger", required_argument, NULL, 't' },
	{ "counter-file", required_argument, NULL, OPT_COUNTER_FILE },
	{ "counter", required_argument, NULL, OPT_COUNTER },
	{ "print", no_argument, NULL, 'p' },
	{ "spa", required_argument, NULL, OPT_SPA },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "address", required_argument, NULL, 'a' },
	{ "gen-key", required_argument, NULL, OPT_GEN_KEY },
	{ "twice", no_argument, NULL, OPT_TWICE },
	{ "delay", required_argument, NULL, 'd' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

/* An option that takes its value as it is: where it goes, or NULL. */
static const char **
opt_string(struct opts *o, int c)
{
	switch (c) {
	case 'c':		return &o->config;
	case 't':		return &o->trigger;
	case 'a':		return &o->address;
	case OPT_COUNTER_FILE:	return &o->counter_file;
	case OPT_SPA:		return &o->spa;
	case OPT_KEY:		return &o->key;
	case OPT_PORT:		return &o->port;
	case OPT_GEN_KEY:	return &o->gen_key;
	default:		return NULL;
	}
}

/* One option of getopt_long's, c, into o. */
static void
parse_opt(struct opts *o, int c, char **argv)
{
	const char **str = opt_string(o, c);

	if (str != NULL) {
		*str = optarg;
		return;
	}
	switch (c) {
	case '4':
	case '6':
		/* Both: the knock goes over each family in turn. */
		if (o->family != AF_UNSPEC && o->family != (c == '4' ? AF_INET : AF_INET6))
			o->both = true;
		o->family = c == '4' ? AF_INET : AF_INET6;
		break;
	case OPT_COUNTER:
		o->counter = parse_counter(optarg);
		o->counter_given = true;
		break;
	case 'p':
		o->print = true;
		break;
	case OPT_TWICE:
		o->twice = true;
		break;
	case 'd':
		if (config_parse_duration(optarg, &o->delay_ms) == -1 ||
		    o->delay_ms > DELAY_MAX_MS)
			die(EXIT_USAGE, "--delay: '%s' is not a duration from "
			    "0ms to 1m, such as 50ms", optarg);
		break;
	case 'v':
		o->verbose = true;
		break;
	case 'h':
		usage(stdout);
		exit(0);
	case 'V':
		printf("nfq-knock %s\n", NFQT_VERSION);
		exit(0);
	case ':':
		die(EXIT_USAGE, "%s needs a value", argv[optind - 1]);
	default:
		if (optopt > 0 && optopt < 256)
			die(EXIT_USAGE, "unknown option -%c", optopt);
		die(EXIT_USAGE, "unknown option %s", argv[optind - 1]);
	}
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->family = AF_UNSPEC;
	o->delay_ms = DELAY_DEFAULT_MS;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:46a:c:d:hpt:vV", longopts, NULL)) != -1)
		parse_opt(o, c, argv);
	args_check(o, argc, argv);
}

/* The options together, and the words after them: HOST, then frames. */
static void
args_check_spa(struct opts *o, int argc, char **argv)
{
	if (o->trigger != NULL || o->print || o->counter_file != NULL ||
	    o->counter_given)
		die(EXIT_USAGE, "--spa takes no -t, --print or counter");
	if ((o->config != NULL) == (o->key != NULL || o->port != NULL))
		die(EXIT_USAGE, "--spa needs -c FILE, or --key FILE and --port "
		    "udp:N");
	if (o->config == NULL && (o->key == NULL || o->port == NULL))
		die(EXIT_USAGE, "--key and --port go together");
	if (optind < argc)
		o->host = argv[optind++];
	if (o->host == NULL)
		die(EXIT_USAGE, "no HOST to send the SPA datagram to");
	if (optind < argc)
		die(EXIT_USAGE, "'%s' is one too many: --spa sends one datagram",
		    argv[optind]);
}

static void
args_check(struct opts *o, int argc, char **argv)
{
	if (o->gen_key != NULL) {
		if (optind < argc || o->spa != NULL || o->config != NULL)
			die(EXIT_USAGE, "--gen-key FILE takes nothing else");
		return;
	}
	if (o->spa != NULL) {
		args_check_spa(o, argc, argv);
		return;
	}
	if (o->key != NULL || o->port != NULL || o->address != NULL)
		die(EXIT_USAGE, "--key, --port and -a go with --spa");
	if ((o->config == NULL) != (o->trigger == NULL))
		die(EXIT_USAGE, "-c FILE and -t NAME go together");
	if (o->config == NULL && (o->counter_file != NULL || o->counter_given))
		die(EXIT_USAGE, "--counter and --counter-file need -c and -t");
	if (optind < argc)
		o->host = argv[optind++];
	o->frame_args = argv + optind;
	o->nframe_args = argc - optind;
	if (o->config != NULL && o->nframe_args > 0)
		die(EXIT_USAGE, "frames come from -t %s: '%s' is one too many",
		    o->trigger, o->frame_args[0]);
	/* With -c, --print needs no HOST; without, HOST comes before frames. */
	if (o->host == NULL && !(o->print && o->config != NULL))
		die(EXIT_USAGE, "no HOST to knock on");
	if (o->config == NULL && o->nframe_args == 0)
		die(EXIT_USAGE, "no frames: give them after HOST, or -c FILE -t NAME");
}


/* --- the frames --------------------------------------------------------- */

static void
frames_from_args(const struct opts *o, struct knock *kn)
{
	char why[128];
	char **args = o->frame_args;
	int n = o->nframe_args, i;

	if (n > CONFIG_KNOCK_FRAMES_MAX)
		die(EXIT_USAGE, "%d frames, at most %d", n, CONFIG_KNOCK_FRAMES_MAX);
	for (i = 0; i < n; i++)
		if (config_parse_frame(args[i], &kn->frames[i], why,
		    sizeof(why)) == -1)
			die(EXIT_USAGE, "frame '%s': %s", args[i], why);
	kn->nframes = n;
}

static struct config_knock *
trigger_find(struct config *cfg, const char *name)
{
	char names[512] = "";
	size_t len = 0;
	int i;

	for (i = 0; i < cfg->nknocks; i++) {
		if (strcmp(cfg->knocks[i].name, name) == 0)
			return &cfg->knocks[i];
		if (len < sizeof(names))
			len += (size_t)snprintf(names + len, sizeof(names) - len,
			    "%s%s", i ? ", " : "", cfg->knocks[i].name);
	}
	if (cfg->nknocks == 0)
		die(EXIT_USAGE, "%s has no [knock] section", cfg->path);
	die(EXIT_USAGE, "%s has no [knock %s]; it has: %s", cfg->path, name,
	    names);
}

/* ~/.nfq-knock/NAME.counter, the directory made if missing. */
static void
counter_default_path(const char *name, char *out, size_t len)
{
	const char *home = getenv("HOME");
	struct passwd *pw;
	char dir[PATH_MAX];

	if ((home == NULL || *home != '/') &&
	    (pw = getpwuid(getuid())) != NULL)
		home = pw->pw_dir;
	if (home == NULL || *home != '/')
		die(EXIT_USAGE, "no home directory for the counter file: give "
		    "--counter-file");
	snprintf(dir, sizeof(dir), "%s/%s", home, COUNTER_DIR);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		die(EXIT_USAGE, "%s: %s", dir, strerror(errno));
	if ((size_t)snprintf(out, len, "%s/%s.counter", dir, name) >= len)
		die(EXIT_USAGE, "%s: path too long", dir);
}

/* The counter to send: --counter, or the file's (0 if there is none yet). */
static uint64_t
counter_choose(const struct opts *o, const char *name, struct knock *kn)
{
	char why[STATEFILE_WHY_MAX];
	uint64_t n = 0;
	int rc;

	if (o->counter_file != NULL) {
		if ((size_t)snprintf(kn->counter_path, sizeof(kn->counter_path),
		    "%s", o->counter_file) >= sizeof(kn->counter_path))
			die(EXIT_USAGE, "--counter-file: path too long");
	} else
		counter_default_path(name, kn->counter_path,
		    sizeof(kn->counter_path));
	if ((rc = statefile_load(kn->counter_path, &n, why, sizeof(why))) == -1)
		die(EXIT_USAGE, "counter: %s", why);
	if (o->counter_given)
		n = o->counter;
	if (n == UINT64_MAX)
		die(EXIT_USAGE, "counter: %s: no counter after %" PRIu64,
		    kn->counter_path, n);
	kn->counter_next = n + 1;
	kn->save_counter = !o->print;
	if (o->verbose)
		fprintf(stderr, "nfq-knock: counter %" PRIu64 " (%s%s)\n", n,
		    kn->counter_path, rc == 1 ? ", new" : "");
	return n;
}

static uint64_t
realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sleep_ms(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * The step to knock in. The engine takes the step of the first frame as it
 * arrives by its own clock; close to a step's edge, a little clock skew or
 * delay would put us on different steps. So keep clear of the edges: wait
 * until a margin (1 s, or a quarter of a short step) past the boundary.
 */
static uint64_t
step_choose(const struct opts *o, const struct config_knock *k)
{
	uint64_t step = k->step_ms, margin = step >= 4000 ? 1000 : step / 4;
	uint64_t now = realtime_ms(), phase = now % step, wait = 0;

	if (!o->print && phase < margin)
		wait = margin - phase;
	else if (!o->print && phase > step - margin)
		wait = step - phase + margin;
	if (wait > 0) {
		if (o->verbose)
			fprintf(stderr, "nfq-knock: waiting %" PRIu64 "ms, away "
			    "from the edge of a time step\n", wait);
		sleep_ms(wait);
		now = realtime_ms();
	}
	if (o->verbose)
		fprintf(stderr, "nfq-knock: time step %" PRIu64 " (%" PRIu64
		    "s long)\n", now / step, step / 1000);
	return knock_otp_step(k, (int64_t)(now / 1000));
}

/* A derived sequence's key must be ours alone, as the engine's is root's. */
static void
key_check(struct config_knock *k)
{
	char why[KEYFILE_WHY_MAX];

	if (keyfile_read(k->key_path, true, getuid(), k->key, why,
	    sizeof(why)) == -1)
		die(EXIT_USAGE, "knock %s: key: %s", k->name, why);
}

static void
frames_from_config(const struct opts *o, struct knock *kn, struct config **cfgp)
{
	struct config_knock *k;
	struct config *cfg;
	uint64_t n;
	int nerrors;

	/* Ownership is the engine's concern: this only reads the file. */
	if ((cfg = config_load(o->config, false, stderr, &nerrors)) == NULL)
		die(EXIT_USAGE, "%s: %d error%s", o->config, nerrors,
		    nerrors == 1 ? "" : "s");
	*cfgp = cfg;
	k = trigger_find(cfg, o->trigger);
	if (k->derive == CONFIG_DERIVE_NONE) {
		if (o->counter_file != NULL || o->counter_given)
			die(EXIT_USAGE, "knock %s has a listed sequence: no "
			    "counter", k->name);
		memcpy(kn->frames, k->frames, sizeof(kn->frames));
		kn->nframes = k->nframes;
		return;
	}
	if (o->both)
		die(EXIT_USAGE, "knock %s is derived: each of its sequences opens "
		    "once, so -4 -6 cannot knock over both; knock each family on "
		    "its own", k->name);
	key_check(k);
	if (k->derive == CONFIG_DERIVE_TIME) {
		if (o->counter_file != NULL || o->counter_given)
			die(EXIT_USAGE, "knock %s is derived from the time: no "
			    "counter", k->name);
		n = step_choose(o, k);
	} else
		n = counter_choose(o, k->name, kn);
	knock_otp_frames(k, n, kn->frames);
	kn->nframes = k->nframes;
}

static void
frames_print(const struct knock *kn)
{
	char buf[32];
	int i;

	for (i = 0; i < kn->nframes; i++)
		printf("%s%s", i ? " " : "",
		    knock_frame_str(&kn->frames[i], buf, sizeof(buf)));
	printf("\n");
}

/* --- sending ------------------------------------------------------------ */

static void
set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static void
resolve(const struct opts *o, int family, struct target *t)
{
	struct addrinfo hints, *res;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_DGRAM;
	if ((rc = getaddrinfo(o->host, NULL, &hints, &res)) != 0)
		die(EXIT_SEND, "%s: %s", o->host, gai_strerror(rc));
	memcpy(&t->dst, res->ai_addr, res->ai_addrlen);
	t->dstlen = res->ai_addrlen;
	t->family = res->ai_family;
	freeaddrinfo(res);
	if (t->family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&t->dst)->sin_addr,
		    t->name, sizeof(t->name));
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&t->dst)->sin6_addr,
		    t->name, sizeof(t->name));
}

/* The address the kernel would send from, for the TCP checksum. */
static void
source_address(struct target *t)
{
	socklen_t len = sizeof(t->src);
	int fd;

	if ((fd = socket(t->family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		die(EXIT_SEND, "socket: %s", strerror(errno));
	set_port(&t->dst, 9);
	if (connect(fd, (struct sockaddr *)&t->dst, t->dstlen) == -1 ||
	    getsockname(fd, (struct sockaddr *)&t->src, &len) == -1)
		die(EXIT_SEND, "no route to %s: %s", t->name, strerror(errno));
	close(fd);
	set_port(&t->src, 0);
}

/* Sockets first, so that a missing privilege fails before any frame goes. */
static void
sockets_open(const struct knock *kn, struct target *t)
{
	bool udp = false, tcp = false;
	int i;

	for (i = 0; i < kn->nframes; i++) {
		udp |= kn->frames[i].port.proto == IPPROTO_UDP;
		tcp |= kn->frames[i].port.proto == IPPROTO_TCP;
	}
	t->udp = t->raw = -1;
	if (udp && (t->udp = socket(t->family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		die(EXIT_SEND, "udp socket: %s", strerror(errno));
	if (!tcp)
		return;
	if ((t->raw = socket(t->family, SOCK_RAW | SOCK_CLOEXEC,
	    IPPROTO_TCP)) == -1)
		die(EXIT_SEND, "tcp frames need a raw socket (root or "
		    "CAP_NET_RAW): %s", strerror(errno));
	/* We never read what the kernel copies to a raw TCP socket. */
	shutdown(t->raw, SHUT_RD);
	source_address(t);
	if (bind(t->raw, (struct sockaddr *)&t->src, t->family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) == -1)
		die(EXIT_SEND, "bind raw socket: %s", strerror(errno));
}

static uint32_t
sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

/* RFC 793 / RFC 8200 8.1: over the pseudo-header and the segment. */
static uint16_t
tcp_checksum(const struct target *t, const uint8_t *seg, size_t len)
{
	uint8_t tail[8] = { 0 };
	uint32_t sum = 0;

	if (t->family == AF_INET) {
		sum = sum16((const uint8_t *)&((const struct sockaddr_in *)
		    &t->src)->sin_addr, 4, sum);
		sum = sum16((const uint8_t *)&((const struct sockaddr_in *)
		    &t->dst)->sin_addr, 4, sum);
	} else {
		sum = sum16((const uint8_t *)&((const struct sockaddr_in6 *)
		    &t->src)->sin6_addr, 16, sum);
		sum = sum16((const uint8_t *)&((const struct sockaddr_in6 *)
		    &t->dst)->sin6_addr, 16, sum);
	}
	/* Length and protocol: 4 + 4 bytes for IPv6, 2 + 2 for IPv4 (same sum). */
	tail[2] = (uint8_t)(len >> 8);
	tail[3] = (uint8_t)len;
	tail[7] = IPPROTO_TCP;
	sum = sum16(tail, sizeof(tail), sum);
	sum = sum16(seg, len, sum);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* A TCP header with the frame's flags ("i" sends SYN) and no options. */
static void
tcp_build(const struct target *t, const struct config_knock_frame *f,
    uint8_t seg[TCP_HDR_LEN])
{
	uint8_t flags = f->flags_mask == 0 ? 0x02 : f->flags_value;

	memset(seg, 0, TCP_HDR_LEN);
	put16(seg, (uint16_t)(32768 + randombytes_uniform(28232)));
	put16(seg + 2, f->port.port);
	put32(seg + 4, randombytes_random());
	if (flags & 0x10)			/* ACK: an acknowledgment number */
		put32(seg + 8, randombytes_random());
	seg[12] = (TCP_HDR_LEN / 4) << 4;
	seg[13] = flags;
	put16(seg + 14, 64240);
	put16(seg + 16, tcp_checksum(t, seg, TCP_HDR_LEN));
}

static void
frame_send(struct target *t, const struct config_knock_frame *f)
{
	uint8_t seg[TCP_HDR_LEN];
	char buf[32];
	ssize_t n;

	if (f->port.proto == IPPROTO_UDP) {
		set_port(&t->dst, f->port.port);
		n = sendto(t->udp, UDP_PAYLOAD, sizeof(UDP_PAYLOAD) - 1, 0,
		    (struct sockaddr *)&t->dst, t->dstlen);
	} else {
		tcp_build(t, f, seg);
		/* A raw socket takes no port: the header carries it. */
		set_port(&t->dst, 0);
		n = sendto(t->raw, seg, sizeof(seg), 0,
		    (struct sockaddr *)&t->dst, t->dstlen);
	}
	if (n == -1)
		die(EXIT_SEND, "send %s to %s: %s", knock_frame_str(f, buf,
		    sizeof(buf)), t->name, strerror(errno));
}

static void
close_target(struct target *t)
{
	if (t->udp != -1)
		close(t->udp);
	if (t->raw != -1)
		close(t->raw);
}

static void
knock_send(const struct opts *o, const struct knock *kn, struct target *t)
{
	char buf[32];
	int i;

	for (i = 0; i < kn->nframes; i++) {
		if (i > 0 && o->delay_ms > 0)
			sleep_ms(o->delay_ms);
		frame_send(t, &kn->frames[i]);
		if (o->twice)
			frame_send(t, &kn->frames[i]);
		if (o->verbose)
			printf("sent %s to %s\n", knock_frame_str(&kn->frames[i],
			    buf, sizeof(buf)), t->name);
	}
}

/* --- single-packet authorization ------------------------------------- */

/* A new key, written only where no file is: never over an old key. */
static void
gen_key(const char *path)
{
	uint8_t key[KEYFILE_KEY_LEN];
	char hex[KEYFILE_KEY_LEN * 2 + 2];
	size_t len;
	int fd;

	randombytes_buf(key, sizeof(key));
	sodium_bin2hex(hex, sizeof(hex), key, sizeof(key));
	sodium_memzero(key, sizeof(key));
	len = strlen(hex);
	hex[len++] = '\n';
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		die(EXIT_USAGE, "--gen-key: %s: %s", path, strerror(errno));
	if (write(fd, hex, len) != (ssize_t)len || fsync(fd) == -1 ||
	    close(fd) == -1) {
		sodium_memzero(hex, sizeof(hex));
		unlink(path);
		die(EXIT_SEND, "--gen-key: %s: %s", path, strerror(errno));
	}
	sodium_memzero(hex, sizeof(hex));
}

static struct config_spa *
spa_find(struct config *cfg, const char *name)
{
	int i;

	for (i = 0; i < cfg->nspas; i++)
		if (strcmp(cfg->spas[i].name, name) == 0)
			return &cfg->spas[i];
	die(EXIT_USAGE, "%s has no [spa %s]", cfg->path, name);
}

/* The trigger's port and key: from -c FILE, or from --key and --port. */
static void
spa_settings(const struct opts *o, struct config_port *port,
    uint8_t key[KEYFILE_KEY_LEN])
{
	char why[KEYFILE_WHY_MAX];
	const char *path = o->key;
	struct config_knock_frame f;
	struct config_spa *t;
	struct config *cfg;
	int nerrors;

	if (o->config != NULL) {
		if ((cfg = config_load(o->config, false, stderr, &nerrors)) == NULL)
			die(EXIT_USAGE, "%s: %d error%s", o->config, nerrors,
			    nerrors == 1 ? "" : "s");
		t = spa_find(cfg, o->spa);
		if (t->format != CONFIG_SPA_NATIVE)
			die(EXIT_USAGE, "spa %s is format = fwknop: send with the "
			    "fwknop client", t->name);
		*port = t->port;
		if (keyfile_read(t->key_path, true, getuid(), key, why,
		    sizeof(why)) == -1)
			die(EXIT_USAGE, "spa %s: key: %s", t->name, why);
		config_free(cfg);
		return;
	}
	/* A UDP frame is exactly a proto:port (config_parse_port is tests'). */
	if (config_parse_frame(o->port, &f, why, sizeof(why)) == -1 ||
	    f.port.proto != IPPROTO_UDP || strchr(o->port, ':') !=
	    strrchr(o->port, ':'))
		die(EXIT_USAGE, "--port: '%s' is not udp:PORT", o->port);
	*port = f.port;
	if (keyfile_read(path, true, getuid(), key, why, sizeof(why)) == -1)
		die(EXIT_USAGE, "--key: %s", why);
}

static void
spa_send(const struct opts *o, int family)
{
	uint8_t key[KEYFILE_KEY_LEN], pkt[SPA_LEN_MAX];
	struct config_port port;
	struct spa_msg m;
	struct target t;
	size_t len;
	ssize_t n;

	memset(&m, 0, sizeof(m));
	if (strlen(o->spa) > CONFIG_NAME_MAX)
		die(EXIT_USAGE, "--spa: '%s' is longer than %d bytes", o->spa,
		    CONFIG_NAME_MAX);
	snprintf(m.name, sizeof(m.name), "%s", o->spa);
	if (o->address != NULL) {
		if (inet_pton(AF_INET, o->address, m.addr) == 1)
			m.family = AF_INET;
		else if (inet_pton(AF_INET6, o->address, m.addr) == 1)
			m.family = AF_INET6;
		else
			die(EXIT_USAGE, "-a: '%s' is not an address", o->address);
	}
	spa_settings(o, &port, key);
	memset(&t, 0, sizeof(t));
	resolve(o, family, &t);
	m.ts_ms = realtime_ms();
	randombytes_buf(m.nonce, sizeof(m.nonce));
	len = spa_encode(key, &m, pkt);
	sodium_memzero(key, sizeof(key));
	if (len == 0)
		die(EXIT_USAGE, "--spa: '%s' is not a trigger name", o->spa);
	if ((t.udp = socket(t.family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		die(EXIT_SEND, "udp socket: %s", strerror(errno));
	set_port(&t.dst, port.port);
	n = sendto(t.udp, pkt, len, 0, (struct sockaddr *)&t.dst, t.dstlen);
	if (n != (ssize_t)len)
		die(EXIT_SEND, "send to %s: %s", t.name, n == -1 ?
		    strerror(errno) : "short send");
	if (o->verbose)
		printf("sent spa %s (%zu bytes) to %s udp:%u\n", m.name, len,
		    t.name, port.port);
	close(t.udp);
}

int
main(int argc, char **argv)
{
	struct config *cfg = NULL;
	struct knock kn;
	struct target t;
	struct opts o;
	char why[STATEFILE_WHY_MAX];

	parse_args(argc, argv, &o);
	if (sodium_init() < 0)
		die(EXIT_SEND, "libsodium does not initialise");
	if (o.gen_key != NULL) {
		gen_key(o.gen_key);
		return 0;
	}
	if (o.spa != NULL) {
		/* One datagram per family, each with a nonce of its own. */
		spa_send(&o, o.both ? AF_INET : o.family);
		if (o.both)
			spa_send(&o, AF_INET6);
		return 0;
	}
	memset(&kn, 0, sizeof(kn));
	if (o.config != NULL)
		frames_from_config(&o, &kn, &cfg);
	else
		frames_from_args(&o, &kn);
	config_free(cfg);
	if (o.print) {
		frames_print(&kn);
		return 0;
	}
	memset(&t, 0, sizeof(t));
	resolve(&o, o.both ? AF_INET : o.family, &t);
	sockets_open(&kn, &t);
	/* Before sending: a sequence never goes out twice, even if we die. */
	if (kn.save_counter && statefile_save(kn.counter_path, kn.counter_next,
	    why, sizeof(why)) == -1)
		die(EXIT_USAGE, "counter: %s", why);
	knock_send(&o, &kn, &t);
	if (o.both) {
		close_target(&t);
		memset(&t, 0, sizeof(t));
		resolve(&o, AF_INET6, &t);
		sockets_open(&kn, &t);
		if (o.delay_ms > 0)
			sleep_ms(o.delay_ms);
		knock_send(&o, &kn, &t);
	}
	return 0;
}
