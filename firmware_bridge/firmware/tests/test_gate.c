/*
 * C unit tests of the firmware core: primitives against the shared vectors (vectors.json)
 * and RFC/standard check values, then the state machine through a mock HAL whose clock,
 * UART, relay, door and NV storage are plain variables.
 *
 * usage: test_gate path/to/vectors.json
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate.h"
#include "gate_cobs.h"
#include "gate_config.h"
#include "gate_crc.h"
#include "gate_frame.h"
#include "gate_sha256.h"
#include "json_mini.h"

static int g_checks, g_failures;

#define CHECK(cond)                                                                  \
	do {                                                                         \
		g_checks++;                                                          \
		if (!(cond)) {                                                       \
			g_failures++;                                                \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                    \
	} while (0)

/* ---- mock HAL ------------------------------------------------------------------ */

struct mock {
	uint32_t now;
	uint8_t rx[4096];
	size_t rx_len, rx_off;
	uint8_t tx[8192];
	size_t tx_len, tx_read;
	int relay, relay_opens, door, tamper, alarm;
	uint32_t nv;
	int nv_fail;
	int execs, dups, rejects, last_reject;
	int send_limit; /* accept at most this many bytes per send call (0 = all) */
};

static int m_send(void *ctx, const uint8_t *buf, int len)
{
	struct mock *m = ctx;
	int n = (m->send_limit && len > m->send_limit) ? m->send_limit : len;

	if (m->tx_len + (size_t)n > sizeof(m->tx))
		return -1;
	memcpy(m->tx + m->tx_len, buf, (size_t)n);
	m->tx_len += (size_t)n;
	return n;
}

static int m_recv(void *ctx, uint8_t *buf, int maxlen)
{
	struct mock *m = ctx;
	size_t n = m->rx_len - m->rx_off;

	if (n > (size_t)maxlen)
		n = (size_t)maxlen;
	memcpy(buf, m->rx + m->rx_off, n);
	m->rx_off += n;
	return (int)n;
}

static uint32_t m_millis(void *ctx) { return ((struct mock *)ctx)->now; }

static void m_relay(void *ctx, int on)
{
	struct mock *m = ctx;

	if (on && !m->relay)
		m->relay_opens++;
	m->relay = on;
}

static int m_door(void *ctx) { return ((struct mock *)ctx)->door; }
static int m_tamper(void *ctx) { return ((struct mock *)ctx)->tamper; }
static void m_alarm(void *ctx, int kind) { ((struct mock *)ctx)->alarm = kind; }

static int m_load(void *ctx, uint32_t *v)
{
	*v = ((struct mock *)ctx)->nv;
	return 0;
}

static int m_store(void *ctx, uint32_t v)
{
	struct mock *m = ctx;

	if (m->nv_fail)
		return -1;
	m->nv = v;
	return 0;
}

static void m_trace(void *ctx, const struct gate_trace *ev)
{
	struct mock *m = ctx;

	if (ev->kind == GATE_TRACE_EXEC)
		m->execs++;
	else if (ev->kind == GATE_TRACE_DUP)
		m->dups++;
	else if (ev->kind == GATE_TRACE_REJECT) {
		m->rejects++;
		m->last_reject = -(int)ev->a;
	}
}

static uint8_t g_key[GATE_KEY_LEN];

static gate_t *make_gate(struct mock *m, uint32_t hb_ms, uint32_t max_open_ms)
{
	struct gate_config cfg;
	struct gate_hal hal = {0};

	memset(&cfg, 0, sizeof(cfg));
	memcpy(cfg.key, g_key, GATE_KEY_LEN);
	cfg.heartbeat_timeout_ms = hb_ms;
	cfg.max_open_ms = max_open_ms;
	cfg.door_held_ms = 3000;
	hal.ctx = m;
	hal.send = m_send;
	hal.recv = m_recv;
	hal.millis = m_millis;
	hal.relay_set = m_relay;
	hal.door_is_open = m_door;
	hal.tamper = m_tamper;
	hal.alarm = m_alarm;
	hal.counter_load = m_load;
	hal.counter_store = m_store;
	hal.trace = m_trace;
	return gate_init(&cfg, &hal);
}

