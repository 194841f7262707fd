/*
 * C unit tests of the firmware core, part 1: primitives, the session KDF and every frame
 * against the shared vectors (vectors.json, also checked by the Python tests) and
 * RFC/standard check values. Part 2, the state machine, is test_session.c.
 *
 * usage: test_gate path/to/vectors.json
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate_cobs.h"
#include "gate_crc.h"
#include "gate_session.h"
#include "gate_sha256.h"
#include "json_mini.h"
#include "mock_hal.h"

int g_checks, g_failures;
uint8_t g_key[GATE_KEY_LEN];
static uint8_t g_sk[GATE_SESSION_KEY_LEN];

void test_state_machine(void); /* test_session.c */

static void test_primitives(const struct jm *v)
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
}

static void test_handshake_vectors(const struct jm *v)
{
	const struct jm *hs = jm_get(v, "handshake"), *nv = jm_get(hs, "nonce");
	uint8_t hn[GATE_NONCE_LEN], cn[GATE_NONCE_LEN], sk[GATE_SESSION_KEY_LEN], want[64], wire[GATE_MAX_WIRE_LEN];
	uint8_t entropy[GATE_ENTROPY_LEN], nonce[GATE_NONCE_LEN];
	int n;

	CHECK(strcmp(jm_get(hs, "label")->str, GATE_SESSION_LABEL) == 0);
	CHECK(jm_hex(hs, "host_nonce", hn, sizeof(hn)) == GATE_NONCE_LEN);
	CHECK(jm_hex(hs, "ctrl_nonce", cn, sizeof(cn)) == GATE_NONCE_LEN);
	CHECK(jm_hex(hs, "session_key", g_sk, sizeof(g_sk)) == GATE_SESSION_KEY_LEN);
	gate_session_derive(g_key, hn, cn, sk);
	CHECK(memcmp(sk, g_sk, sizeof(sk)) == 0);
	n = jm_hex(hs, "hello_wire", want, sizeof(want));
	CHECK(gate_frame_build(GATE_MSG_HELLO, 1, hn, sizeof(hn), NULL, wire, sizeof(wire)) == n &&
	      memcmp(wire, want, (size_t)n) == 0);
	n = jm_hex(hs, "challenge_wire", want, sizeof(want));
	CHECK(gate_frame_build(GATE_MSG_CHALLENGE, 1, cn, sizeof(cn), sk, wire, sizeof(wire)) == n &&
	      memcmp(wire, want, (size_t)n) == 0);
	CHECK(jm_hex(nv, "entropy", entropy, sizeof(entropy)) == GATE_ENTROPY_LEN);
	CHECK(jm_hex(nv, "nonce", want, sizeof(want)) == GATE_NONCE_LEN);
	gate_session_nonce(entropy, (uint32_t)jm_get(nv, "boot_count")->num, (uint32_t)jm_get(nv, "handshake")->num,
			   nonce);
	CHECK(memcmp(nonce, want, GATE_NONCE_LEN) == 0);
	gate_session_nonce(entropy, (uint32_t)jm_get(nv, "boot_count")->num + 1u,
			   (uint32_t)jm_get(nv, "handshake")->num, nonce);
	CHECK(memcmp(nonce, want, GATE_NONCE_LEN) != 0); /* same entropy, next boot: another nonce */
}

/* Pack a body by hand from the documented layouts (numeric fields only). @retval length, -1 if n/a. */
static int pack_by_hand(uint8_t type, const uint32_t *fv, const struct jm *ctr, uint8_t *body)
{
	int bl;

	switch (type) {
	case GATE_MSG_HEARTBEAT:
	case GATE_MSG_STATUS_REQ:
		bl = 0;
		break;
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
		return -1; /* nonces and refs: compared through the "body" hex only */
	}
	if (ctr && ctr->kind == JM_NUM) {
		gate_put_u32(body + bl, (uint32_t)ctr->num);
		bl += 4;
	}
	return bl;
}

