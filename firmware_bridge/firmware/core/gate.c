/*
 * Gate controller: context pool, lifecycle, transmit path, fail-safe timers, door/tamper
 * events. The receive path (handshake, session frames, command execution) is gate_rx.c.
 */
#include <string.h>

#include "gate_common.h"
#include "gate_frame.h"
#include "gate_sha256.h"

static struct gate g_pool[GATE_MAX_INSTANCES];

uint32_t gate_now_ms(const struct gate *g) { return g->hal.millis(g->hal.ctx); }

/* Wrap-safe "a is at or after b" for 32-bit millisecond clocks. */
static int time_reached(uint32_t now, uint32_t deadline) { return (int32_t)(now - deadline) >= 0; }

void gate_trace_ev(struct gate *g, int kind, uint16_t seq, uint32_t a, uint32_t b)
{
	struct gate_trace ev;

	if (g->hal.trace == NULL)
		return;
	ev.kind = kind;
	ev.seq = seq;
	ev.a = a;
	ev.b = b;
	ev.session = g->active.valid ? g->active.id : 0;
	ev.now_ms = gate_now_ms(g) - g->boot_ms;
	g->hal.trace(g->hal.ctx, &ev);
}

void gate_set_relay(struct gate *g, int on, int reason)
{
	if (g->relay_open == on)
		return;
	g->relay_open = on;
	g->hal.relay_set(g->hal.ctx, on);
	if (on) {
		g->relay_opened_ms = gate_now_ms(g);
	} else {
		g->relay_closed_ms = gate_now_ms(g);
		g->door_held_reported = 0; /* a new held-open period starts now */
	}
	gate_trace_ev(g, GATE_TRACE_RELAY, 0, (uint32_t)on, (uint32_t)reason);
}

/* ---- transmit ------------------------------------------------------------------------ */

static int flush_tx(struct gate *g)
{
	while (g->tx_off < g->tx_len) {
		int n = g->hal.send(g->hal.ctx, g->tx_buf + g->tx_off, (int)(g->tx_len - g->tx_off));
		if (n < 0) {
			g->io_error = 1;
			g->tx_len = g->tx_off = 0;
			return GATE_ERR_IO;
		}
		if (n == 0)
			return 0; /* HAL busy: retry on the next refresh */
		g->tx_off += (size_t)n;
	}
	g->tx_len = g->tx_off = 0;
	return 1;
}

void gate_send_raw(struct gate *g, uint8_t type, uint16_t seq, const uint8_t *body, size_t body_len,
		   const uint8_t *key)
{
	int n;

	if (g->tx_len && flush_tx(g) <= 0) {
		g->tx_dropped++; /* the host retries; a lost reply is not a safety issue */
		return;
	}
	n = gate_frame_build(type, seq, body, body_len, key, g->tx_buf, sizeof(g->tx_buf));
	if (n < 0)
		return;
	g->tx_len = (size_t)n;
	g->tx_off = 0;
	flush_tx(g);
}

void gate_send_session(struct gate *g, uint8_t type, uint16_t seq, const uint8_t *body, size_t body_len)
{
	uint8_t buf[GATE_MAX_PAYLOAD_LEN];

	if (!g->active.valid || body_len + GATE_COUNTER_LEN + GATE_TAG_LEN > sizeof(buf))
		return;
	if (g->active.tx_counter == UINT32_MAX) {
		/* Our counter would wrap: end the session; the host's next frame is refused and it re-handshakes. */
		gate_session_close(&g->active);
		g->have_last = 0;
		return;
	}
	g->active.tx_counter++;
	if (body_len)
		memcpy(buf, body, body_len);
	gate_put_u32(buf + body_len, g->active.tx_counter);
	gate_send_raw(g, type, seq, buf, body_len + GATE_COUNTER_LEN, g->active.key);
}

void gate_send_ack(struct gate *g, uint16_t seq, uint32_t counter)
{
	uint8_t body[4];

	gate_put_u32(body, counter);
	gate_send_session(g, GATE_MSG_ACK, seq, body, sizeof(body));
}

void gate_send_nak(struct gate *g, uint16_t seq, uint8_t code, uint32_t counter)
{
	uint8_t body[5];

	body[0] = code;
	gate_put_u32(body + 1, counter);
	gate_send_session(g, GATE_MSG_NAK, seq, body, sizeof(body));
}

void gate_send_status(struct gate *g, uint16_t seq)
{
	uint8_t body[14];

	body[0] = (uint8_t)g->relay_open;
	body[1] = (uint8_t)g->door_open;
	gate_put_u16(body + 2, g->faults);
	gate_put_u16(body + 4, GATE_FW_VERSION);
	gate_put_u32(body + 6, gate_now_ms(g) - g->boot_ms);
	gate_put_u32(body + 10, g->boot_count);
	gate_send_session(g, GATE_MSG_STATUS, seq, body, sizeof(body));
	g->faults = 0; /* latched flags are cleared once reported */
}