static void feed(struct mock *m, const uint8_t *wire, size_t len)
{
	memcpy(m->rx + m->rx_len, wire, len);
	m->rx_len += len;
}

static void pump(gate_t *g, struct mock *m)
{
	for (int i = 0; i < 64 && (m->rx_off < m->rx_len || i < 2); i++)
		gate_refresh(g);
}

static void advance(gate_t *g, struct mock *m, uint32_t ms)
{
	for (uint32_t t = 0; t < ms; t += 5) {
		m->now += 5;
		gate_refresh(g);
	}
}

/* Pop the next controller frame; @retval its type, or -1 if none, -2 if it does not verify. */
static int pop_reply(struct mock *m, uint8_t *scratch, struct gate_frame *f)
{
	size_t start = m->tx_read, end = start;

	while (end < m->tx_len && m->tx[end] != 0)
		end++;
	if (end >= m->tx_len)
		return -1;
	m->tx_read = end + 1;
	if (gate_frame_decode(m->tx + start, end - start, scratch, GATE_MAX_FRAME_LEN, f) != GATE_OK)
		return -2;
	if (!gate_frame_verify_tag(f, g_key))
		return -2;
	return f->type;
}

static void drain(struct mock *m) { m->tx_read = m->tx_len; }

static int send_cmd(struct mock *m, uint8_t type, uint16_t seq, uint32_t arg, uint32_t counter)
{
	uint8_t body[8], wire[GATE_MAX_WIRE_LEN];
	size_t n = 0;
	int len;

	if (type == GATE_MSG_OPEN) {
		gate_put_u16(body, (uint16_t)arg);
		body[2] = 0;
		n = 3;
	} else if (type == GATE_MSG_DENY || type == GATE_MSG_ALARM) {
		body[0] = (uint8_t)arg;
		n = 1;
	}
	if (gate_msg_has_counter(type)) {
		gate_put_u32(body + n, counter);
		n += 4;
	}
	len = gate_frame_build(type, seq, body, n, g_key, wire, sizeof(wire));
	if (len > 0)
		feed(m, wire, (size_t)len);
	return len;
}

/* ---- vector tests ---------------------------------------------------------------- */

