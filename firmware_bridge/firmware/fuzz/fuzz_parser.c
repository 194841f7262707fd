/*
 * libFuzzer target for the frame parser, the handshake and the controller state machine.
 *
 * Mode byte (first input byte): bit0 selects the mode; bits 1-2 the NV storage (0 none,
 * 1 works, 2 load fails, 3 store fails); bit3 a failing entropy source for the first
 * handshake; bits 4-7 the chunk size of raw feeding. The clock starts near the 32-bit wrap.
 *   0: the rest is raw UART input, fed to a controller in random-sized chunks while a fake
 *      clock advances. The key is secret to the fuzzer, so no session can ever be confirmed:
 *      the relay must never open and the controller must never send a session frame.
 *   1: the rest is a script that the harness plays as the host: it handshakes (HELLO, checks
 *      the CHALLENGE, derives the session key), signs commands with the current, a previous
 *      or a dead session's key, replays earlier frames verbatim, resets the controller, and
 *      duplicates/corrupts/truncates frames. Invariants: every controller frame verifies (REFUSE
 *      under the device key, the rest under a session the harness opened); executed counters
 *      strictly increase within a session; nothing executes in a session opened before the
 *      last reset; the relay is never open for longer than max_open_ms in a row.
 * Any violation calls abort(); ASan/UBSan catch memory and undefined-behaviour errors.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gate.h"
#include "gate_config.h"
#include "gate_frame.h"
#include "gate_session.h"

#define MAX_OPEN_MS 3000u
#define MAX_KEYS 16
#define RING 16

static const uint8_t KEY[GATE_KEY_LEN] = {0x5a, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa,
					  0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
					  0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};

struct fz {
	const uint8_t *in;
	size_t in_len, in_off, chunk;
	uint32_t now;
	int relay, script, door, nv_mode, rng_fail;
	uint64_t rng;
	uint32_t nv_value, opened_at;
	/* sessions the harness opened: keys[] (all, for checking controller frames) and the ids
	 * opened since the last reset (the only ones allowed to execute anything) */
	uint8_t keys[MAX_KEYS][GATE_SESSION_KEY_LEN];
	int nkeys;
	uint32_t live_ids[MAX_KEYS];
	int nlive;
	uint32_t exec_sid, exec_counter;
	int have_exec;
	/* the last CHALLENGE seen on the wire */
	int chal_seen;
	uint16_t chal_seq;
	uint8_t chal_nonce[GATE_NONCE_LEN];
	uint8_t chal_raw[GATE_MAX_FRAME_LEN];
	size_t chal_len;
};

static struct fz F;