void gate_send_refuse(struct gate *g, uint16_t seq, uint8_t code, const uint8_t ref[GATE_REF_LEN])
{
	uint8_t body[1 + GATE_REF_LEN];

	body[0] = code;
	memcpy(body + 1, ref, GATE_REF_LEN);
	gate_send_raw(g, GATE_MSG_REFUSE, seq, body, sizeof(body), g->key);
}

/* ---- events and timers ------------------------------------------------------------------- */

static void queue_event(struct gate *g, uint8_t kind, uint16_t fault)
{
	struct gate_event_slot *slot;

	g->faults |= fault;
	gate_trace_ev(g, GATE_TRACE_EVENT, 0, kind, 0);
	if (g->ev_count == GATE_EVENT_QUEUE_LEN)
		return; /* still latched in the fault flags, visible through STATUS */
	slot = &g->events[(g->ev_head + g->ev_count) % GATE_EVENT_QUEUE_LEN];
	slot->kind = kind;
	slot->uptime_ms = gate_now_ms(g) - g->boot_ms;
	g->ev_count++;
}

/* Events go out only inside a session (they are session frames); until then they wait. */
static void send_events(struct gate *g)
{
	while (g->ev_count > 0 && g->tx_len == 0 && g->active.valid) {
		uint8_t body[5];
		body[0] = g->events[g->ev_head].kind;
		gate_put_u32(body + 1, g->events[g->ev_head].uptime_ms);
		g->ev_head = (g->ev_head + 1) % GATE_EVENT_QUEUE_LEN;
		g->ev_count--;
		gate_send_session(g, GATE_MSG_EVENT, g->event_seq++, body, sizeof(body));
	}
}

static void run_timers(struct gate *g)
{
	uint32_t now = gate_now_ms(g), since;
	int door, tamper;

	if (g->relay_open) {
		if (time_reached(now, g->relay_deadline_ms) ||
		    time_reached(now, g->relay_opened_ms + g->max_open_ms)) {
			gate_set_relay(g, 0, GATE_RELAY_EXPIRED);
		} else if (g->link_seen && time_reached(now, g->last_rx_ms + g->hb_timeout_ms)) {
			gate_set_relay(g, 0, GATE_RELAY_HEARTBEAT_LOST);
			g->faults |= GATE_FAULT_HEARTBEAT_LOST;
		}
	}
	door = g->hal.door_is_open(g->hal.ctx);
	if (door < 0) {
		g->faults |= GATE_FAULT_SENSOR;
	} else {
		if (door && !g->door_open) {
			g->door_opened_ms = now;
			g->door_held_reported = 0;
			if (!g->relay_open)
				queue_event(g, GATE_EVENT_DOOR_FORCED, GATE_FAULT_DOOR_FORCED);
		}
		g->door_open = door;
		/* Held open: still open door_held_ms after it opened or the relay closed, whichever is later. */
		since = (int32_t)(g->relay_closed_ms - g->door_opened_ms) > 0 ? g->relay_closed_ms : g->door_opened_ms;
		if (door && !g->relay_open && !g->door_held_reported && time_reached(now, since + g->door_held_ms)) {
			g->door_held_reported = 1;
			queue_event(g, GATE_EVENT_DOOR_HELD_OPEN, GATE_FAULT_DOOR_HELD_OPEN);
		}
	}
	tamper = g->hal.tamper ? g->hal.tamper(g->hal.ctx) : 0;
	if (tamper > 0 && !g->tamper)
		queue_event(g, GATE_EVENT_TAMPER, GATE_FAULT_TAMPER);
	g->tamper = tamper > 0;
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

/* Count this reset in NV storage. Replay protection does not depend on it: a failure only
 * latches GATE_FAULT_STATE (and the count restarts), since sessions are never restored. */
static void count_boot(struct gate *g)
{
	uint32_t count = 0;

	if (g->hal.boot_count_load == NULL && g->hal.boot_count_store == NULL)
		return; /* no NV storage: challenges rest on hal.random() alone */
	if (g->hal.boot_count_load == NULL || g->hal.boot_count_load(g->hal.ctx, &count) < 0) {
		g->faults |= GATE_FAULT_STATE;
		gate_trace_ev(g, GATE_TRACE_REJECT, 0, (uint32_t)-GATE_ERR_STATE, 0);
		count = 0;
	}
	g->boot_count = count == UINT32_MAX ? 1u : count + 1u;
	if (g->hal.boot_count_store == NULL || g->hal.boot_count_store(g->hal.ctx, g->boot_count) < 0) {
		g->faults |= GATE_FAULT_STATE;
		gate_trace_ev(g, GATE_TRACE_REJECT, 0, (uint32_t)-GATE_ERR_STATE, 1);
	}
}

gate_t *gate_init(const struct gate_config *config, const struct gate_hal *hal)
{
	struct gate *g = NULL;

	if (config == NULL || hal == NULL || hal->send == NULL || hal->recv == NULL || hal->millis == NULL ||
	    hal->relay_set == NULL || hal->door_is_open == NULL || hal->random == NULL)
		return NULL;
	for (int i = 0; i < GATE_MAX_INSTANCES; i++) {
		if (!g_pool[i].in_use) {
			g = &g_pool[i];
			break;
		}
	}
	if (g == NULL)
		return NULL;
	memset(g, 0, sizeof(*g));
	g->in_use = 1;
	g->hal = *hal;
	memcpy(g->key, config->key, GATE_KEY_LEN);
	g->hb_timeout_ms = config->heartbeat_timeout_ms ? config->heartbeat_timeout_ms : GATE_HEARTBEAT_TIMEOUT_MS;
	g->max_open_ms = config->max_open_ms ? config->max_open_ms : GATE_MAX_OPEN_MS;
	if (g->max_open_ms > 0xFFFFu)
		g->max_open_ms = 0xFFFFu; /* the OPEN duration field is 16 bits */
	g->door_held_ms = config->door_held_ms ? config->door_held_ms : GATE_DOOR_HELD_MS;
	g->boot_ms = gate_now_ms(g);
	g->relay_closed_ms = g->boot_ms;
	g->hal.relay_set(g->hal.ctx, 0); /* fail-safe default, whatever the pin did at reset */
	count_boot(g);
	queue_event(g, GATE_EVENT_POWER, GATE_FAULT_POWER);
	return g;
}

void gate_deinit(gate_t *gate)
{
	struct gate *g = (struct gate *)gate;

	if (g == NULL || !g->in_use)
		return;
	gate_set_relay(g, 0, GATE_RELAY_EXPIRED);
	gate_wipe(g, sizeof(*g));
}

static void feed(struct gate *g, const uint8_t *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (data[i] == 0) {
			if (g->rx_overflow) {
				g->frames_rejected++;
				gate_trace_ev(g, GATE_TRACE_REJECT, 0, (uint32_t)-GATE_ERR_OVERSIZE, 0);
			} else if (g->rx_len > 0) {
				gate_handle_block(g, g->rx_buf, g->rx_len);
			}
			g->rx_len = 0;
			g->rx_overflow = 0;
		} else if (g->rx_len < sizeof(g->rx_buf)) {
			g->rx_buf[g->rx_len++] = data[i];
		} else {
			g->rx_overflow = 1; /* drop bytes until the next delimiter */
		}
	}
}

