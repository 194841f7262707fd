/*
 * C unit tests of the firmware core, part 2: the state machine through the mock HAL
 * (mock_hal.c) - handshake, sessions, execute-once, replay (in a session, across sessions,
 * across resets with NV storage lost), entropy and NV failures, timers, events, bad input.
 */
#include <string.h>

#include "gate_cobs.h"
#include "gate_crc.h"
#include "mock_hal.h"

/* A fresh controller with a confirmed session (STATUS? counter 1, its replies drained). */
static gate_t *gate_with_session(struct mock *m, uint32_t hb_ms, uint32_t max_open_ms)
{
	gate_t *g = make_gate(m, hb_ms, max_open_ms);

	CHECK(g != NULL && open_session(g, m, 0x10, 900));
	send_cmd(m, GATE_MSG_STATUS_REQ, 901, 0, ++m->counter);
	pump(g, m);
	drain(m);
	return g;
}

static void test_boot_and_handshake(void)
{
	struct mock m = {0};
	struct gate_frame f;
	struct gate_status st;
	uint8_t scratch[GATE_MAX_FRAME_LEN], first[GATE_NONCE_LEN];
	gate_t *g;

	m.now = 1000;
	m.nv = 41;
	g = make_gate(&m, 1000, 5000);
	CHECK(g != NULL && m.nv == 42); /* the reset is counted before anything else happens */
	gate_refresh(g);
	CHECK(m.tx_len == 0); /* no session: even the POWER event waits */
	/* a session frame before any handshake is refused, naming the frame by its tag */
	send_cmd(&m, GATE_MSG_OPEN, 5, 1000, 1);
	pump(g, &m);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_REFUSE && f.seq == 5 && f.payload[0] == GATE_NAK_NO_SESSION);
	{
		uint8_t sent[GATE_MAX_FRAME_LEN];
		int r = gate_cobs_decode(m.rx, m.rx_len - 1, sent, sizeof(sent));
		CHECK(r > 0 && memcmp(f.payload + 1, sent + r - GATE_CRC_LEN - GATE_TAG_LEN, GATE_REF_LEN) == 0);
	}
	CHECK(m.last_reject == GATE_ERR_NO_SESSION);
	CHECK(m.relay == 0 && m.execs == 0);
	CHECK(open_session(g, &m, 0x20, 7));
	memcpy(first, &m.session_id, sizeof(m.session_id));
	gate_get_status(g, &st);
	CHECK(st.session_id == 0 && m.sessions == 0); /* pending until a frame confirms it */
	send_cmd(&m, GATE_MSG_STATUS_REQ, 8, 0, ++m.counter);
	pump(g, &m);
	CHECK(m.sessions == 1);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_STATUS && f.seq == 8);
	CHECK(f.payload[0] == 0 && (gate_get_u16(f.payload + 2) & GATE_FAULT_POWER));
	CHECK(gate_get_u16(f.payload + 4) == GATE_FW_VERSION && gate_get_u32(f.payload + 10) == 42);
	CHECK(gate_get_u32(f.payload + 14) == 1); /* the controller's own counter */
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_EVENT && f.payload[0] == GATE_EVENT_POWER);
	CHECK(gate_get_u32(f.payload + 5) == 2);
	send_cmd(&m, GATE_MSG_STATUS_REQ, 9, 0, ++m.counter);
	pump(g, &m);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_STATUS && gate_get_u16(f.payload + 2) == 0); /* cleared */
	send_cmd(&m, GATE_MSG_HEARTBEAT, 10, 0, ++m.counter);
	pump(g, &m);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_ACK && f.seq == 10 && gate_get_u32(f.payload) == 3);
	gate_get_status(g, &st);
	CHECK(st.session_id == m.session_id && st.last_counter == 3 && st.boot_count == 42);
	gate_deinit(g);
}