static void test_vectors(const struct jm *v)
{
	uint8_t a[1024], b[1024], c[1024];
	int n, k;

	CHECK(gate_crc16((const uint8_t *)"123456789", 9) == 0x29B1);
	for (struct jm *e = jm_get(v, "crc16")->child; e; e = e->next) {
		n = jm_hex(e, "data", a, sizeof(a));
		CHECK(n >= 0 && gate_crc16(a, (size_t)n) == (uint16_t)jm_get(e, "crc")->num);
	}
	for (struct jm *e = jm_get(v, "cobs")->child; e; e = e->next) {
		n = jm_hex(e, "raw", a, sizeof(a));
		k = jm_hex(e, "encoded", b, sizeof(b));
		CHECK(gate_cobs_encode(a, (size_t)n, c, sizeof(c)) == k && memcmp(b, c, (size_t)k) == 0);
		CHECK(gate_cobs_decode(b, (size_t)k, c, sizeof(c)) == n && memcmp(a, c, (size_t)n) == 0);
		CHECK(gate_cobs_encode(a, (size_t)n, c, (size_t)k - 1) == -1); /* bounds respected */
	}
	for (struct jm *e = jm_get(v, "sha256")->child; e; e = e->next) {
		struct gate_sha256 s;
		n = jm_hex(e, "msg", a, sizeof(a));
		jm_hex(e, "digest", b, sizeof(b));
		gate_sha256_init(&s);
		gate_sha256_update(&s, a, (size_t)n / 2);
		gate_sha256_update(&s, a + n / 2, (size_t)n - (size_t)n / 2);
		gate_sha256_final(&s, c);
		CHECK(memcmp(b, c, 32) == 0);
	}
	for (struct jm *e = jm_get(v, "hmac_sha256")->child; e; e = e->next) {
		struct gate_hmac h;
		int kl = jm_hex(e, "key", a, sizeof(a));
		int dl = jm_hex(e, "data", b, sizeof(b));
		uint8_t mac[32], want[32];
		int tl = jm_hex(e, "mac", want, sizeof(want));
		gate_hmac_init(&h, a, (size_t)kl);
		gate_hmac_update(&h, b, (size_t)dl);
		gate_hmac_final(&h, mac);
		CHECK(tl == (int)jm_get(e, "truncate")->num && memcmp(mac, want, (size_t)tl) == 0);
	}
	for (struct jm *e = jm_get(v, "frames")->child; e; e = e->next) {
		uint8_t type = (uint8_t)jm_get(e, "type")->num, body[32], scratch[GATE_MAX_FRAME_LEN];
		uint16_t seq = (uint16_t)jm_get(e, "seq")->num;
		struct jm *fields = jm_get(e, "fields"), *ctr = jm_get(e, "counter");
		struct gate_frame f;
		size_t bl = 0;
		uint32_t fv[8];
		int nf = 0;
		for (struct jm *x = fields->child; x && nf < 8; x = x->next)
			fv[nf++] = (uint32_t)x->num;
		switch (type) { /* pack the body by hand from the documented layouts */
		case GATE_MSG_OPEN:
			gate_put_u16(body, (uint16_t)fv[0]);
			body[2] = (uint8_t)fv[1];
			bl = 3;
			break;
		case GATE_MSG_DENY:
		case GATE_MSG_ALARM:
			body[0] = (uint8_t)fv[0];
			bl = 1;
			break;
		case GATE_MSG_ACK:
			gate_put_u32(body, fv[0]);
			bl = 4;
			break;
		case GATE_MSG_NAK:
		case GATE_MSG_EVENT:
			body[0] = (uint8_t)fv[0];
			gate_put_u32(body + 1, fv[1]);
			bl = 5;
			break;
		case GATE_MSG_STATUS:
			body[0] = (uint8_t)fv[0];
			body[1] = (uint8_t)fv[1];
			gate_put_u16(body + 2, (uint16_t)fv[2]);
			gate_put_u16(body + 4, (uint16_t)fv[3]);
			gate_put_u32(body + 6, fv[4]);
			gate_put_u32(body + 10, fv[5]);
			bl = 14;
			break;
		default:
			break;
		}
		if (ctr && ctr->kind == JM_NUM) {
			gate_put_u32(body + bl, (uint32_t)ctr->num);
			bl += 4;
		}
		n = jm_hex(e, "wire", a, sizeof(a));
		k = gate_frame_build(type, seq, body, bl, g_key, c, sizeof(c));
		CHECK(k == n && memcmp(a, c, (size_t)n) == 0);
		if (k != n || memcmp(a, c, (size_t)n) != 0)
			fprintf(stderr, "  frame vector '%s' differs\n", jm_get(e, "name")->str);
		CHECK(gate_frame_decode(a, (size_t)n - 1, scratch, sizeof(scratch), &f) == GATE_OK);
		CHECK(f.type == type && f.seq == seq && gate_frame_verify_tag(&f, g_key) == gate_msg_has_tag(type));
		if (ctr && ctr->kind == JM_NUM)
			CHECK(gate_frame_counter(&f) == (uint32_t)ctr->num);
	}
	for (struct jm *e = jm_get(v, "rejects")->child; e; e = e->next) {
		uint8_t scratch[GATE_MAX_FRAME_LEN];
		struct gate_frame f;
		const char *want = jm_get(e, "error")->str, *got;
		int err;
		n = jm_hex(e, "wire", a, sizeof(a));
		if (n > 0 && a[n - 1] == 0)
			n--;
		err = gate_frame_decode(a, (size_t)n, scratch, sizeof(scratch), &f);
		if (err == GATE_OK && gate_msg_has_tag(f.type) && !gate_frame_verify_tag(&f, g_key))
			err = GATE_ERR_TAG;
		got = gate_strerror(err);
		CHECK(strcmp(got, want) == 0);
		if (strcmp(got, want) != 0)
			fprintf(stderr, "  reject vector '%s': firmware says %s, vectors say %s\n",
				jm_get(e, "name")->str, got, want);
	}
}

/* ---- state machine tests ----------------------------------------------------------- */