int gate_refresh(gate_t *gate)
{
	struct gate *g = (struct gate *)gate;
	uint8_t chunk[GATE_RX_CHUNK_LEN];
	int n;

	if (g == NULL || !g->in_use)
		return GATE_ERR_ARG;
	if (g->tx_len)
		flush_tx(g);
	n = g->hal.recv(g->hal.ctx, chunk, (int)sizeof(chunk));
	if (n < 0)
		g->io_error = 1;
	else if (n > 0)
		feed(g, chunk, (size_t)n);
	run_timers(g);
	send_events(g);
	if (g->io_error) {
		g->io_error = 0;
		return GATE_ERR_IO;
	}
	return GATE_OK;
}

int gate_get_status(const gate_t *gate, struct gate_status *out)
{
	const struct gate *g = (const struct gate *)gate;

	if (g == NULL || out == NULL || !g->in_use)
		return GATE_ERR_ARG;
	out->relay_open = (uint8_t)g->relay_open;
	out->door_open = (uint8_t)g->door_open;
	out->faults = g->faults;
	out->uptime_ms = g->hal.millis(g->hal.ctx) - g->boot_ms;
	out->boot_count = g->boot_count;
	out->session_id = g->active.valid ? g->active.id : 0;
	out->last_counter = g->active.valid ? g->active.rx_counter : 0;
	out->frames_ok = g->frames_ok;
	out->frames_rejected = g->frames_rejected;
	return GATE_OK;
}

const char *gate_strerror(int err)
{
	switch (err) {
	case GATE_OK: return "ok";
	case GATE_ERR_ARG: return "arg";
	case GATE_ERR_NO_SLOT: return "no_slot";
	case GATE_ERR_IO: return "io";
	case GATE_ERR_COBS: return "cobs";
	case GATE_ERR_SHORT: return "short";
	case GATE_ERR_OVERSIZE: return "oversize";
	case GATE_ERR_CRC: return "crc";
	case GATE_ERR_VERSION: return "version";
	case GATE_ERR_LENGTH: return "length";
	case GATE_ERR_TYPE: return "type";
	case GATE_ERR_TAG: return "tag";
	case GATE_ERR_REPLAY: return "replay";
	case GATE_ERR_VALUE: return "value";
	case GATE_ERR_NO_SESSION: return "no_session";
	case GATE_ERR_ENTROPY: return "entropy";
	case GATE_ERR_STATE: return "state";
	default: return "unknown";
	}
}