static void test_hello_handling(void)
{
	struct mock m = {0};
	struct gate_frame f;
	uint8_t scratch[GATE_MAX_FRAME_LEN], hello[GATE_MAX_WIRE_LEN], nonce[GATE_NONCE_LEN];
	uint8_t cn1[GATE_NONCE_LEN];
	gate_t *g = gate_with_session(&m, 1000, 5000);
	uint32_t sid = m.session_id, counter = m.counter;
	int n;

	/* a retransmitted HELLO gets the same CHALLENGE; any other HELLO a fresh one */
	memset(nonce, 0x77, sizeof(nonce));
	n = gate_frame_build(GATE_MSG_HELLO, 50, nonce, sizeof(nonce), NULL, hello, sizeof(hello));
	feed(&m, hello, (size_t)n);
	feed(&m, hello, (size_t)n);
	pump(g, &m);
	CHECK(pop_reply(&m, scratch, &f) == -2 && f.type == GATE_MSG_CHALLENGE); /* under a key we lack */
	memcpy(cn1, f.payload, sizeof(cn1));
	CHECK(pop_reply(&m, scratch, &f) == -2 && f.type == GATE_MSG_CHALLENGE && memcmp(cn1, f.payload, 16) == 0);
	nonce[0] ^= 1;
	n = gate_frame_build(GATE_MSG_HELLO, 51, nonce, sizeof(nonce), NULL, hello, sizeof(hello));
	feed(&m, hello, (size_t)n);
	pump(g, &m);
	CHECK(pop_reply(&m, scratch, &f) == -2 && f.type == GATE_MSG_CHALLENGE && memcmp(cn1, f.payload, 16) != 0);
	/* an unauthenticated HELLO (anyone can send one) does not end the working session */
	send_cmd(&m, GATE_MSG_OPEN, 52, 1000, ++counter);
	pump(g, &m);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_ACK && m.relay == 1 && m.execs == 1);
	CHECK(m.session_id == sid);
	gate_deinit(g);
}

static void test_open_dedup_replay(void)
{
	struct mock m = {0};
	struct gate_frame f;
	uint8_t scratch[GATE_MAX_FRAME_LEN];
	gate_t *g = gate_with_session(&m, 1000, 5000);

	send_cmd(&m, GATE_MSG_OPEN, 100, 2000, 2);
	pump(g, &m);
	CHECK(m.relay == 1 && m.relay_opens == 1 && m.execs == 1);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_ACK && f.seq == 100 && gate_get_u32(f.payload) == 2);
	/* the same bytes again (host retry after a lost ACK): ACKed, not executed */
	send_cmd(&m, GATE_MSG_OPEN, 100, 2000, 2);
	pump(g, &m);
	CHECK(m.execs == 1 && m.dups == 1 && m.relay_opens == 1);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_ACK && f.seq == 100);
	/* same counter, other seq: a replay */
	send_cmd(&m, GATE_MSG_OPEN, 101, 2000, 2);
	pump(g, &m);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_NAK && f.payload[0] == GATE_NAK_REPLAY);
	CHECK(gate_get_u32(f.payload + 1) == 2 && m.execs == 1);
	/* lower counter: a replay */
	send_cmd(&m, GATE_MSG_DENY, 102, 0, 1);
	pump(g, &m);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_NAK && f.payload[0] == GATE_NAK_REPLAY && m.relay == 1);
	/* DENY with a fresh counter closes the relay */
	send_cmd(&m, GATE_MSG_DENY, 103, 1, 3);
	pump(g, &m);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_ACK && m.relay == 0 && m.execs == 2);
	/* counters may skip (frames lost on the way) */
	send_cmd(&m, GATE_MSG_ALARM, 104, 2, 50);
	pump(g, &m);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_ACK && m.alarm == 2);
	gate_deinit(g);
}

/* Frames captured in one session are worthless in the next one, and after a reset whatever
 * the NV storage says (here: the boot count is lost as well). */
