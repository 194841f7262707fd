#include "mock_hal.h"

#include <string.h>

#include "gate_session.h"

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

static int m_random(void *ctx, uint8_t *buf, int len)
{
	struct mock *m = ctx;

	m->random_calls++;
	if (m->random_fail)
		return -1;
	for (int i = 0; i < len; i++) /* distinct per call: the tests check fresh challenges */
		buf[i] = (uint8_t)(m->random_calls * 37 + i * 11 + 5);
	return len;
}

static int m_load(void *ctx, uint32_t *v)
{
	struct mock *m = ctx;

	if (m->nv_missing)
		return -1;
	*v = m->nv;
	return 0;
}

static int m_store(void *ctx, uint32_t v)
{
	struct mock *m = ctx;

	if (m->nv_fail_store)
		return -1;
	m->nv = v;
	m->nv_missing = 0;
	return 0;
}

static void m_trace(void *ctx, const struct gate_trace *ev)
{
	struct mock *m = ctx;

	if (ev->kind == GATE_TRACE_EXEC)
		m->execs++;
	else if (ev->kind == GATE_TRACE_DUP)
		m->dups++;
	else if (ev->kind == GATE_TRACE_SESSION)
		m->sessions++;
	else if (ev->kind == GATE_TRACE_REJECT) {
		m->rejects++;
		m->last_reject = -(int)ev->a;
	}
}

gate_t *make_gate(struct mock *m, uint32_t hb_ms, uint32_t max_open_ms)
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
	hal.random = m->no_random ? NULL : m_random;
	if (!m->no_nv) {
		hal.boot_count_load = m_load;
		hal.boot_count_store = m_store;
	}
	hal.trace = m_trace;
	return gate_init(&cfg, &hal);
}

void feed(struct mock *m, const uint8_t *wire, size_t len)
{
	memcpy(m->rx + m->rx_len, wire, len);
	m->rx_len += len;
}

void pump(gate_t *g, struct mock *m)
{
	for (int i = 0; i < 64 && (m->rx_off < m->rx_len || i < 2); i++)
		gate_refresh(g);
}

void advance(gate_t *g, struct mock *m, uint32_t ms)
{
	for (uint32_t t = 0; t < ms; t += 5) {
		m->now += 5;
		gate_refresh(g);
	}
}

void drain(struct mock *m) { m->tx_read = m->tx_len; }

int pop_reply(struct mock *m, uint8_t *scratch, struct gate_frame *f)
{
	size_t start = m->tx_read, end = start;

	while (end < m->tx_len && m->tx[end] != 0)
		end++;
	if (end >= m->tx_len)
		return -1;
	m->tx_read = end + 1;
	if (gate_frame_decode(m->tx + start, end - start, scratch, GATE_MAX_FRAME_LEN, f) != GATE_OK)
		return -2;
	if (!gate_frame_verify_tag(f, f->type == GATE_MSG_REFUSE ? g_key : m->sk))
		return -2;
	return f->type;
}

int open_session(gate_t *g, struct mock *m, uint8_t seed, uint16_t seq)
{
	uint8_t nonce[GATE_NONCE_LEN], wire[GATE_MAX_WIRE_LEN], scratch[GATE_MAX_FRAME_LEN];
	struct gate_frame f;
	int n;

	for (size_t i = 0; i < sizeof(nonce); i++)
		nonce[i] = (uint8_t)(seed + i);
	n = gate_frame_build(GATE_MSG_HELLO, seq, nonce, sizeof(nonce), NULL, wire, sizeof(wire));
	feed(m, wire, (size_t)n);
	drain(m);
	pump(g, m);
	while (m->tx_read < m->tx_len) {
		size_t start = m->tx_read, end = start;
		while (end < m->tx_len && m->tx[end] != 0)
			end++;
		if (end >= m->tx_len)
			break;
		m->tx_read = end + 1;
		if (gate_frame_decode(m->tx + start, end - start, scratch, GATE_MAX_FRAME_LEN, &f) != GATE_OK ||
		    f.type != GATE_MSG_CHALLENGE || f.seq != seq)
			continue;
		/* The CHALLENGE verifies only under the session key it lets the host derive. */
		gate_session_derive(g_key, nonce, f.payload, m->sk);
		if (!gate_frame_verify_tag(&f, m->sk))
			return 0;
		m->counter = 0;
		m->session_id = gate_get_u32(f.payload);
		return 1;
	}
	return 0;
}

int send_cmd(struct mock *m, uint8_t type, uint16_t seq, uint32_t arg, uint32_t counter)
{
	uint8_t body[12], wire[GATE_MAX_WIRE_LEN];
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
	gate_put_u32(body + n, counter);
	n += 4;
	len = gate_frame_build(type, seq, body, n, m->sk, wire, sizeof(wire));
	if (len > 0)
		feed(m, wire, (size_t)len);
	return len;
}
