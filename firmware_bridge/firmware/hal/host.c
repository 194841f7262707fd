/*
 * Host HAL for the gate firmware: the UART is a file descriptor (a pty master in the
 * simulator), the relay is a variable, the door sensor and tamper switch are driven from
 * the simulator's stdin, the clock is CLOCK_MONOTONIC. Faults are injected per frame
 * (drop, duplicate, delay) and per byte (corrupt) in both directions.
 */
#define _POSIX_C_SOURCE 200809L
#include "host.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

static int hal_counter_load(void *ctx, uint32_t *value)
{
	struct host_hal *h = ctx;
	FILE *f;
	unsigned long v = 0;

	*value = h->counter_ram;
	if (h->state_path == NULL)
		return 0;
	f = fopen(h->state_path, "r");
	if (f == NULL)
		return 0; /* first boot: no counter stored yet */
	if (fscanf(f, "%lu", &v) == 1)
		*value = h->counter_ram = (uint32_t)v;
	fclose(f);
	return 0;
}

static int hal_counter_store(void *ctx, uint32_t value)
{
	struct host_hal *h = ctx;
	FILE *f;

	h->counter_ram = value;
	if (h->state_path == NULL)
		return 0;
	f = fopen(h->state_path, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "%lu\n", (unsigned long)value);
	return fclose(f) == 0 ? 0 : -1;
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
		fprintf(f, "{\"t\":%u,\"ev\":\"exec\",\"type\":%u,\"seq\":%u,\"counter\":%u}\n", ev->now_ms, ev->a,
			ev->seq, ev->b);
		break;
	case GATE_TRACE_DUP:
		fprintf(f, "{\"t\":%u,\"ev\":\"dup\",\"type\":%u,\"seq\":%u,\"counter\":%u}\n", ev->now_ms, ev->a,
			ev->seq, ev->b);
		break;
	case GATE_TRACE_REJECT:
		fprintf(f, "{\"t\":%u,\"ev\":\"reject\",\"error\":\"%s\",\"seq\":%u,\"counter\":%u}\n", ev->now_ms,
			gate_strerror(-(int)ev->a), ev->seq, ev->b);
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
	out->counter_load = hal_counter_load;
	out->counter_store = hal_counter_store;
	out->trace = hal_trace;
}
