#include "json_mini.h"

#include <stdlib.h>
#include <string.h>

struct parser {
	const char *p;
	int ok;
};

static void ws(struct parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t')
		ps->p++;
}

static struct jm *node(enum jm_kind kind)
{
	struct jm *n = calloc(1, sizeof(*n));
	if (n)
		n->kind = kind;
	return n;
}

static char *parse_string(struct parser *ps)
{
	const char *start;
	char *out;
	size_t n = 0;

	if (*ps->p != '"') {
		ps->ok = 0;
		return NULL;
	}
	start = ++ps->p;
	while (*ps->p && *ps->p != '"') {
		if (*ps->p == '\\' && ps->p[1])
			ps->p++;
		ps->p++;
	}
	if (*ps->p != '"') {
		ps->ok = 0;
		return NULL;
	}
	out = malloc((size_t)(ps->p - start) + 1);
	for (const char *c = start; c < ps->p; c++) {
		if (*c == '\\')
			c++; /* vectors only escape quotes and backslashes */
		out[n++] = *c;
	}
	out[n] = 0;
	ps->p++;
	return out;
}

static struct jm *parse_value(struct parser *ps);

static struct jm *parse_container(struct parser *ps, int is_obj)
{
	struct jm *n = node(is_obj ? JM_OBJ : JM_ARR), **tail = &n->child;
	char close = is_obj ? '}' : ']';

	ps->p++;
	ws(ps);
	if (*ps->p == close) {
		ps->p++;
		return n;
	}
	while (ps->ok) {
		char *key = NULL;
		struct jm *v;
		ws(ps);
		if (is_obj) {
			key = parse_string(ps);
			ws(ps);
			if (*ps->p != ':') {
				ps->ok = 0;
				free(key);
				break;
			}
			ps->p++;
		}
		v = parse_value(ps);
		if (v == NULL) {
			free(key);
			break;
		}
		v->key = key;
		*tail = v;
		tail = &v->next;
		ws(ps);
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p == close) {
			ps->p++;
			return n;
		}
		ps->ok = 0;
	}
	jm_free(n);
	return NULL;
}

static struct jm *parse_value(struct parser *ps)
{
	struct jm *n;

	ws(ps);
	switch (*ps->p) {
	case '{':
		return parse_container(ps, 1);
	case '[':
		return parse_container(ps, 0);
	case '"':
		n = node(JM_STR);
		n->str = parse_string(ps);
		if (!ps->ok) {
			jm_free(n);
			return NULL;
		}
		return n;
	case 't':
	case 'f':
		n = node(JM_BOOL);
		n->num = *ps->p == 't';
		ps->p += *ps->p == 't' ? 4 : 5;
		return n;
	case 'n':
		ps->p += 4;
		return node(JM_NULL);
	default: {
		char *end;
		double v = strtod(ps->p, &end);
		if (end == ps->p) {
			ps->ok = 0;
			return NULL;
		}
		ps->p = end;
		n = node(JM_NUM);
		n->num = v;
		return n;
	}
	}
}

struct jm *jm_parse(const char *text)
{
	struct parser ps = {text, 1};
	struct jm *root = parse_value(&ps);

	if (!ps.ok) {
		jm_free(root);
		return NULL;
	}
	return root;
}

void jm_free(struct jm *n)
{
	while (n) {
		struct jm *next = n->next;
		jm_free(n->child);
		free(n->str);
		free(n->key);
		free(n);
		n = next;
	}
}

struct jm *jm_get(const struct jm *obj, const char *key)
{
	for (struct jm *c = obj ? obj->child : NULL; c; c = c->next)
		if (c->key && strcmp(c->key, key) == 0)
			return c;
	return NULL;
}

size_t jm_len(const struct jm *arr)
{
	size_t n = 0;

	for (struct jm *c = arr ? arr->child : NULL; c; c = c->next)
		n++;
	return n;
}

static int nib(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int jm_hex(const struct jm *obj, const char *key, unsigned char *buf, size_t cap)
{
	const struct jm *v = jm_get(obj, key);
	size_t len;

	if (v == NULL || v->kind != JM_STR)
		return -1;
	len = strlen(v->str);
	if (len % 2 || len / 2 > cap)
		return -1;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = nib(v->str[2 * i]), lo = nib(v->str[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		buf[i] = (unsigned char)(hi << 4 | lo);
	}
	return (int)(len / 2);
}
