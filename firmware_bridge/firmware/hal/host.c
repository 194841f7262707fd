/*
 * Host HAL for the gate firmware: the UART is a file descriptor (a pty master in the
 * simulator), the relay is a variable, the door sensor and tamper switch are driven from
 * the simulator's stdin, the clock is CLOCK_MONOTONIC. Faults are injected per frame
 * (drop, duplicate, delay) and per byte (corrupt) in both directions.
 */
#define _DEFAULT_SOURCE /* getrandom(2) in glibc and musl */
#define _POSIX_C_SOURCE 200809L
#include "host.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/random.h>
#endif

#include "gate_crc.h"

#define STATE_MAGIC "biogate-gate-state v2"
#define STATE_MAX_LEN 96

uint32_t host_millis(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

static uint64_t rng_next(struct host_hal *h)
{
	/* xorshift64*: deterministic per --seed, good enough for fault injection */
	h->rng ^= h->rng >> 12;
	h->rng ^= h->rng << 25;
	h->rng ^= h->rng >> 27;
	return h->rng * 2685821657736338717ull;
}

static int chance(struct host_hal *h, double p)
{
	if (p <= 0.0)
		return 0;
	return (double)(rng_next(h) >> 11) / 9007199254740992.0 < p;
}

static void trace_fault(struct host_hal *h, const char *dir, const char *kind)
{
	if (h->trace) {
		fprintf(h->trace, "{\"t\":%u,\"ev\":\"fault\",\"dir\":\"%s\",\"kind\":\"%s\"}\n",
			host_millis(), dir, kind);
		fflush(h->trace);
	}
}

/* Apply byte corruption to a frame in place. */
static void corrupt(struct host_hal *h, uint8_t *buf, size_t len, const char *dir)
{
	for (size_t i = 0; i < len; i++) {
		if (chance(h, h->faults.corrupt)) {
			uint8_t flip = (uint8_t)(rng_next(h) >> 56);
			buf[i] ^= flip ? flip : 0x01;
			h->stats.corrupted_bytes++;
			trace_fault(h, dir, "corrupt");
		}
	}
}

static void write_all(struct host_hal *h, const uint8_t *buf, size_t len)
{
	/* A UART shifts bytes out whether or not anyone listens: what the pty cannot take is lost. */
	while (len > 0) {
		ssize_t n = write(h->fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				h->link_dead = 1;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

static void emit(struct host_hal *h, const uint8_t *frame, size_t len)
{
	if (h->faults.delay_ms == 0) {
		write_all(h, frame, len);
		return;
	}
	if (h->delayed_count == HOST_DELAY_SLOTS || len > HOST_STAGE_LEN) {
		trace_fault(h, "tx", "delay_overflow");
		return;
	}
	h->delayed[h->delayed_count].due_ms = host_millis() + h->faults.delay_ms;
	h->delayed[h->delayed_count].len = (uint16_t)len;
	memcpy(h->delayed[h->delayed_count].data, frame, len);
	h->delayed_count++;
}

int host_hal_poll(struct host_hal *h)
{
	uint32_t now = host_millis();
	int next = -1;

	while (h->delayed_count > 0) {
		int32_t left = (int32_t)(h->delayed[0].due_ms - now);
		if (left > 0) {
			next = (int)left;
			break;
		}
		write_all(h, h->delayed[0].data, h->delayed[0].len);
		h->delayed_count--;
		memmove(&h->delayed[0], &h->delayed[1], (size_t)h->delayed_count * sizeof(h->delayed[0]));
	}
	return next;
}

static int hal_send(void *ctx, const uint8_t *buf, int len)
{
	struct host_hal *h = ctx;
	uint8_t frame[HOST_STAGE_LEN];
	size_t n = (size_t)len;

	if (h->link_dead)
		return -1;
	if (n > sizeof(frame))
		n = sizeof(frame);
	/* The core hands over whole frames (delimiter included): faults apply per frame. */
	memcpy(frame, buf, n);
	if (chance(h, h->faults.drop)) {
		h->stats.dropped_frames++;
		trace_fault(h, "tx", "drop");
		return len;
	}
	corrupt(h, frame, n, "tx");
	emit(h, frame, n);
	if (chance(h, h->faults.dup)) {
		h->stats.duplicated_frames++;
		trace_fault(h, "tx", "dup");
		emit(h, frame, n);
	}
	return len;
}

static void stage_ready(struct host_hal *h, const uint8_t *buf, size_t len)
{
	if (h->ready_len + len > sizeof(h->ready))
		return; /* the core is not keeping up: lose it like a UART overrun would */
	memcpy(h->ready + h->ready_len, buf, len);
	h->ready_len += len;
}

static void frame_complete(struct host_hal *h)
{
	if (chance(h, h->faults.drop)) {
		h->stats.dropped_frames++;
		trace_fault(h, "rx", "drop");
	} else {
		corrupt(h, h->in_frame, h->in_len, "rx");
		stage_ready(h, h->in_frame, h->in_len);
		if (chance(h, h->faults.dup)) {
			h->stats.duplicated_frames++;
			trace_fault(h, "rx", "dup");
			stage_ready(h, h->in_frame, h->in_len);
		}
	}
	h->in_len = 0;
}

static int hal_recv(void *ctx, uint8_t *buf, int maxlen)
{
	struct host_hal *h = ctx;
	uint8_t raw[HOST_STAGE_LEN];
	ssize_t n;
	size_t give;

	if (h->link_dead)
		return -1;
	n = read(h->fd, raw, sizeof(raw));
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != EIO)
		h->link_dead = 1;
	for (ssize_t i = 0; i < n; i++) {
		h->in_frame[h->in_len++] = raw[i];
		if (raw[i] == 0 || h->in_len == sizeof(h->in_frame))
			frame_complete(h);
	}
	give = h->ready_len < (size_t)maxlen ? h->ready_len : (size_t)maxlen;
	if (give == 0)
		return 0;
	memcpy(buf, h->ready, give);
	memmove(h->ready, h->ready + give, h->ready_len - give);
	h->ready_len -= give;
	return (int)give;
}

static uint32_t hal_millis(void *ctx)
{
	(void)ctx;
	return host_millis();
}

static void hal_relay_set(void *ctx, int on)
{
	struct host_hal *h = ctx;

	if (on && !h->relay)
		h->relay_opens++;
	h->relay = on;
}

static int hal_door(void *ctx) { return ((struct host_hal *)ctx)->door_open; }
static int hal_tamper(void *ctx) { return ((struct host_hal *)ctx)->tamper; }

static void hal_alarm(void *ctx, int kind)
{
	struct host_hal *h = ctx;

	h->alarm = kind;
	if (h->trace) {
		fprintf(h->trace, "{\"t\":%u,\"ev\":\"alarm\",\"kind\":%d}\n", host_millis(), kind);
		fflush(h->trace);
	}
}

int host_random(uint8_t *buf, int len)
{
	int got = 0, fd;

#if defined(__linux__)
	while (got < len) {
		ssize_t n = getrandom(buf + got, (size_t)(len - got), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* ENOSYS on an old kernel: fall back to the device */
		got += (int)n;
	}
	if (got == len)
		return len;
#endif
	fd = open("/dev/urandom", O_RDONLY);
	if (fd < 0)
		return -1;
	got = 0;
	while (got < len) {
		ssize_t n = read(fd, buf + got, (size_t)(len - got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (int)n;
	}
	close(fd);
	return got == len ? len : -1;
}

/* The one canonical text of a state file: magic, value and a CRC over both, newline-terminated. */
static int state_text(char *buf, size_t cap, uint32_t boot_count)
{
	int n = snprintf(buf, cap, STATE_MAGIC " boot_count=%lu", (unsigned long)boot_count);
	int m;

	if (n < 0 || (size_t)n >= cap)
		return -1;
	m = snprintf(buf + n, cap - (size_t)n, " crc=%04x\n", gate_crc16((const uint8_t *)buf, (size_t)n));
	return m < 0 || (size_t)(n + m) >= cap ? -1 : n + m;
}

int host_state_load(const char *path, uint32_t *boot_count)
{
	char got[STATE_MAX_LEN + 1], want[STATE_MAX_LEN + 1];
	unsigned long value;
	ssize_t n;
	int fd = open(path, O_RDONLY), len;

	if (fd < 0)
		return -1; /* missing: first boot and deletion look the same, so both fail closed */
	n = read(fd, got, STATE_MAX_LEN);
	close(fd);
	if (n <= 0)
		return -1;
	got[n] = 0;
	if (sscanf(got, STATE_MAGIC " boot_count=%10lu", &value) != 1 || value > 0xFFFFFFFFul)
		return -1;
	/* Accept only the exact canonical text: a truncated, padded or edited file is corrupt. */
	len = state_text(want, sizeof(want), (uint32_t)value);
	if (len < 0 || (ssize_t)len != n || memcmp(got, want, (size_t)len) != 0)
		return -1;
	*boot_count = (uint32_t)value;
	return 0;
}

static int write_all_fd(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int host_state_store(const char *path, uint32_t boot_count)
{
	char text[STATE_MAX_LEN + 1], tmp[4096], dir[4096];
	const char *slash = strrchr(path, '/');
	int len = state_text(text, sizeof(text), boot_count), fd, ok;

	if (len < 0 || snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	ok = write_all_fd(fd, text, (size_t)len) == 0 && fsync(fd) == 0;
	if (close(fd) != 0 || !ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	/* The rename is durable only once the folder's entry is on disk. */
	if (slash == NULL)
		strcpy(dir, ".");
	else if (slash == path)
		strcpy(dir, "/");
	else if ((size_t)(slash - path) < sizeof(dir)) {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = 0;
	} else {
		return -1;
	}
	fd = open(dir, O_RDONLY);
	if (fd < 0)
		return -1;
	ok = fsync(fd) == 0;
	close(fd);
	return ok ? 0 : -1;
}

static int hal_random(void *ctx, uint8_t *buf, int len)
{
	struct host_hal *h = ctx;

	if (h->faults.random_fail)
		return -1;
	return host_random(buf, len);
}

static int hal_boot_count_load(void *ctx, uint32_t *count)
{
	return host_state_load(((struct host_hal *)ctx)->state_path, count);
}

static int hal_boot_count_store(void *ctx, uint32_t count)
{
	return host_state_store(((struct host_hal *)ctx)->state_path, count);
}

static const char *relay_reason(uint32_t r)
{
	switch (r) {
	case GATE_RELAY_CMD_OPEN: return "open";
	case GATE_RELAY_EXPIRED: return "expired";
	case GATE_RELAY_HEARTBEAT_LOST: return "heartbeat_lost";
	case GATE_RELAY_DENY: return "deny";
	case GATE_RELAY_ALARM: return "alarm";
	default: return "?";
	}
}

static void hal_trace(void *ctx, const struct gate_trace *ev)
{
	struct host_hal *h = ctx;
	FILE *f = h->trace;

	if (f == NULL)
		return;
	switch (ev->kind) {
	case GATE_TRACE_RELAY:
		fprintf(f, "{\"t\":%u,\"ev\":\"relay\",\"on\":%u,\"reason\":\"%s\"}\n", ev->now_ms, ev->a,
			relay_reason(ev->b));
		break;
	case GATE_TRACE_EXEC:
	case GATE_TRACE_DUP:
		fprintf(f, "{\"t\":%u,\"ev\":\"%s\",\"type\":%u,\"seq\":%u,\"counter\":%u,\"sid\":%u}\n", ev->now_ms,
			ev->kind == GATE_TRACE_EXEC ? "exec" : "dup", ev->a, ev->seq, ev->b, ev->session);
		break;
	case GATE_TRACE_REJECT:
		fprintf(f, "{\"t\":%u,\"ev\":\"reject\",\"error\":\"%s\",\"seq\":%u,\"counter\":%u,\"sid\":%u}\n",
			ev->now_ms, gate_strerror(-(int)ev->a), ev->seq, ev->b, ev->session);
		break;
	case GATE_TRACE_CHALLENGE:
	case GATE_TRACE_SESSION:
		fprintf(f, "{\"t\":%u,\"ev\":\"%s\",\"seq\":%u,\"sid\":%u,\"handshake\":%u}\n", ev->now_ms,
			ev->kind == GATE_TRACE_CHALLENGE ? "challenge" : "session", ev->seq, ev->a, ev->b);
		break;
	case GATE_TRACE_EVENT:
		fprintf(f, "{\"t\":%u,\"ev\":\"event\",\"kind\":%u}\n", ev->now_ms, ev->a);
		break;
	default:
		return;
	}
	fflush(f);
}

void host_hal_init(struct host_hal *h, int fd, const struct host_faults *faults, FILE *trace,
		   const char *state_path)
{
	memset(h, 0, sizeof(*h));
	h->fd = fd;
	if (faults)
		h->faults = *faults;
	h->rng = h->faults.seed ? h->faults.seed : 0x9E3779B97F4A7C15ull;
	h->trace = trace;
	h->state_path = state_path;
}

void host_hal_bind(struct host_hal *h, struct gate_hal *out)
{
	memset(out, 0, sizeof(*out));
	out->ctx = h;
	out->send = hal_send;
	out->recv = hal_recv;
	out->millis = hal_millis;
	out->relay_set = hal_relay_set;
	out->door_is_open = hal_door;
	out->tamper = hal_tamper;
	out->alarm = hal_alarm;
	out->random = hal_random;
	if (h->state_path != NULL) {
		out->boot_count_load = hal_boot_count_load;
		out->boot_count_store = hal_boot_count_store;
	}
	out->trace = hal_trace;
}