static void test_replay_across_sessions_and_resets(void)
{
	struct mock m = {0};
	struct gate_frame f;
	uint8_t scratch[GATE_MAX_FRAME_LEN], captured[2048];
	size_t cap_len = 0, start;
	gate_t *g = make_gate(&m, 1000, 5000);
	int execs, opens;

	start = m.rx_len;
	CHECK(open_session(g, &m, 0x30, 1));
	for (uint32_t i = 1; i <= 5; i++) {
		send_cmd(&m, i % 2 ? GATE_MSG_OPEN : GATE_MSG_DENY, (uint16_t)(10 + i), 500, ++m.counter);
		pump(g, &m);
	}
	CHECK(m.execs == 5 && m.relay_opens == 3);
	memcpy(captured, m.rx + start, m.rx_len - start); /* the HELLO and five commands, as sniffed */
	cap_len = m.rx_len - start;
	/* a second handshake: until a frame confirms it, session 1 still works */
	CHECK(open_session(g, &m, 0x40, 2));
	drain(&m);
	/* then session 2 is current and every frame of session 1 is refused */
	send_cmd(&m, GATE_MSG_HEARTBEAT, 20, 0, ++m.counter);
	pump(g, &m);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_ACK && m.sessions == 2);
	execs = m.execs;
	opens = m.relay_opens;
	feed(&m, captured, cap_len);
	pump(g, &m);
	CHECK(m.execs == execs && m.relay_opens == opens && m.last_reject == GATE_ERR_TAG);
	/* a reset with the boot count lost: the captured frames, replayed in order, still do nothing */
	gate_deinit(g);
	m.nv_missing = 1;
	g = make_gate(&m, 1000, 5000);
	CHECK(g != NULL && m.nv == 1);
	drain(&m);
	m.execs = m.relay_opens = 0;
	feed(&m, captured, cap_len);
	pump(g, &m);
	CHECK(m.execs == 0 && m.relay_opens == 0 && m.relay == 0);
	/* the replayed HELLO got a fresh CHALLENGE, then five REFUSEs: nothing else */
	CHECK(pop_reply(&m, scratch, &f) == -2 && f.type == GATE_MSG_CHALLENGE);
	for (int i = 0; i < 5; i++)
		CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_REFUSE && f.payload[0] == GATE_NAK_NO_SESSION);
	CHECK(pop_reply(&m, scratch, &f) == -1);
	/* a new genuine session works, and reports the lost state once */
	CHECK(open_session(g, &m, 0x50, 3));
	send_cmd(&m, GATE_MSG_STATUS_REQ, 30, 0, ++m.counter);
	pump(g, &m);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_STATUS && (gate_get_u16(f.payload + 2) & GATE_FAULT_STATE));
	gate_deinit(g);
}

static void test_forgery_and_value(void)
{
	struct mock m = {0};
	struct gate_frame f;
	uint8_t scratch[GATE_MAX_FRAME_LEN], wire[GATE_MAX_WIRE_LEN], raw[GATE_MAX_FRAME_LEN];
	gate_t *g = gate_with_session(&m, 1000, 5000);
	int n, r;

	/* forge: valid CRC, one tag bit flipped */
	n = send_cmd(&m, GATE_MSG_OPEN, 5, 1000, 7);
	m.rx_len -= (size_t)n;
	r = gate_cobs_decode(m.rx + m.rx_len, (size_t)n - 1, raw, sizeof(raw));
	raw[r - 3] ^= 0x01;
	gate_put_u16(raw + r - 2, gate_crc16(raw, (size_t)r - 2));
	n = gate_cobs_encode(raw, (size_t)r, wire, sizeof(wire));
	wire[n++] = 0;
	feed(&m, wire, (size_t)n);
	pump(g, &m);
	CHECK(m.relay == 0 && m.execs == 0 && m.last_reject == GATE_ERR_TAG);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_REFUSE && f.payload[0] == GATE_NAK_NO_SESSION);
	CHECK(memcmp(f.payload + 1, raw + r - 2 - GATE_TAG_LEN, GATE_REF_LEN) == 0); /* names the frame */
	/* a forged frame does not burn the counter: the genuine one still runs */
	send_cmd(&m, GATE_MSG_OPEN, 6, 1000, 7);
	pump(g, &m);
	CHECK(m.relay == 1 && m.execs == 1);
	drain(&m);
	/* longer than the maximum, or zero: refused, relay state unchanged */
	send_cmd(&m, GATE_MSG_OPEN, 7, 6000, 8);
	send_cmd(&m, GATE_MSG_OPEN, 8, 0, 9);
	pump(g, &m);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_NAK && f.payload[0] == GATE_NAK_VALUE);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_NAK && f.payload[0] == GATE_NAK_VALUE);
	CHECK(m.execs == 1);
	/* the refused command's retransmission gets the same NAK, from the cache */
	send_cmd(&m, GATE_MSG_OPEN, 8, 0, 9);
	pump(g, &m);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_NAK && f.payload[0] == GATE_NAK_VALUE && m.dups == 1);
	/* the long-term key is not a session key */
	memcpy(m.sk, g_key, sizeof(m.sk));
	send_cmd(&m, GATE_MSG_OPEN, 9, 1000, 10);
	pump(g, &m);
	CHECK(m.execs == 1 && m.last_reject == GATE_ERR_TAG);
	gate_deinit(g);
}

