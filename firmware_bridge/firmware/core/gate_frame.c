#include "gate_frame.h"

#include <string.h>

#include "gate_cobs.h"
#include "gate_crc.h"
#include "gate_sha256.h"

void gate_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void gate_put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint16_t gate_get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

uint32_t gate_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

int gate_msg_payload_len(uint8_t type)
{
	const int session = GATE_COUNTER_LEN + GATE_TAG_LEN; /* counter u32 + tag */

	switch (type) {
	case GATE_MSG_HEARTBEAT:
	case GATE_MSG_STATUS_REQ:
		return session;
	case GATE_MSG_HELLO: /* host nonce, no tag */
		return GATE_NONCE_LEN;
	case GATE_MSG_OPEN: /* duration_ms u16, reason u8 */
		return 3 + session;
	case GATE_MSG_DENY:  /* reason u8 */
	case GATE_MSG_ALARM: /* kind u8 */
		return 1 + session;
	case GATE_MSG_ACK: /* ack_counter u32 */
		return 4 + session;
	case GATE_MSG_NAK: /* error u8, ack_counter u32 */
		return 5 + session;
	case GATE_MSG_STATUS: /* relay, door, faults u16, fw u16, uptime u32, boot_count u32 */
		return 14 + session;
	case GATE_MSG_EVENT: /* kind u8, uptime u32 */
		return 5 + session;
	case GATE_MSG_CHALLENGE: /* controller nonce, tag under the new session key */
		return GATE_NONCE_LEN + GATE_TAG_LEN;
	case GATE_MSG_REFUSE: /* error u8, ref[8], tag under the long-term key */
		return 1 + GATE_REF_LEN + GATE_TAG_LEN;
	default:
		return -1;
	}
}

int gate_msg_has_counter(uint8_t type)
{
	return gate_msg_payload_len(type) >= 0 && type != GATE_MSG_HELLO && type != GATE_MSG_CHALLENGE &&
	       type != GATE_MSG_REFUSE;
}

int gate_msg_has_tag(uint8_t type) { return gate_msg_payload_len(type) >= 0 && type != GATE_MSG_HELLO; }

int gate_frame_parse(const uint8_t *raw, size_t raw_len, struct gate_frame *out)
{
	int want;

	if (raw == NULL || out == NULL)
		return GATE_ERR_ARG;
	memset(out, 0, sizeof(*out));
	if (raw_len < GATE_HEADER_LEN + GATE_CRC_LEN)
		return GATE_ERR_SHORT;
	if (raw_len > GATE_MAX_FRAME_LEN)
		return GATE_ERR_OVERSIZE;
	if (gate_crc16(raw, raw_len - GATE_CRC_LEN) != gate_get_u16(raw + raw_len - GATE_CRC_LEN))
		return GATE_ERR_CRC;
	out->version = raw[0];
	out->type = raw[1];
	out->seq = gate_get_u16(raw + 2);
	out->payload_len = raw[4];
	out->payload = raw + GATE_HEADER_LEN;
	out->raw = raw;
	if (out->version != GATE_PROTOCOL_VERSION)
		return GATE_ERR_VERSION;
	want = gate_msg_payload_len(out->type);
	if (want < 0)
		return GATE_ERR_TYPE;
	if ((size_t)out->payload_len != raw_len - GATE_HEADER_LEN - GATE_CRC_LEN || out->payload_len != want)
		return GATE_ERR_LENGTH;
	out->signed_len = GATE_HEADER_LEN + out->payload_len - (gate_msg_has_tag(out->type) ? GATE_TAG_LEN : 0);
	return GATE_OK;
}

int gate_frame_decode(const uint8_t *wire, size_t wire_len, uint8_t *scratch, size_t scratch_cap,
		      struct gate_frame *out)
{
	int n;

	if (wire_len > GATE_COBS_MAX_LEN(GATE_MAX_FRAME_LEN))
		return GATE_ERR_OVERSIZE;
	n = gate_cobs_decode(wire, wire_len, scratch, scratch_cap);
	if (n == -2)
		return GATE_ERR_OVERSIZE;
	if (n < 0)
		return GATE_ERR_COBS;
	return gate_frame_parse(scratch, (size_t)n, out);
}

static void compute_tag(const uint8_t *key, const uint8_t *data, size_t len, uint8_t tag[GATE_TAG_LEN])
{
	struct gate_hmac h;
	uint8_t full[GATE_SHA256_LEN];

	gate_hmac_init(&h, key, GATE_KEY_LEN);
	gate_hmac_update(&h, data, len);
	gate_hmac_final(&h, full);
	memcpy(tag, full, GATE_TAG_LEN);
	gate_wipe(full, sizeof(full));
	gate_wipe(&h, sizeof(h));
}

int gate_frame_verify_tag(const struct gate_frame *f, const uint8_t key[GATE_KEY_LEN])
{
	uint8_t tag[GATE_TAG_LEN];
	int ok;

	if (f == NULL || key == NULL || f->raw == NULL || !gate_msg_has_tag(f->type))
		return 0;
	compute_tag(key, f->raw, f->signed_len, tag);
	ok = gate_ct_equal(tag, f->raw + f->signed_len, GATE_TAG_LEN);
	gate_wipe(tag, sizeof(tag));
	return ok;
}

uint32_t gate_frame_counter(const struct gate_frame *f)
{
	return gate_get_u32(f->raw + f->signed_len - GATE_COUNTER_LEN);
}

void gate_frame_ref(const struct gate_frame *f, uint8_t ref[GATE_REF_LEN])
{
	memset(ref, 0, GATE_REF_LEN);
	if (f->raw != NULL && f->payload_len >= GATE_TAG_LEN)
		memcpy(ref, f->payload + f->payload_len - GATE_TAG_LEN, GATE_REF_LEN);
}

int gate_frame_build(uint8_t type, uint16_t seq, const uint8_t *body, size_t body_len,
		     const uint8_t *key, uint8_t *wire, size_t wire_cap)
{
	uint8_t raw[GATE_MAX_FRAME_LEN];
	size_t tag_len = gate_msg_has_tag(type) ? GATE_TAG_LEN : 0;
	size_t n = GATE_HEADER_LEN + body_len;
	int enc;

	if (body_len > GATE_MAX_PAYLOAD_LEN - tag_len || (body_len > 0 && body == NULL) || wire == NULL ||
	    (tag_len && key == NULL))
		return GATE_ERR_ARG;
	raw[0] = GATE_PROTOCOL_VERSION;
	raw[1] = type;
	gate_put_u16(raw + 2, seq);
	raw[4] = (uint8_t)(body_len + tag_len);
	if (body_len)
		memcpy(raw + GATE_HEADER_LEN, body, body_len);
	if (tag_len) {
		compute_tag(key, raw, n, raw + n);
		n += tag_len;
	}
	gate_put_u16(raw + n, gate_crc16(raw, n));
	n += GATE_CRC_LEN;
	enc = gate_cobs_encode(raw, n, wire, wire_cap);
	if (enc < 0 || (size_t)enc + 1 > wire_cap)
		return GATE_ERR_ARG;
	wire[enc] = 0;
	return enc + 1;
}