static void test_boot_and_status(void)
{
	struct mock m = {0};
	struct gate_frame f;
	uint8_t scratch[GATE_MAX_FRAME_LEN];
	gate_t *g;

	m.now = 1000;
	m.nv = 41;
	g = make_gate(&m, 1000, 5000);
	CHECK(g != NULL);
	gate_refresh(g);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_EVENT && f.payload[0] == GATE_EVENT_POWER);
	send_cmd(&m, GATE_MSG_STATUS_REQ, 7, 0, 0);
	pump(g, &m);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_STATUS && f.seq == 7);
	CHECK(f.payload[0] == 0 && (gate_get_u16(f.payload + 2) & GATE_FAULT_POWER));
	CHECK(gate_get_u16(f.payload + 4) == GATE_FW_VERSION && gate_get_u32(f.payload + 10) == 41);
	send_cmd(&m, GATE_MSG_STATUS_REQ, 8, 0, 0);
	pump(g, &m);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_STATUS && gate_get_u16(f.payload + 2) == 0); /* cleared */
	send_cmd(&m, GATE_MSG_HEARTBEAT, 9, 0, 0);
	pump(g, &m);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_ACK && f.seq == 9 && gate_get_u32(f.payload) == 0);
	gate_deinit(g);
}

static void test_open_dedup_replay(void)
{
	struct mock m = {0};
	struct gate_frame f;
	uint8_t scratch[GATE_MAX_FRAME_LEN];
	gate_t *g = make_gate(&m, 1000, 5000);

	pump(g, &m);
	drain(&m);
	send_cmd(&m, GATE_MSG_OPEN, 100, 2000, 1);
	pump(g, &m);
	CHECK(m.relay == 1 && m.relay_opens == 1 && m.execs == 1 && m.nv == 1);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_ACK && f.seq == 100 && gate_get_u32(f.payload) == 1);
	/* the same bytes again (host retry after a lost ACK): ACKed, not executed */
	send_cmd(&m, GATE_MSG_OPEN, 100, 2000, 1);
	pump(g, &m);
	CHECK(m.execs == 1 && m.dups == 1 && m.relay_opens == 1);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_ACK && f.seq == 100);
	/* same counter, other seq: a replay */
	send_cmd(&m, GATE_MSG_OPEN, 101, 2000, 1);
	pump(g, &m);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_NAK && f.payload[0] == GATE_NAK_REPLAY);
	CHECK(gate_get_u32(f.payload + 1) == 1 && m.execs == 1);
	/* lower counter: a replay */
	send_cmd(&m, GATE_MSG_DENY, 102, 0, 0);
	pump(g, &m);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_NAK && f.payload[0] == GATE_NAK_REPLAY && m.relay == 1);
	/* DENY with a fresh counter closes the relay */
	send_cmd(&m, GATE_MSG_DENY, 103, 1, 2);
	pump(g, &m);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_ACK && m.relay == 0 && m.execs == 2);
	/* counters may skip (commands lost on the way) */
	send_cmd(&m, GATE_MSG_ALARM, 104, 2, 50);
	pump(g, &m);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_ACK && m.alarm == 2 && m.nv == 50);
	gate_deinit(g);
}

static void test_tag_and_value(void)
{
	struct mock m = {0};
	struct gate_frame f;
	uint8_t scratch[GATE_MAX_FRAME_LEN], wire[GATE_MAX_WIRE_LEN], raw[GATE_MAX_FRAME_LEN];
	gate_t *g = make_gate(&m, 1000, 5000);
	int n, r;

	pump(g, &m);
	drain(&m);
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
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_NAK && f.payload[0] == GATE_NAK_TAG);
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
	/* NV storage failure: refuse instead of opening a replay window */
	m.nv_fail = 1;
	send_cmd(&m, GATE_MSG_DENY, 9, 0, 10);
	pump(g, &m);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_NAK && m.relay == 1 && m.execs == 1);
	gate_deinit(g);
}