static void test_entropy_and_nv_failures(void)
{
	struct mock m = {0};
	struct gate_frame f;
	struct gate_status st;
	uint8_t scratch[GATE_MAX_FRAME_LEN], hello[GATE_MAX_WIRE_LEN], nonce[GATE_NONCE_LEN];
	gate_t *g;
	int n;

	m.random_fail = 1;
	g = make_gate(&m, 1000, 5000);
	memset(nonce, 0x5c, sizeof(nonce));
	n = gate_frame_build(GATE_MSG_HELLO, 3, nonce, sizeof(nonce), NULL, hello, sizeof(hello));
	feed(&m, hello, (size_t)n);
	pump(g, &m);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_REFUSE && f.seq == 3 && f.payload[0] == GATE_NAK_ENTROPY);
	CHECK(memcmp(f.payload + 1, nonce, GATE_REF_LEN) == 0);
	gate_get_status(g, &st);
	CHECK(st.session_id == 0 && (st.faults & GATE_FAULT_ENTROPY) && m.last_reject == GATE_ERR_ENTROPY);
	/* no challenge, so no key the host could have derived: nothing runs */
	send_cmd(&m, GATE_MSG_OPEN, 4, 1000, 1);
	pump(g, &m);
	CHECK(m.relay == 0 && pop_reply(&m, scratch, &f) == GATE_MSG_REFUSE);
	m.random_fail = 0; /* the source recovers: sessions open again */
	CHECK(open_session(g, &m, 0x60, 5));
	gate_deinit(g);

	memset(&m, 0, sizeof(m)); /* NV: missing / store failing / absent */
	m.nv_missing = 1;
	g = make_gate(&m, 1000, 5000);
	gate_get_status(g, &st);
	CHECK((st.faults & GATE_FAULT_STATE) && st.boot_count == 1 && m.nv == 1);
	gate_deinit(g);
	memset(&m, 0, sizeof(m));
	m.nv = 9;
	m.nv_fail_store = 1;
	g = make_gate(&m, 1000, 5000);
	gate_get_status(g, &st);
	CHECK((st.faults & GATE_FAULT_STATE) && st.boot_count == 10);
	CHECK(open_session(g, &m, 0x61, 6)); /* the link still works on hal.random() alone */
	gate_deinit(g);
	memset(&m, 0, sizeof(m));
	m.no_nv = 1;
	g = make_gate(&m, 1000, 5000);
	gate_get_status(g, &st);
	CHECK(!(st.faults & GATE_FAULT_STATE) && st.boot_count == 0);
	gate_deinit(g);
	memset(&m, 0, sizeof(m));
	m.nv = 0xFFFFFFFFu; /* the count wraps to 1, never to 0 (= no NV storage) */
	g = make_gate(&m, 1000, 5000);
	CHECK(m.nv == 1);
	gate_deinit(g);
}

