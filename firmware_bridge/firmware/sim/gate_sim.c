/*
 * gate-sim: the real firmware core on a pseudo-terminal, with the host HAL.
 *
 * Prints "PTY <path>" on stdout, then (with --trace) one JSON object per line for every
 * relay change, executed/duplicate/rejected command, challenge, session, event and injected
 * fault. stdin takes commands: "door open", "door close", "tamper on", "tamper off",
 * "status" (prints a JSON status line), "reboot" (reset the controller in place: sessions are
 * lost, the boot count is reloaded from --state) and "quit". With --exit-on-eof it also quits
 * when stdin closes (its parent died), so a crashed test or script leaves no orphan behind.
 * Every numeric flag is checked (a bad value is one line on stderr and exit status 2).
 * The key comes from an environment variable (hex, 64 digits), never from argv, so it
 * does not show up in `ps`; it is never printed.
 */
#define _XOPEN_SOURCE 600
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "gate.h"
#include "host.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse_key(const char *hex, uint8_t key[GATE_KEY_LEN])
{
	if (hex == NULL || strlen(hex) != 2 * GATE_KEY_LEN)
		return -1;
	for (size_t i = 0; i < GATE_KEY_LEN; i++) {
		int hi = hex_nibble(hex[2 * i]), lo = hex_nibble(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: gate-sim [--key-env VAR] [--heartbeat-ms N] [--max-open-ms N] [--door-held-ms N]\n"
		"                [--corrupt P] [--drop P] [--dup P] [--delay-ms N] [--seed N]\n"
		"                [--state FILE] [--fail-random] [--trace] [--exit-on-eof]\n");
}

/* A whole decimal number within [lo, hi]. @retval 0, or -1 (message printed). */
static int parse_ulong(const char *flag, const char *v, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end = NULL;
	unsigned long x;

	errno = 0;
	x = strtoul(v, &end, 10);
	if (v[0] == '-' || v[0] == 0 || *end != 0 || errno != 0 || x < lo || x > hi) {
		fprintf(stderr, "gate-sim: %s must be a whole number in %lu..%lu, got '%s'\n", flag, lo, hi, v);
		return -1;
	}
	*out = x;
	return 0;
}

static int parse_probability(const char *flag, const char *v, double *out)
{
	char *end = NULL;
	double x = strtod(v, &end);

	if (v[0] == 0 || *end != 0 || !(x >= 0.0 && x <= 1.0)) {
		fprintf(stderr, "gate-sim: %s must be a probability in 0..1, got '%s'\n", flag, v);
		return -1;
	}
	*out = x;
	return 0;
}

static int open_pty(char *path, size_t path_len, int *slave_out)
{
	struct termios tio;
	int master = posix_openpt(O_RDWR | O_NOCTTY);
	const char *name;
	int slave;

	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0)
		return -1;
	name = ptsname(master);
	if (name == NULL || strlen(name) + 1 > path_len)
		return -1;
	strcpy(path, name);
	/* Hold the slave open so the master never sees EIO between client sessions, and
	 * make it raw so the line discipline passes every byte through untouched. */
	slave = open(path, O_RDWR | O_NOCTTY);
	if (slave < 0 || tcgetattr(slave, &tio) < 0)
		return -1;
	tio.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	tio.c_oflag &= ~(tcflag_t)OPOST;
	tio.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	tio.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
	tio.c_cflag |= CS8;
	tio.c_cc[VMIN] = 1;
	tio.c_cc[VTIME] = 0;
	if (tcsetattr(slave, TCSANOW, &tio) < 0)
		return -1;
	fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
	*slave_out = slave;
	return master;
}

static struct gate_config g_cfg; /* kept for "reboot"; the key is wiped at exit */

static void handle_command(char *line, struct host_hal *h, gate_t **gate_io)
{
	struct gate_status st;
	gate_t *gate = *gate_io;
	struct gate_hal hal;

	line[strcspn(line, "\r\n")] = 0;
	if (strcmp(line, "door open") == 0) {
		h->door_open = 1;
	} else if (strcmp(line, "door close") == 0) {
		h->door_open = 0;
	} else if (strcmp(line, "tamper on") == 0) {
		h->tamper = 1;
	} else if (strcmp(line, "tamper off") == 0) {
		h->tamper = 0;
	} else if (strcmp(line, "quit") == 0) {
		g_stop = 1;
	} else if (strcmp(line, "reboot") == 0) {
		/* A reset: RAM (sessions included) is gone, NV storage is reloaded. */
		gate_deinit(gate);
		host_hal_bind(h, &hal);
		*gate_io = gate_init(&g_cfg, &hal);
		if (*gate_io == NULL) {
			fprintf(stderr, "gate-sim: gate_init failed on reboot\n");
			g_stop = 1;
			return;
		}
		gate_get_status(*gate_io, &st);
		printf("{\"ev\":\"reboot\",\"boot_count\":%u,\"faults\":%u}\n", st.boot_count, st.faults);
		fflush(stdout); /* always printed: callers wait for it */
	} else if (strcmp(line, "status") == 0) {
		gate_get_status(gate, &st);
		printf("{\"ev\":\"status\",\"relay\":%d,\"door\":%d,\"faults\":%u,\"boot_count\":%u,"
		       "\"sid\":%u,\"last_counter\":%u,\"frames_ok\":%u,\"frames_rejected\":%u,\"relay_opens\":%u,"
		       "\"corrupted_bytes\":%u,\"dropped_frames\":%u,\"duplicated_frames\":%u}\n",
		       st.relay_open, st.door_open, st.faults, st.boot_count, st.session_id, st.last_counter,
		       st.frames_ok, st.frames_rejected, h->relay_opens, h->stats.corrupted_bytes,
		       h->stats.dropped_frames, h->stats.duplicated_frames);
		fflush(stdout);
	} else if (line[0]) {
		fprintf(stderr, "gate-sim: unknown command '%s'\n", line);
	}
}