static void test_timers(void)
{
	struct mock m = {0};
	struct gate_frame f;
	uint8_t scratch[GATE_MAX_FRAME_LEN];
	gate_t *g;
	struct gate_status st;

	m.now = 0xFFFFF000u; /* the millisecond clock wraps during this test */
	g = make_gate(&m, 1000, 5000);
	pump(g, &m);
	drain(&m);
	/* expiry */
	send_cmd(&m, GATE_MSG_OPEN, 1, 300, 1);
	pump(g, &m);
	CHECK(m.relay == 1);
	advance(g, &m, 290);
	CHECK(m.relay == 1);
	advance(g, &m, 20);
	CHECK(m.relay == 0);
	/* heartbeat loss closes the relay even inside the open window */
	send_cmd(&m, GATE_MSG_OPEN, 2, 4000, 2);
	pump(g, &m);
	for (int i = 0; i < 3; i++) {
		advance(g, &m, 500);
		send_cmd(&m, GATE_MSG_HEARTBEAT, (uint16_t)(10 + i), 0, 0);
		pump(g, &m);
	}
	CHECK(m.relay == 1);
	advance(g, &m, 1010);
	CHECK(m.relay == 0);
	gate_get_status(g, &st);
	CHECK(st.faults & GATE_FAULT_HEARTBEAT_LOST);
	/* repeated OPENs never keep it open past max_open_ms in a row */
	send_cmd(&m, GATE_MSG_OPEN, 20, 4000, 3);
	pump(g, &m);
	for (uint32_t i = 0; i < 11; i++) {
		advance(g, &m, 450);
		send_cmd(&m, GATE_MSG_OPEN, (uint16_t)(21 + i), 4000, 4 + i);
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
	send_cmd(&m, GATE_MSG_OPEN, 40, 800, 100);
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

static void test_bad_input(void)
{
	struct mock m = {0};
	struct gate_frame f;
	uint8_t scratch[GATE_MAX_FRAME_LEN], junk[300];
	gate_t *g = make_gate(&m, 1000, 5000);
	int n;

	pump(g, &m);
	drain(&m);
	/* oversized garbage without delimiter, then a valid frame: parser resynchronises */
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 7 + 1) | 1u;
	feed(&m, junk, sizeof(junk));
	feed(&m, (const uint8_t *)"\0", 1);
	send_cmd(&m, GATE_MSG_OPEN, 1, 100, 1);
	pump(g, &m);
	CHECK(m.relay == 1 && m.execs == 1);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_ACK && f.seq == 1);
	/* a truncated frame (link died mid-frame), then the next valid one */
	n = send_cmd(&m, GATE_MSG_DENY, 2, 0, 2);
	m.rx_len -= (size_t)n / 2;
	feed(&m, (const uint8_t *)"\0", 1);
	send_cmd(&m, GATE_MSG_DENY, 3, 0, 3);
	pump(g, &m);
	CHECK(m.execs == 2 && m.relay == 0);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_ACK && f.seq == 3);
	CHECK(pop_reply(&m, scratch, &f) == -1); /* the truncated frame got no answer */
	/* a HAL that takes one byte per call still delivers whole frames */
	m.send_limit = 1;
	send_cmd(&m, GATE_MSG_HEARTBEAT, 4, 0, 0);
	pump(g, &m);
	for (int i = 0; i < 64; i++)
		gate_refresh(g);
	CHECK(pop_reply(&m, scratch, &f) == GATE_MSG_ACK && f.seq == 4);
	gate_deinit(g);
	/* API misuse */
	CHECK(gate_init(NULL, NULL) == NULL);
	CHECK(gate_refresh(NULL) == GATE_ERR_ARG);
}

static char *read_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	long n;
	char *buf;

	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, fp) != (size_t)n) {
		fclose(fp);
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	fclose(fp);
	return buf;
}

int main(int argc, char **argv)
{
	char *text;
	struct jm *v;

	if (argc != 2) {
		fprintf(stderr, "usage: %s vectors.json\n", argv[0]);
		return 2;
	}
	text = read_file(argv[1]);
	v = text ? jm_parse(text) : NULL;
	if (v == NULL || jm_hex(v, "key", g_key, sizeof(g_key)) != GATE_KEY_LEN) {
		fprintf(stderr, "cannot read test vectors from %s\n", argv[1]);
		return 2;
	}
	CHECK((int)jm_get(v, "tag_len")->num == GATE_TAG_LEN);
	test_vectors(v);
	test_boot_and_status();
	test_open_dedup_replay();
	test_tag_and_value();
	test_timers();
	test_bad_input();
	jm_free(v);
	free(text);
	printf("%d checks, %d failures\n", g_checks, g_failures);
	return g_failures ? 1 : 0;
}
