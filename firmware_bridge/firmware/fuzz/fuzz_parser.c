/*
 * libFuzzer target for the frame parser and the controller state machine.
 *
 * Mode byte (first input byte, low bit):
 *   0: the rest is raw UART input, fed to a controller in random-sized chunks while a fake
 *      clock advances. The key is secret to the fuzzer, so the relay must never open.
 *   1: the rest is a script of commands that the harness signs with the real key, so the
 *      fuzzer reaches execution, de-duplication, replay and timer paths. Invariants: every
 *      executed counter is greater than the previous one, and the relay is never open for
 *      longer than max_open_ms in a row.
 * Any violation calls abort(); ASan/UBSan catch memory and undefined-behaviour errors.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gate.h"
#include "gate_config.h"
#include "gate_frame.h"

#define MAX_OPEN_MS 3000u

static const uint8_t KEY[GATE_KEY_LEN] = {0x5a, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa,
					  0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
					  0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};

struct fz {
	const uint8_t *in;
	size_t in_len, in_off, chunk;
	uint32_t now;
	int relay, forged_ok;
	uint32_t opened_at, last_exec_counter;
	int have_exec;
	int door;
};

static struct fz F;

static int f_send(void *ctx, const uint8_t *buf, int len)
{
	uint8_t scratch[GATE_MAX_FRAME_LEN];
	struct gate_frame fr;
	int start = 0;

	(void)ctx;
	/* Everything the controller says must itself be a valid, verifiable frame. */
	for (int i = 0; i < len; i++) {
		if (buf[i] != 0)
			continue;
		if (gate_frame_decode(buf + start, (size_t)(i - start), scratch, sizeof(scratch), &fr) != GATE_OK ||
		    !gate_frame_verify_tag(&fr, KEY))
			abort();
		start = i + 1;
	}
	return len;
}

static int f_recv(void *ctx, uint8_t *buf, int maxlen)
{
	size_t n = F.in_len - F.in_off;

	(void)ctx;
	if (n > F.chunk)
		n = F.chunk;
	if (n > (size_t)maxlen)
		n = (size_t)maxlen;
	memcpy(buf, F.in + F.in_off, n);
	F.in_off += n;
	return (int)n;
}

static uint32_t f_millis(void *ctx)
{
	(void)ctx;
	return F.now;
}

static void f_relay(void *ctx, int on)
{
	(void)ctx;
	if (on && !F.relay) {
		if (!F.forged_ok)
			abort(); /* opened without a validly signed command */
		F.opened_at = F.now;
	}
	F.relay = on;
}

static int f_door(void *ctx)
{
	(void)ctx;
	return F.door;
}

static void f_trace(void *ctx, const struct gate_trace *ev)
{
	(void)ctx;
	if (ev->kind == GATE_TRACE_EXEC) {
		if (F.have_exec && ev->b <= F.last_exec_counter)
			abort(); /* executed a replay */
		F.have_exec = 1;
		F.last_exec_counter = ev->b;
	}
}

static gate_t *start(void)
{
	struct gate_config cfg;
	struct gate_hal hal;

	memset(&cfg, 0, sizeof(cfg));
	memset(&hal, 0, sizeof(hal));
	memcpy(cfg.key, KEY, sizeof(KEY));
	cfg.heartbeat_timeout_ms = 500;
	cfg.max_open_ms = MAX_OPEN_MS;
	cfg.door_held_ms = 700;
	hal.send = f_send;
	hal.recv = f_recv;
	hal.millis = f_millis;
	hal.relay_set = f_relay;
	hal.door_is_open = f_door;
	hal.trace = f_trace;
	return gate_init(&cfg, &hal);
}

static void tick(gate_t *g, uint32_t ms)
{
	F.now += ms;
	gate_refresh(g);
	/* after any refresh the relay has been open for at most max_open_ms */
	if (F.relay && (uint32_t)(F.now - F.opened_at) > MAX_OPEN_MS)
		abort();
}

/* Script mode: 8-byte records {type, seq, arg_lo, arg_hi, counter_lo, flags, dt, junk}. */
static void run_script(gate_t *g, const uint8_t *data, size_t size)
{
	static const uint8_t types[8] = {GATE_MSG_OPEN, GATE_MSG_OPEN, GATE_MSG_DENY, GATE_MSG_ALARM,
					 GATE_MSG_HEARTBEAT, GATE_MSG_STATUS_REQ, GATE_MSG_OPEN, 0x7f};
	uint8_t stream[64 * GATE_MAX_WIRE_LEN];
	size_t len = 0;
	uint32_t counter = 0;

	F.forged_ok = 1;
	for (size_t i = 0; i + 8 <= size && len + 2 * GATE_MAX_WIRE_LEN < sizeof(stream); i += 8) {
		const uint8_t *r = data + i;
		uint8_t type = types[r[0] & 7], body[8];
		size_t bl = 0;
		int n;
		counter = (r[5] & 1) ? counter - (r[4] & 3) : counter + (r[4] & 3); /* replays included */
		if (type == GATE_MSG_OPEN) {
			body[0] = r[2];
			body[1] = r[3] & 0x0f;
			body[2] = 0;
			bl = 3;
		} else if (type == GATE_MSG_DENY || type == GATE_MSG_ALARM) {
			body[0] = r[2];
			bl = 1;
		}
		if (gate_msg_has_counter(type)) {
			gate_put_u32(body + bl, counter);
			bl += 4;
		}
		n = gate_frame_build(type, r[1], body, bl, KEY, stream + len, sizeof(stream) - len);
		if (n <= 0)
			continue;
		if (r[5] & 2) /* duplicate (retransmission) */
			memcpy(stream + len + n, stream + len, (size_t)n), n *= 2;
		if (r[5] & 4) /* corrupt one byte */
			stream[len + (r[7] % (size_t)n)] ^= (uint8_t)(r[7] | 1);
		if (r[5] & 8) /* truncate */
			n = n / 2;
		len += (size_t)n;
		F.door = (r[5] >> 4) & 1;
		F.in = stream;
		F.in_len = len;
		while (F.in_off < F.in_len)
			tick(g, 1);
		tick(g, (uint32_t)r[6] * 8u);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gate_t *g;
	uint8_t scratch[GATE_MAX_FRAME_LEN];
	struct gate_frame fr;

	if (size == 0)
		return 0;
	memset(&F, 0, sizeof(F));
	F.now = 0xFFFFFF00u ^ ((uint32_t)data[0] << 8); /* start near the 32-bit wrap sometimes */
	F.chunk = 1 + (data[0] >> 4);
	(void)gate_frame_decode(data + 1, size - 1, scratch, sizeof(scratch), &fr);
	g = start();
	if (g == NULL)
		abort();
	if (data[0] & 1) {
		run_script(g, data + 1, size - 1);
	} else {
		F.in = data + 1;
		F.in_len = size - 1;
		while (F.in_off < F.in_len)
			tick(g, (uint32_t)(data[F.in_off] & 3));
		tick(g, 1000);
	}
	gate_deinit(g);
	return 0;
}
