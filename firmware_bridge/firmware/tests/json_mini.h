/* A small JSON reader for the shared test vectors (tests only; the core never parses JSON). */
#ifndef BIOGATE_JSON_MINI_H
#define BIOGATE_JSON_MINI_H
#include <stddef.h>

enum jm_kind { JM_NULL, JM_BOOL, JM_NUM, JM_STR, JM_ARR, JM_OBJ };

struct jm {
	enum jm_kind kind;
	double num;
	char *str;          /* JM_STR value, or member name when inside an object */
	char *key;
	struct jm *child;   /* first element/member */
	struct jm *next;    /* next sibling */
};

/** Parse text; @retval root or NULL on a syntax error. Free with jm_free(). */
struct jm *jm_parse(const char *text);
void jm_free(struct jm *node);
struct jm *jm_get(const struct jm *obj, const char *key);
size_t jm_len(const struct jm *arr);
/** Decode a hex string member into buf. @retval byte count or -1. */
int jm_hex(const struct jm *obj, const char *key, unsigned char *buf, size_t cap);
#endif