static int f_send(void *ctx, const uint8_t *buf, int len)
{
	uint8_t scratch[GATE_MAX_FRAME_LEN];
	struct gate_frame fr;
	int start = 0, ok;

	(void)ctx;
	for (int i = 0; i < len; i++) {
		if (buf[i] != 0)
			continue;
		if (gate_frame_decode(buf + start, (size_t)(i - start), scratch, sizeof(scratch), &fr) != GATE_OK)
			abort(); /* everything the controller says is a well-formed frame */
		start = i + 1;
		if (fr.type == GATE_MSG_REFUSE) {
			if (!gate_frame_verify_tag(&fr, KEY))
				abort();
		} else if (fr.type == GATE_MSG_CHALLENGE) {
			F.chal_seen = 1;
			F.chal_seq = fr.seq;
			memcpy(F.chal_nonce, fr.payload, GATE_NONCE_LEN);
			F.chal_len = (size_t)fr.payload_len + GATE_HEADER_LEN + GATE_CRC_LEN;
			memcpy(F.chal_raw, scratch, F.chal_len);
		} else if (fr.type >= GATE_MSG_ACK && gate_msg_has_counter(fr.type)) {
			ok = 0;
			if (!F.script)
				abort(); /* a session exists although nobody knew the key */
			for (int k = 0; k < F.nkeys && !ok; k++)
				ok = gate_frame_verify_tag(&fr, F.keys[k]);
			if (!ok)
				abort();
		} else {
			abort(); /* the controller only ever sends controller types */
		}
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
		if (!F.script)
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

static int f_random(void *ctx, uint8_t *buf, int len)
{
	(void)ctx;
	if (F.rng_fail)
		return -1;
	for (int i = 0; i < len; i++) { /* deterministic per input: the fuzzer must reproduce */
		F.rng ^= F.rng << 13;
		F.rng ^= F.rng >> 7;
		F.rng ^= F.rng << 17;
		buf[i] = (uint8_t)(F.rng >> 24);
	}
	return len;
}

static int f_load(void *ctx, uint32_t *v)
{
	(void)ctx;
	*v = F.nv_value;
	return F.nv_mode == 2 ? -1 : 0;
}

static int f_store(void *ctx, uint32_t v)
{
	(void)ctx;
	if (F.nv_mode == 3)
		return -1;
	F.nv_value = v;
	return 0;
}

static void f_trace(void *ctx, const struct gate_trace *ev)
{
	int live = 0;

	(void)ctx;
	if (ev->kind != GATE_TRACE_EXEC)
		return;
	for (int i = 0; i < F.nlive; i++)
		live |= F.live_ids[i] == ev->session;
	if (!live)
		abort(); /* executed in a session from before the last reset, or one the host never opened */
	if (F.have_exec && ev->session == F.exec_sid && ev->b <= F.exec_counter)
		abort(); /* executed a replay */
	F.have_exec = 1;
	F.exec_sid = ev->session;
	F.exec_counter = ev->b;
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
	hal.random = f_random;
	if (F.nv_mode) {
		hal.boot_count_load = f_load;
		hal.boot_count_store = f_store;
	}
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

/* ---- script mode ------------------------------------------------------------------------- */

struct host {
	uint8_t stream[64 * GATE_MAX_WIRE_LEN];
	size_t len;
	uint8_t *cur, *prev, dead[GATE_SESSION_KEY_LEN];
	uint32_t counter;
	uint8_t ring[RING][GATE_MAX_WIRE_LEN];
	int ring_len[RING], nring;
	uint8_t hello[GATE_MAX_WIRE_LEN];
	int hello_len;
};

static void deliver(gate_t *g, struct host *h)
{
	F.in = h->stream;
	F.in_len = h->len;
	while (F.in_off < F.in_len)
		tick(g, 1);
}

/* Append a frame to the stream (with the record's damage) and let the controller read it. */
static void put(gate_t *g, struct host *h, const uint8_t *wire, int n, uint8_t flags, uint8_t junk)
{
	uint8_t *p = h->stream + h->len;

	if (n <= 0 || h->len + 2 * (size_t)n > sizeof(h->stream))
		return;
	memcpy(p, wire, (size_t)n);
	if (flags & 2) { /* duplicate (retransmission) */
		memcpy(p + n, p, (size_t)n);
		n *= 2;
	}
	if (flags & 4) /* corrupt one byte */
		p[junk % (size_t)n] ^= (uint8_t)(junk | 1);
	if (flags & 8) /* truncate */
		n = n / 2;
	h->len += (size_t)n;
	deliver(g, h);
}

static void handshake(gate_t *g, struct host *h, uint8_t seed, uint16_t seq, uint8_t flags)
{
	uint8_t nonce[GATE_NONCE_LEN];
	struct gate_frame fr;

	if (F.nkeys == MAX_KEYS || F.nlive == MAX_KEYS)
		return;
	for (size_t i = 0; i < sizeof(nonce); i++)
		nonce[i] = (uint8_t)(seed + 31 * i + F.nkeys);
	h->hello_len = gate_frame_build(GATE_MSG_HELLO, seq, nonce, sizeof(nonce), NULL, h->hello, sizeof(h->hello));
	F.chal_seen = 0;
	put(g, h, h->hello, h->hello_len, (uint8_t)(flags & 2), 0);
	if (!F.chal_seen || F.chal_seq != seq)
		return; /* refused (entropy) or not answered: the old session stays current */
	if (gate_frame_parse(F.chal_raw, F.chal_len, &fr) != GATE_OK)
		abort();
	gate_session_derive(KEY, nonce, F.chal_nonce, F.keys[F.nkeys]);
	if (!gate_frame_verify_tag(&fr, F.keys[F.nkeys]))
		abort(); /* the controller's CHALLENGE must prove it holds K and saw this HELLO */
	F.live_ids[F.nlive++] = gate_get_u32(F.chal_nonce);
	h->prev = h->cur;
	h->cur = F.keys[F.nkeys++];
	h->counter = 0;
}

/* 8-byte records {op, seq, arg_lo, arg_hi, ctr, flags, dt, junk}:
 *   op & 7:  0,1,6 OPEN  2 DENY  3 ALARM  4 HEARTBEAT  5 STATUS?  7 HELLO (arg_hi & 1: reset instead)
 *   op & 8:  sign with the previous session's key; op & 16: with a dead (pre-reset) key
 *   op & 32: replay an earlier frame verbatim (ring[arg_lo]) instead
 *   flags:   1 counter steps back, 2 duplicate, 4 corrupt, 8 truncate, 16 door open, 32 entropy fails */
static void run_script(gate_t **gp, const uint8_t *data, size_t size)
{
	static struct host h;
	static const uint8_t types[8] = {GATE_MSG_OPEN, GATE_MSG_OPEN, GATE_MSG_DENY, GATE_MSG_ALARM,
					 GATE_MSG_HEARTBEAT, GATE_MSG_STATUS_REQ, GATE_MSG_OPEN, GATE_MSG_HELLO};

	memset(&h, 0, sizeof(h));
	memset(h.dead, 0x33, sizeof(h.dead));
	h.cur = h.prev = h.dead;
	F.script = 1;
	handshake(*gp, &h, 0x42, 0xFFF0, 0);
	for (size_t i = 0; i + 8 <= size && h.len + 4 * GATE_MAX_WIRE_LEN < sizeof(h.stream); i += 8) {
		const uint8_t *r = data + i;
		uint8_t op = r[0], type = types[op & 7], body[12], wire[GATE_MAX_WIRE_LEN];
		const uint8_t *key = (op & 16) ? h.dead : (op & 8) ? h.prev : h.cur;
		size_t bl = 0;
		int n;

		F.door = (r[5] >> 4) & 1;
		F.rng_fail = (r[5] >> 5) & 1;
		if ((op & 32) && h.nring > 0) {
			int k = r[2] % h.nring;
			put(*gp, &h, h.ring[k], h.ring_len[k], r[5], r[7]);
		} else if (type == GATE_MSG_HELLO && (r[3] & 1)) {
			/* Reset: RAM is gone; every key the host holds is now dead. */
			gate_deinit(*gp);
			*gp = start();
			if (*gp == NULL)
				abort();
			F.nlive = 0;
			F.have_exec = 0;
			if (h.cur != h.dead)
				memcpy(h.dead, h.cur, sizeof(h.dead));
			h.cur = h.prev = h.dead;
		} else if (type == GATE_MSG_HELLO) {
			if (r[5] & 2 && h.hello_len > 0)
				put(*gp, &h, h.hello, h.hello_len, 0, 0); /* a retransmitted HELLO */
			else
				handshake(*gp, &h, r[2], r[1], r[5]);
		} else {
			h.counter = (r[5] & 1) ? h.counter - (r[4] & 3) : h.counter + (r[4] & 3); /* replays included */
			if (type == GATE_MSG_OPEN) {
				body[0] = r[2];
				body[1] = r[3] & 0x0f;
				body[2] = 0;
				bl = 3;
			} else if (type == GATE_MSG_DENY || type == GATE_MSG_ALARM) {
				body[0] = r[2];
				bl = 1;
			}
			gate_put_u32(body + bl, h.counter);
			bl += 4;
			n = gate_frame_build(type, r[1], body, bl, key, wire, sizeof(wire));
			if (n > 0 && h.nring < RING) {
				memcpy(h.ring[h.nring], wire, (size_t)n);
				h.ring_len[h.nring++] = n;
			}
			put(*gp, &h, wire, n, r[5], r[7]);
		}
		tick(*gp, (uint32_t)r[6] * 8u);
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
	F.nv_mode = (data[0] >> 1) & 3;
	F.nv_value = 7;
	F.rng = 0x9E3779B97F4A7C15ull ^ data[0];
	F.rng_fail = (data[0] >> 3) & 1;
	(void)gate_frame_decode(data + 1, size - 1, scratch, sizeof(scratch), &fr);
	g = start();
	if (g == NULL)
		abort();
	if (data[0] & 1) {
		run_script(&g, data + 1, size - 1);
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