static const uint8_t *key_named(const char *which)
{
	if (strcmp(which, "session") == 0)
		return g_sk;
	if (strcmp(which, "device") == 0)
		return g_key;
	return NULL;
}

static void test_frame_vectors(const struct jm *v)
{
	uint8_t a[256], body[64], hand[64], c[256], scratch[GATE_MAX_FRAME_LEN];

	for (struct jm *e = jm_get(v, "frames")->child; e; e = e->next) {
		uint8_t type = (uint8_t)jm_get(e, "type")->num;
		uint16_t seq = (uint16_t)jm_get(e, "seq")->num;
		struct jm *ctr = jm_get(e, "counter");
		const uint8_t *key = key_named(jm_get(e, "key")->str);
		struct gate_frame f;
		uint32_t fv[8];
		int nf = 0, n, k, bl, hl;
		for (struct jm *x = jm_get(e, "fields")->child; x && nf < 8; x = x->next)
			fv[nf++] = x->kind == JM_NUM ? (uint32_t)x->num : 0;
		bl = jm_hex(e, "body", body, sizeof(body));
		hl = pack_by_hand(type, fv, ctr, hand);
		CHECK(bl == gate_msg_payload_len(type) - (gate_msg_has_tag(type) ? (int)GATE_TAG_LEN : 0));
		CHECK(hl < 0 || (hl == bl && memcmp(hand, body, (size_t)bl) == 0));
		CHECK(gate_msg_has_tag(type) == (key != NULL));
		n = jm_hex(e, "wire", a, sizeof(a));
		k = gate_frame_build(type, seq, body, (size_t)bl, key, c, sizeof(c));
		CHECK(k == n && memcmp(a, c, (size_t)n) == 0);
		if (k != n || memcmp(a, c, (size_t)n) != 0)
			fprintf(stderr, "  frame vector '%s' differs\n", jm_get(e, "name")->str);
		CHECK(gate_frame_decode(a, (size_t)n - 1, scratch, sizeof(scratch), &f) == GATE_OK);
		CHECK(f.type == type && f.seq == seq);
		CHECK(key == NULL || gate_frame_verify_tag(&f, key));
		CHECK(key == NULL || !gate_frame_verify_tag(&f, key == g_sk ? g_key : g_sk)); /* keys never mix */
		if (ctr && ctr->kind == JM_NUM)
			CHECK(gate_msg_has_counter(type) && gate_frame_counter(&f) == (uint32_t)ctr->num);
	}
}

static void test_reject_vectors(const struct jm *v)
{
	uint8_t a[512], scratch[GATE_MAX_FRAME_LEN];

	for (struct jm *e = jm_get(v, "rejects")->child; e; e = e->next) {
		struct gate_frame f;
		const char *want = jm_get(e, "error")->str, *got;
		int err, n = jm_hex(e, "wire", a, sizeof(a));
		if (n > 0 && a[n - 1] == 0)
			n--;
		err = gate_frame_decode(a, (size_t)n, scratch, sizeof(scratch), &f);
		if (err == GATE_OK && gate_msg_has_tag(f.type) &&
		    !gate_frame_verify_tag(&f, f.type == GATE_MSG_REFUSE ? g_key : g_sk))
			err = GATE_ERR_TAG;
		got = gate_strerror(err);
		CHECK(strcmp(got, want) == 0);
		if (strcmp(got, want) != 0)
			fprintf(stderr, "  reject vector '%s': firmware says %s, vectors say %s\n",
				jm_get(e, "name")->str, got, want);
	}
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
	CHECK((int)jm_get(v, "protocol_version")->num == GATE_PROTOCOL_VERSION);
	test_primitives(v);
	test_handshake_vectors(v);
	test_frame_vectors(v);
	test_reject_vectors(v);
	test_state_machine();
	jm_free(v);
	free(text);
	printf("%d checks, %d failures\n", g_checks, g_failures);
	return g_failures ? 1 : 0;
}