static void test_timers(void)
{
	struct mock m = {0};
	struct gate_frame f;
	uint8_t scratch[GATE_MAX_FRAME_LEN], hello[GATE_MAX_WIRE_LEN], nonce[GATE_NONCE_LEN];
	struct gate_status st;
	gate_t *g;
	int n;

	m.now = 0xFFFFF000u; /* the millisecond clock wraps during this test */
	g = gate_with_session(&m, 1000, 5000);
	/* expiry */
	send_cmd(&m, GATE_MSG_OPEN, 1, 300, ++m.counter);
	pump(g, &m);
	CHECK(m.relay == 1);
	advance(g, &m, 290);
	CHECK(m.relay == 1);
	advance(g, &m, 20);
	CHECK(m.relay == 0);
	/* heartbeat loss closes the relay even inside the open window; HELLOs do not count */
	send_cmd(&m, GATE_MSG_OPEN, 2, 4000, ++m.counter);
	pump(g, &m);
	for (int i = 0; i < 3; i++) {
		advance(g, &m, 500);
		send_cmd(&m, GATE_MSG_HEARTBEAT, (uint16_t)(10 + i), 0, ++m.counter);
		pump(g, &m);
	}
	CHECK(m.relay == 1);
	memset(nonce, 0x99, sizeof(nonce));
	for (int i = 0; i < 3; i++) {
		advance(g, &m, 400);
		n = gate_frame_build(GATE_MSG_HELLO, (uint16_t)(15 + i), nonce, sizeof(nonce), NULL, hello, sizeof(hello));
		feed(&m, hello, (size_t)n);
		pump(g, &m);
	}
	CHECK(m.relay == 0);
	gate_get_status(g, &st);
	CHECK(st.faults & GATE_FAULT_HEARTBEAT_LOST);
	/* repeated OPENs never keep it open past max_open_ms in a row */
	send_cmd(&m, GATE_MSG_OPEN, 20, 4000, ++m.counter);
	pump(g, &m);
	for (uint32_t i = 0; i < 11; i++) {
		advance(g, &m, 450);
		send_cmd(&m, GATE_MSG_OPEN, (uint16_t)(21 + i), 4000, ++m.counter);
		pump(g, &m);
		CHECK(m.relay == 1 && m.relay_opens == 3);
	}
	advance(g, &m, 100);
	CHECK(m.relay == 0); /* 5.05 s since opening > 5 s maximum, despite the last 4 s OPEN */
	drain(&m);
	/* door forced: opens while the relay is closed */
	m.door = 1;
	advance(g, &m, 10);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_EVENT && f.payload[0] == GATE_EVENT_DOOR_FORCED);
	advance(g, &m, 3100);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_EVENT && f.payload[0] == GATE_EVENT_DOOR_HELD_OPEN);
	m.door = 0;
	advance(g, &m, 10);
	/* a door opened by a genuine OPEN is not forced; held-open counts from the relay closing */
	send_cmd(&m, GATE_MSG_OPEN, 40, 800, ++m.counter);
	pump(g, &m);
	m.door = 1;
	advance(g, &m, 790); /* relay closes at 800 ms; door_held_ms = 3000 */
	drain(&m);
	advance(g, &m, 2900);
	CHECK(pop_reply(&m, scratch, &f) == -1);
	advance(g, &m, 200);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_EVENT && f.payload[0] == GATE_EVENT_DOOR_HELD_OPEN);
	m.door = 0;
	m.tamper = 1;
	advance(g, &m, 10);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_EVENT && f.payload[0] == GATE_EVENT_TAMPER);
	CHECK(pop_reply(&m, scratch, &f) == -1); /* each event once */
	gate_deinit(g);
}

static void test_events_wait_for_a_session(void)
{
	struct mock m = {0};
	struct gate_frame f;
	uint8_t scratch[GATE_MAX_FRAME_LEN];
	gate_t *g = make_gate(&m, 1000, 5000);

	m.door = 1;
	advance(g, &m, 20);
	CHECK(m.tx_len == 0); /* POWER and DOOR_FORCED queued: no session to send them in */
	CHECK(open_session(g, &m, 0x70, 1));
	send_cmd(&m, GATE_MSG_HEARTBEAT, 2, 0, ++m.counter);
	pump(g, &m);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_ACK);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_EVENT && f.payload[0] == GATE_EVENT_POWER);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_EVENT && f.payload[0] == GATE_EVENT_DOOR_FORCED);
	CHECK(gate_get_u32(f.payload + 1) > 0); /* the time it happened, not the time it was sent */
	gate_deinit(g);
}