int main(int argc, char **argv)
{
	struct gate_config *cfg = &g_cfg;
	struct host_faults faults;
	struct host_hal host;
	struct gate_hal hal;
	const char *key_env = "BIOGATE_GATE_KEY", *state = NULL;
	char path[128], line[256];
	size_t line_len = 0;
	int trace = 0, master, slave, stdin_open = 1, exit_on_eof = 0;
	gate_t *gate;
	unsigned long x;

	memset(cfg, 0, sizeof(*cfg));
	memset(&faults, 0, sizeof(faults));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int bad = 0;
		if (strcmp(a, "--trace") == 0) {
			trace = 1;
			continue;
		}
		if (strcmp(a, "--fail-random") == 0) {
			faults.random_fail = 1; /* the entropy source is broken: no session may open */
			continue;
		}
		if (strcmp(a, "--exit-on-eof") == 0) {
			exit_on_eof = 1; /* run by a parent process: go when it goes */
			continue;
		}
		if (v == NULL) {
			usage();
			return 2;
		}
		i++;
		x = 0;
		if (strcmp(a, "--key-env") == 0) {
			key_env = v;
		} else if (strcmp(a, "--heartbeat-ms") == 0) {
			bad = parse_ulong(a, v, 1, 0xFFFFFFFFul, &x);
			cfg->heartbeat_timeout_ms = (uint32_t)x;
		} else if (strcmp(a, "--max-open-ms") == 0) {
			bad = parse_ulong(a, v, 1, 0xFFFF, &x); /* the OPEN duration field is 16 bits */
			cfg->max_open_ms = (uint32_t)x;
		} else if (strcmp(a, "--door-held-ms") == 0) {
			bad = parse_ulong(a, v, 1, 0xFFFFFFFFul, &x);
			cfg->door_held_ms = (uint32_t)x;
		} else if (strcmp(a, "--delay-ms") == 0) {
			bad = parse_ulong(a, v, 0, 60000, &x);
			faults.delay_ms = (uint32_t)x;
		} else if (strcmp(a, "--seed") == 0) {
			bad = parse_ulong(a, v, 0, 0xFFFFFFFFul, &x);
			faults.seed = x;
		} else if (strcmp(a, "--corrupt") == 0) {
			bad = parse_probability(a, v, &faults.corrupt);
		} else if (strcmp(a, "--drop") == 0) {
			bad = parse_probability(a, v, &faults.drop);
		} else if (strcmp(a, "--dup") == 0) {
			bad = parse_probability(a, v, &faults.dup);
		} else if (strcmp(a, "--state") == 0) {
			state = v;
		} else {
			usage();
			return 2;
		}
		if (bad)
			return 2;
	}
	if (parse_key(getenv(key_env), cfg->key) != 0) {
		fprintf(stderr, "gate-sim: environment variable %s must hold the 32-byte key as 64 hex digits\n",
			key_env);
		return 2;
	}
	master = open_pty(path, sizeof(path), &slave);
	if (master < 0) {
		fprintf(stderr, "gate-sim: cannot create a pseudo-terminal: %s\n", strerror(errno));
		return 1;
	}
	printf("PTY %s\n", path);
	fflush(stdout);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	host_hal_init(&host, master, &faults, trace ? stdout : NULL, state);
	host_hal_bind(&host, &hal);
	gate = gate_init(cfg, &hal);
	if (gate == NULL) {
		fprintf(stderr, "gate-sim: gate_init failed\n");
		return 1;
	}

	while (!g_stop) {
		struct pollfd fds[2];
		int wait_ms = 5, due = host_hal_poll(&host);
		if (due >= 0 && due < wait_ms)
			wait_ms = due;
		fds[0].fd = master;
		fds[0].events = POLLIN;
		fds[1].fd = stdin_open ? STDIN_FILENO : -1;
		fds[1].events = POLLIN;
		if (poll(fds, 2, wait_ms) < 0 && errno != EINTR)
			break;
		if (stdin_open && (fds[1].revents & (POLLIN | POLLHUP))) {
			ssize_t n = read(STDIN_FILENO, line + line_len, sizeof(line) - 1 - line_len);
			if (n <= 0) {
				stdin_open = 0; /* stdin closed: keep running until a signal, unless told otherwise */
				if (exit_on_eof)
					g_stop = 1;
			} else {
				line_len += (size_t)n;
				line[line_len] = 0;
				for (char *nl; (nl = strchr(line, '\n')) != NULL;) {
					*nl = 0;
					handle_command(line, &host, &gate);
					line_len -= (size_t)(nl + 1 - line);
					memmove(line, nl + 1, line_len + 1);
				}
				if (line_len == sizeof(line) - 1)
					line_len = 0;
			}
		}
		/* Drain everything that arrived in one wake-up, one bounded chunk per refresh. */
		do {
			if (gate_refresh(gate) == GATE_ERR_IO) {
				fprintf(stderr, "gate-sim: link error\n");
				g_stop = 1;
				break;
			}
		} while (host.ready_len > 0);
	}
	gate_deinit(gate);
	memset(cfg->key, 0, sizeof(cfg->key));
	close(slave);
	close(master);
	return 0;
}