static void test_bad_input(void)
{
	struct mock m = {0};
	struct gate_frame f;
	uint8_t scratch[GATE_MAX_FRAME_LEN], junk[300], raw[8];
	gate_t *g = gate_with_session(&m, 1000, 5000);
	int n;

	/* oversized garbage without delimiter, then a valid frame: parser resynchronises */
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 7 + 1) | 1u;
	feed(&m, junk, sizeof(junk));
	feed(&m, (const uint8_t *)"\0", 1);
	send_cmd(&m, GATE_MSG_OPEN, 1, 100, ++m.counter);
	pump(g, &m);
	CHECK(m.relay == 1 && m.execs == 1);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_ACK && f.seq == 1);
	/* a truncated frame (link died mid-frame), then the next valid one */
	n = send_cmd(&m, GATE_MSG_DENY, 2, 0, ++m.counter);
	m.rx_len -= (size_t)n / 2;
	feed(&m, (const uint8_t *)"\0", 1);
	send_cmd(&m, GATE_MSG_DENY, 3, 0, ++m.counter);
	pump(g, &m);
	CHECK(m.execs == 2 && m.relay == 0);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_ACK && f.seq == 3);
	CHECK(pop_reply(&m, scratch, &f) == -1); /* the truncated frame got no answer */
	/* CRC-valid but the wrong length, an unknown type, or a controller type: REFUSE */
	raw[0] = GATE_PROTOCOL_VERSION;
	raw[1] = GATE_MSG_OPEN;
	gate_put_u16(raw + 2, 44);
	raw[4] = 0;
	gate_put_u16(raw + 5, gate_crc16(raw, 5));
	n = gate_cobs_encode(raw, 7, junk, sizeof(junk));
	junk[n++] = 0;
	feed(&m, junk, (size_t)n);
	pump(g, &m);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_REFUSE && f.seq == 44 && f.payload[0] == GATE_NAK_LENGTH);
	raw[1] = 0x55;
	gate_put_u16(raw + 5, gate_crc16(raw, 5));
	n = gate_cobs_encode(raw, 7, junk, sizeof(junk));
	junk[n++] = 0;
	feed(&m, junk, (size_t)n);
	{
		uint8_t ack[GATE_MAX_WIRE_LEN], body[8] = {0};
		int k = gate_frame_build(GATE_MSG_ACK, 45, body, sizeof(body), m.sk, ack, sizeof(ack));
		feed(&m, ack, (size_t)k);
	}
	pump(g, &m);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_REFUSE && f.seq == 44 && f.payload[0] == GATE_NAK_TYPE);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_REFUSE && f.seq == 45 && f.payload[0] == GATE_NAK_TYPE);
	CHECK(m.execs == 2);
	/* a HAL that takes one byte per call still delivers whole frames */
	m.send_limit = 1;
	send_cmd(&m, GATE_MSG_HEARTBEAT, 4, 0, ++m.counter);
	pump(g, &m);
	for (int i = 0; i < 64; i++)
		gate_refresh(g);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_ACK && f.seq == 4);
	gate_deinit(g);
	/* API misuse */
	CHECK(gate_init(NULL, NULL) == NULL);
	CHECK(gate_refresh(NULL) == GATE_ERR_ARG);
	CHECK(gate_get_status(NULL, NULL) == GATE_ERR_ARG);
}

static void test_required_random_hook(void)
{
	struct mock m = {0};

	/* every required hook but random: refused, a controller without entropy must not start */
	m.no_random = 1;
	CHECK(make_gate(&m, 1000, 5000) == NULL);
}

void test_state_machine(void)
{
	test_boot_and_handshake();
	test_hello_handling();
	test_open_dedup_replay();
	test_replay_across_sessions_and_resets();
	test_forgery_and_value();
	test_entropy_and_nv_failures();
	test_timers();
	test_events_wait_for_a_session();
	test_bad_input();
	test_required_random_hook();
}
