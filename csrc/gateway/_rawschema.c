/*
 * ringfence.gateway._rawschema: "is this JSON body certainly acceptable?" on the raw bytes.
 *
 * The gateway parses every JSON request body with orjson only to check the route's structure
 * caps (depth, container sizes, string lengths) and its JSON Schema: about 12 % of a request's
 * instructions go to building Python objects that are thrown away. A Program holds a route
 * schema compiled to nodes (gateway/schema.py, compile_raw) and checks a body in one pass over
 * its bytes without creating any object.
 *
 * One-sided by design: valid() answers 1 only when the body is well-formed JSON that orjson
 * accepts, within the caps and valid under the schema, exactly as the Python path would
 * decide. Anything else — invalid JSON, a cap or keyword not met, a construct it does not
 * decide itself (exponents, more than 18 digits, \u escapes of surrogates, escaped keys where
 * keys matter, enums of non-strings, pattern, uniqueItems, nesting past MAX_NEST) — answers 0
 * and the caller takes the Python path, which gives the verdict and the error. So a mistake
 * here can only cost speed, unless it answers 1 for a body the Python path refuses: the
 * differential tests (tests/gateway/test_raw_schema.py) look for exactly that.
 *
 * The body is only read (bounds checked at every step); recursion is bounded by MAX_NEST;
 * the GIL is held (the body object cannot change under the walk).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define MAX_NEST 256 /* containers nested deeper: answer 0 (no deep C recursion) */

enum {
    T_NULL = 1,
    T_BOOL = 2,
    T_INT = 4,  /* "integer": a literal without fraction or exponent */
    T_NUM = 8,  /* "number": any finite literal */
    T_STR = 16,
    T_ARR = 32,
    T_OBJ = 64,
};

enum {
    F_FALLBACK = 1, /* a value reaching this node is decided by the Python path */
    F_HAS_MIN = 2,
    F_HAS_MAX = 4,
    F_HAS_XMIN = 8,
    F_HAS_XMAX = 16,
    F_KEYS_MATTER = 32, /* properties / additionalProperties / required look at the keys */
};

typedef struct {
    char *key; /* UTF-8, not NUL-terminated */
    Py_ssize_t len;
    int child;    /* node of this property's schema; -1: not a property (required only) */
    int req_bit;  /* bit in the required mask, -1: not required */
    uint64_t word; /* keys of up to 8 bytes: those bytes, zero-padded, in memory order */
    int plain;         /* no '"', '\\' or control byte: it reads the same raw as decoded */
    Py_ssize_t cps;    /* its length in code points */
} Key;

typedef struct {
    int types;
    int flags;
    Py_ssize_t min_len, max_len;     /* strings, in code points; max -1: none */
    Py_ssize_t min_items, max_items; /* arrays; max -1: none */
    Py_ssize_t max_props;            /* objects; -1: none */
    double minimum, maximum, xminimum, xmaximum;
    int items;      /* node for array items; -1: anything */
    int additional; /* node for other properties; -1: anything, -2: none allowed */
    uint64_t required_all;
    Key *keys;
    Py_ssize_t n_keys;
    char **enum_s; /* string enum/const literals (UTF-8); NULL: no enum */
    Py_ssize_t *enum_len;
    Py_ssize_t n_enum;
} Node;

typedef struct {
    PyObject_HEAD
    Node *nodes;
    Py_ssize_t n_nodes;
} Program;

typedef struct {
    const unsigned char *s;
    Py_ssize_t i, n;
    const Program *prog;
    const Node *nodes; /* prog->nodes */
    Py_ssize_t max_depth, max_items, max_string;
} Parser;

/* -- lexical helpers ------------------------------------------------------------------------ */

static inline void ws(Parser *p) {
    const unsigned char *s = p->s;
    Py_ssize_t i = p->i, n = p->n;
    /* most calls find no whitespace at all (compact JSON): one compare decides that, and
       p->i is not written back */
    if (i >= n || s[i] > ' ') return;
    while (i < n && s[i] <= ' ' && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
        i++;
    p->i = i;
}

/* The byte ``want`` next, after any whitespace: consumed (1) or not there (0). Compact JSON has
   no whitespace, so the first compare usually decides. */
static inline int expect(Parser *p, unsigned char want) {
    if (p->i >= p->n || p->s[p->i] != want) {
        ws(p);
        if (p->i >= p->n || p->s[p->i] != want) return 0;
    }
    p->i++;
    return 1;
}

/* After a member, after any whitespace: ',' (1) or ``close`` (2) consumed, or neither (0). */
static inline int separator(Parser *p, unsigned char close) {
    if (p->i < p->n && p->s[p->i] > ' ') {
        unsigned char c = p->s[p->i++];
        return c == ',' ? 1 : c == close ? 2 : 0;
    }
    ws(p);
    if (p->i >= p->n) return 0;
    unsigned char c = p->s[p->i++];
    return c == ',' ? 1 : c == close ? 2 : 0;
}

static inline int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* One UTF-8 sequence starting at s[i] (non-ASCII lead byte): its length, or 0 if invalid
   (overlong, surrogate, above U+10FFFF, truncated) — orjson refuses those bodies. */
static inline Py_ssize_t utf8_len(const unsigned char *s, Py_ssize_t i, Py_ssize_t n) {
    unsigned char c = s[i];
    if (c >= 0xC2 && c <= 0xDF) {
        if (i + 1 < n && (s[i + 1] & 0xC0) == 0x80) return 2;
        return 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (i + 2 >= n) return 0;
        unsigned char c1 = s[i + 1], c2 = s[i + 2];
        if ((c1 & 0xC0) != 0x80 || (c2 & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && c1 < 0xA0) return 0; /* overlong */
        if (c == 0xED && c1 >= 0xA0) return 0; /* surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (i + 3 >= n) return 0;
        unsigned char c1 = s[i + 1], c2 = s[i + 2], c3 = s[i + 3];
        if ((c1 & 0xC0) != 0x80 || (c2 & 0xC0) != 0x80 || (c3 & 0xC0) != 0x80) return 0;
        if (c == 0xF0 && c1 < 0x90) return 0; /* overlong */
        if (c == 0xF4 && c1 >= 0x90) return 0; /* above U+10FFFF */
        return 4;
    }
    return 0;
}

/* A string at p->i (the opening quote). On success (1): *start and *end delimit its content,
   *cps its length in code points, *escaped whether it holds escapes. 0: invalid or undecided. */
static inline __attribute__((always_inline)) int string(Parser *p, Py_ssize_t *start, Py_ssize_t *end, Py_ssize_t *cps, int *escaped) {
    const unsigned char *s = p->s;
    Py_ssize_t i = p->i + 1, n = p->n, count = 0;
    int esc = 0;
    *start = i;
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'),
                  space = _mm_set1_epi8(0x20);
#endif
    while (i < n) {
#ifdef __SSE2__
        /* 16 bytes at a time while they are plain ASCII: no quote, backslash, control byte or
           byte >= 0x80 (negative in the signed compare, so below 0x20 too) */
        while (i + 16 <= n) {
            __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
            __m128i special = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                _mm_cmplt_epi8(v, space));
            int mask = _mm_movemask_epi8(special);
            if (mask != 0) {
                int k = __builtin_ctz((unsigned)mask);
                i += k;
                count += k;
                break;
            }
            i += 16;
            count += 16;
        }
        if (i >= n) break;
#endif
        unsigned char c = s[i];
        if (c == '"') {
            *end = i;
            *cps = count;
            *escaped = esc;
            p->i = i + 1;
            return 1;
        }
        if (c < 0x20) return 0; /* control characters must be escaped */
        if (c < 0x80) {
            if (c == '\\') {
                esc = 1;
                if (i + 1 >= n) return 0;
                unsigned char e = s[i + 1];
                if (e == 'u') {
                    if (i + 5 >= n) return 0;
                    int h0 = hexval(s[i + 2]), h1 = hexval(s[i + 3]), h2 = hexval(s[i + 4]),
                        h3 = hexval(s[i + 5]);
                    if ((h0 | h1 | h2 | h3) < 0) return 0;
                    int cp = (h0 << 12) | (h1 << 8) | (h2 << 4) | h3;
                    if (cp >= 0xD800 && cp <= 0xDFFF) return 0; /* surrogates: Python decides */
                    i += 6;
                } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                           e == 'r' || e == 't') {
                    i += 2;
                } else {
                    return 0;
                }
            } else {
                i++;
            }
        } else {
            Py_ssize_t len = utf8_len(s, i, n);
            if (len == 0) return 0;
            i += len;
        }
        count++;
    }
    return 0; /* unterminated */
}

/* A number at p->i. *is_int: no fraction and no exponent; *value: its value when is_int and
   it has at most 15 digits (exact as a double); *exact: that value is set. */
static inline __attribute__((always_inline)) int number(Parser *p, int *is_int, double *value, int *exact) {
    const unsigned char *s = p->s;
    Py_ssize_t i = p->i, n = p->n, digits = 0;
    int neg = 0;
    int64_t v = 0;
    if (i < n && s[i] == '-') {
        neg = 1;
        i++;
    }
    if (i >= n) return 0;
    if (s[i] == '0') {
        i++;
        digits = 1;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (digits < 18) v = v * 10 + (s[i] - '0');
            digits++;
            i++;
        }
    } else {
        return 0;
    }
    if (digits > 18) return 0; /* orjson turns these into floats: Python decides */
    int frac = 0;
    if (i < n && s[i] == '.') {
        i++;
        Py_ssize_t f = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
            f++;
        }
        if (f == 0) return 0;
        frac = 1;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) return 0; /* exponents: Python decides */
    p->i = i;
    *is_int = !frac;
    *exact = !frac && digits <= 15;
    *value = (double)(neg ? -v : v);
    return 1;
}

static inline int literal(Parser *p, const char *word, Py_ssize_t len) {
    if (p->n - p->i < len || memcmp(p->s + p->i, word, (size_t)len) != 0) return 0;
    p->i += len;
    return 1;
}

/* -- the walk ------------------------------------------------------------------------------- */

static int object(Parser *p, const Node *nd, Py_ssize_t depth);
static int array(Parser *p, const Node *nd, Py_ssize_t depth);
static inline int value_at(Parser *p, int node, Py_ssize_t depth);

static int check_number(const Node *nd, int is_int, double v, int exact) {
    if (is_int) {
        if (!(nd->types & (T_INT | T_NUM))) return 0;
    } else if (!(nd->types & T_NUM)) {
        return 0; /* 1.0 may still be an "integer": Python decides */
    }
    if (nd->flags & (F_HAS_MIN | F_HAS_MAX | F_HAS_XMIN | F_HAS_XMAX)) {
        if (!exact) return 0;
        if ((nd->flags & F_HAS_MIN) && v < nd->minimum) return 0;
        if ((nd->flags & F_HAS_MAX) && v > nd->maximum) return 0;
        if ((nd->flags & F_HAS_XMIN) && v <= nd->xminimum) return 0;
        if ((nd->flags & F_HAS_XMAX) && v >= nd->xmaximum) return 0;
    }
    return 1;
}

static int array(Parser *p, const Node *nd, Py_ssize_t depth) {
    Py_ssize_t count = 0;
    int item = nd ? nd->items : -1;
    p->i++; /* [ */
    ws(p);
    if (p->i < p->n && p->s[p->i] == ']') {
        p->i++;
    } else {
        for (;;) {
            if (!value_at(p, item, depth)) return 0; /* skips whitespace before the value */
            count++;
            int sep = separator(p, ']');
            if (sep == 2) break;
            if (sep == 0) return 0;
        }
    }
    if (count > p->max_items) return 0;
    if (nd != NULL) {
        if (count < nd->min_items) return 0;
        if (nd->max_items >= 0 && count > nd->max_items) return 0;
    }
    return 1;
}

/* KEY_MASK[n]: the low n bytes of a word (n <= 8). */
static const uint64_t KEY_MASK[9] = {
    0, 0xff, 0xffff, 0xffffff, 0xffffffffULL, 0xffffffffffULL, 0xffffffffffffULL,
    0xffffffffffffffULL, 0xffffffffffffffffULL,
};

static int object(Parser *p, const Node *nd, Py_ssize_t depth) {
    Py_ssize_t count = 0;
    uint64_t seen = 0;
    int keys_matter = nd != NULL && (nd->flags & F_KEYS_MATTER);
    p->i++; /* { */
    ws(p);
    if (p->i < p->n && p->s[p->i] == '}') {
        p->i++;
    } else {
        for (;;) {
            if (p->i >= p->n || p->s[p->i] != '"') {
                ws(p);
                if (p->i >= p->n || p->s[p->i] != '"') return 0;
            }
            int child = -1;
            if (keys_matter) {
                /* A property spelled plainly in the body — its bytes, then the closing quote —
                   is that property: found without reading the key as a string first (the
                   string read below finds the same key, unescaped, with the same length). */
                const Key *k = NULL;
                const unsigned char *kp = p->s + p->i + 1;
                Py_ssize_t avail = p->n - (p->i + 1);
                uint64_t kw8 = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                int words = avail >= 8;
                if (words) memcpy(&kw8, kp, 8);
#else
                int words = 0;
#endif
                const Key *keys = nd->keys;
                for (Py_ssize_t j = 0, nk = nd->n_keys; j < nk; j++) {
                    const Key *cand = &keys[j];
                    Py_ssize_t kl = cand->len;
                    if (!cand->plain || kl >= avail || kp[kl] != '"') continue;
                    if (words && kl <= 8 ? (kw8 & KEY_MASK[kl]) == cand->word
                                         : memcmp(kp, cand->key, (size_t)kl) == 0) {
                        k = cand;
                        break;
                    }
                }
                if (k != NULL) {
                    if (k->cps > p->max_string) return 0;
                    p->i += k->len + 2;
                    if (k->req_bit >= 0) seen |= (uint64_t)1 << k->req_bit;
                    if (k->child >= 0) {
                        child = k->child;
                    } else {
                        if (nd->additional == -2) return 0; /* additionalProperties: false */
                        child = nd->additional;
                    }
                    goto value;
                }
            }
            Py_ssize_t ks, ke, kcps;
            int kesc;
            if (!string(p, &ks, &ke, &kcps, &kesc)) return 0;
            if (kcps > p->max_string) return 0;
            if (keys_matter) {
                if (kesc) return 0; /* an escaped key may spell a property: Python decides */
                const Key *k = NULL;
                Py_ssize_t klen = ke - ks;
                const unsigned char *kp = p->s + ks;
                /* a key of up to 8 bytes is one 8-byte word: the body has at least 8 bytes
                   from the key on (its closing quote and what must follow), else the loop */
                uint64_t kw = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                int by_word = klen <= 8 && ks + 8 <= p->n;
#else
                int by_word = 0;
#endif
                if (by_word) {
                    memcpy(&kw, kp, 8);
                    kw &= KEY_MASK[klen]; /* little-endian: the key's bytes, zero-padded */
                }
                const Key *keys = nd->keys;
                for (Py_ssize_t j = 0, nk = nd->n_keys; j < nk; j++) {
                    const Key *cand = &keys[j];
                    if (by_word) {
                        if (cand->word == kw && cand->len == klen) {
                            k = cand;
                            break;
                        }
                        continue;
                    }
                    if (cand->len != klen) continue;
                    Py_ssize_t m = 0; /* keys are short: compared inline, not by memcmp */
                    while (m < klen && (unsigned char)cand->key[m] == kp[m]) m++;
                    if (m == klen) {
                        k = cand;
                        break;
                    }
                }
                if (k != NULL && k->req_bit >= 0) seen |= (uint64_t)1 << k->req_bit;
                if (k != NULL && k->child >= 0) {
                    child = k->child;
                } else {
                    if (nd->additional == -2) return 0; /* additionalProperties: false */
                    child = nd->additional;
                }
            }
        value:
            if (!expect(p, ':')) return 0;
            if (!value_at(p, child, depth)) return 0; /* skips whitespace before the value */
            count++;
            int sep = separator(p, '}');
            if (sep == 2) break;
            if (sep == 0) return 0;
        }
    }
    if (count > p->max_items) return 0; /* raw count >= distinct keys: Python decides */
    if (nd != NULL) {
        if ((seen & nd->required_all) != nd->required_all) return 0;
        if (nd->max_props >= 0 && count > nd->max_props) return 0;
    }
    return 1;
}

/* One value at p->i under ``node``: inlined into the walk of arrays and objects, so a
   scalar member costs no call; only containers recurse (through object / array). */
static inline __attribute__((always_inline)) int value_at(Parser *p, int node, Py_ssize_t depth) {
    const Node *nd = node >= 0 ? &p->nodes[node] : NULL;
    if (nd != NULL && (nd->flags & F_FALLBACK)) return 0;
    if (p->i >= p->n) return 0;
    unsigned char c = p->s[p->i];
    if (c <= ' ') { /* whitespace before the value (anything else below ' ' fails below) */
        ws(p);
        if (p->i >= p->n) return 0;
        c = p->s[p->i];
    }
    int types = nd ? nd->types : 0x7f;
    switch (c) {
    case '{':
    case '[':
        if (!(types & (c == '{' ? T_OBJ : T_ARR))) return 0;
        if (nd != NULL && nd->enum_s != NULL) return 0; /* enums hold strings only */
        if (depth + 1 > p->max_depth || depth + 1 > MAX_NEST) return 0;
        return c == '{' ? object(p, nd, depth + 1) : array(p, nd, depth + 1);
    case '"': {
        if (!(types & T_STR)) return 0;
        Py_ssize_t st, en, cps;
        int esc;
        if (!string(p, &st, &en, &cps, &esc)) return 0;
        if (cps > p->max_string) return 0;
        if (nd == NULL) return 1;
        if (cps < nd->min_len) return 0;
        if (nd->max_len >= 0 && cps > nd->max_len) return 0;
        if (nd->enum_s != NULL) {
            if (esc) return 0;
            Py_ssize_t len = en - st;
            for (Py_ssize_t j = 0; j < nd->n_enum; j++)
                if (nd->enum_len[j] == len && memcmp(nd->enum_s[j], p->s + st, (size_t)len) == 0)
                    return 1;
            return 0;
        }
        return 1;
    }
    case 't':
    case 'f':
        if (!(types & T_BOOL) || (nd != NULL && nd->enum_s != NULL)) return 0;
        return c == 't' ? literal(p, "true", 4) : literal(p, "false", 5);
    case 'n':
        if (!(types & T_NULL) || (nd != NULL && nd->enum_s != NULL)) return 0;
        return literal(p, "null", 4);
    default: {
        int is_int, exact;
        double v;
        if (!(types & (T_INT | T_NUM)) || (nd != NULL && nd->enum_s != NULL)) return 0;
        if (!number(p, &is_int, &v, &exact)) return 0;
        return nd == NULL ? 1 : check_number(nd, is_int, v, exact);
    }
    }
}

static int value(Parser *p, int node, Py_ssize_t depth) { return value_at(p, node, depth); }

/* -- the Program type ----------------------------------------------------------------------- */

static void free_nodes(Node *nodes, Py_ssize_t n) {
    if (nodes == NULL) return;
    for (Py_ssize_t i = 0; i < n; i++) {
        Node *nd = &nodes[i];
        for (Py_ssize_t j = 0; j < nd->n_keys; j++) PyMem_Free(nd->keys[j].key);
        PyMem_Free(nd->keys);
        for (Py_ssize_t j = 0; j < nd->n_enum; j++) PyMem_Free(nd->enum_s[j]);
        PyMem_Free(nd->enum_s);
        PyMem_Free(nd->enum_len);
    }
    PyMem_Free(nodes);
}

static void program_dealloc(Program *self) {
    free_nodes(self->nodes, self->n_nodes);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int copy_bytes(PyObject *b, char **out, Py_ssize_t *len) {
    if (!PyBytes_Check(b)) {
        PyErr_SetString(PyExc_TypeError, "keys and enum literals must be bytes");
        return -1;
    }
    *len = PyBytes_GET_SIZE(b);
    *out = PyMem_Malloc((size_t)(*len > 0 ? *len : 1));
    if (*out == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(*out, PyBytes_AS_STRING(b), (size_t)*len);
    return 0;
}

static int opt_double(PyObject *o, double *out) {
    if (o == Py_None) return 0;
    *out = PyFloat_AsDouble(o);
    if (*out == -1.0 && PyErr_Occurred()) return -1;
    return 1;
}

/* nodes: a sequence of tuples
   (types, fallback, min_len, max_len, min_items, max_items, max_props, items, additional,
    minimum, maximum, xminimum, xmaximum, keys, enum)
   keys: sequence of (key bytes, child node or -1, required bit or -1); enum: None or a
   sequence of bytes. Node indices are checked against the node count. */
static int program_init(Program *self, PyObject *args, PyObject *Py_UNUSED(kwds)) {
    PyObject *spec;
    if (!PyArg_ParseTuple(args, "O", &spec)) return -1;
    PyObject *seq = PySequence_Fast(spec, "nodes must be a sequence");
    if (seq == NULL) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n < 1) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "a program needs at least one node");
        return -1;
    }
    Node *nodes = PyMem_Calloc((size_t)n, sizeof(Node));
    if (nodes == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Node *nd = &nodes[i];
        PyObject *t = PySequence_Fast_GET_ITEM(seq, i);
        PyObject *mn, *mx, *xmn, *xmx, *keys, *en;
        if (!PyTuple_Check(t) ||
            !PyArg_ParseTuple(t, "iinnnnniiOOOOOO", &nd->types, &nd->flags, &nd->min_len,
                              &nd->max_len, &nd->min_items, &nd->max_items, &nd->max_props,
                              &nd->items, &nd->additional, &mn, &mx, &xmn, &xmx, &keys, &en))
            goto fail;
        nd->flags &= F_FALLBACK;
        if (nd->items < -1 || nd->items >= n || nd->additional < -2 || nd->additional >= n) {
            PyErr_SetString(PyExc_ValueError, "node index out of range");
            goto fail;
        }
        int r;
        if ((r = opt_double(mn, &nd->minimum)) < 0) goto fail;
        if (r) nd->flags |= F_HAS_MIN;
        if ((r = opt_double(mx, &nd->maximum)) < 0) goto fail;
        if (r) nd->flags |= F_HAS_MAX;
        if ((r = opt_double(xmn, &nd->xminimum)) < 0) goto fail;
        if (r) nd->flags |= F_HAS_XMIN;
        if ((r = opt_double(xmx, &nd->xmaximum)) < 0) goto fail;
        if (r) nd->flags |= F_HAS_XMAX;
        if (nd->additional != -1) nd->flags |= F_KEYS_MATTER;
        PyObject *kseq = PySequence_Fast(keys, "keys must be a sequence");
        if (kseq == NULL) goto fail;
        Py_ssize_t nk = PySequence_Fast_GET_SIZE(kseq);
        if (nk > 0) {
            nd->keys = PyMem_Calloc((size_t)nk, sizeof(Key));
            if (nd->keys == NULL) {
                Py_DECREF(kseq);
                PyErr_NoMemory();
                goto fail;
            }
            nd->flags |= F_KEYS_MATTER;
        }
        for (Py_ssize_t j = 0; j < nk; j++) {
            PyObject *kt = PySequence_Fast_GET_ITEM(kseq, j), *kb;
            Key *k = &nd->keys[j];
            if (!PyTuple_Check(kt) || !PyArg_ParseTuple(kt, "Oii", &kb, &k->child, &k->req_bit) ||
                copy_bytes(kb, &k->key, &k->len) < 0) {
                Py_DECREF(kseq);
                goto fail;
            }
            nd->n_keys = j + 1;
            if (k->child < -1 || k->child >= n || k->req_bit < -1 || k->req_bit >= 64) {
                Py_DECREF(kseq);
                PyErr_SetString(PyExc_ValueError, "key child or required bit out of range");
                goto fail;
            }
            if (k->req_bit >= 0) nd->required_all |= (uint64_t)1 << k->req_bit;
            k->word = 0;
            if (k->len <= 8) memcpy(&k->word, k->key, (size_t)k->len);
            k->plain = 1;
            k->cps = 0;
            for (Py_ssize_t m = 0; m < k->len; m++) {
                unsigned char c = (unsigned char)k->key[m];
                if (c < 0x20 || c == '"' || c == '\\') k->plain = 0;
                if ((c & 0xC0) != 0x80) k->cps++;
            }
        }
        Py_DECREF(kseq);
        if (en != Py_None) {
            PyObject *eseq = PySequence_Fast(en, "enum must be a sequence");
            if (eseq == NULL) goto fail;
            Py_ssize_t ne = PySequence_Fast_GET_SIZE(eseq);
            nd->enum_s = PyMem_Calloc((size_t)(ne > 0 ? ne : 1), sizeof(char *));
            nd->enum_len = PyMem_Calloc((size_t)(ne > 0 ? ne : 1), sizeof(Py_ssize_t));
            if (nd->enum_s == NULL || nd->enum_len == NULL) {
                Py_DECREF(eseq);
                PyErr_NoMemory();
                goto fail;
            }
            for (Py_ssize_t j = 0; j < ne; j++) {
                if (copy_bytes(PySequence_Fast_GET_ITEM(eseq, j), &nd->enum_s[j],
                               &nd->enum_len[j]) < 0) {
                    Py_DECREF(eseq);
                    goto fail;
                }
                nd->n_enum = j + 1;
            }
            Py_DECREF(eseq);
        }
    }
    Py_DECREF(seq);
    free_nodes(self->nodes, self->n_nodes);
    self->nodes = nodes;
    self->n_nodes = n;
    return 0;
fail:
    Py_DECREF(seq);
    free_nodes(nodes, n);
    return -1;
}

static PyObject *program_valid(Program *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "valid(body, max_depth, max_items, max_string)");
        return NULL;
    }
    if (self->nodes == NULL) {
        PyErr_SetString(PyExc_ValueError, "program not initialised");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) return NULL;
    Parser p;
    p.s = view.buf;
    p.i = 0;
    p.n = view.len;
    p.prog = self;
    p.nodes = self->nodes;
    p.max_depth = PyLong_AsSsize_t(args[1]);
    p.max_items = PyLong_AsSsize_t(args[2]);
    p.max_string = PyLong_AsSsize_t(args[3]);
    if (PyErr_Occurred()) {
        PyBuffer_Release(&view);
        return NULL;
    }
    /* The GIL is kept: a body takes microseconds, and taking the GIL back after a release can
       wait for another thread's switch interval (milliseconds on the event loop's tail). */
    ws(&p);
    int ok = value(&p, 0, 0);
    if (ok) {
        ws(&p);
        ok = p.i == p.n;
    }
    PyBuffer_Release(&view);
    return PyBool_FromLong(ok);
}

static PyMethodDef program_methods[] = {
    {"valid", (PyCFunction)(void (*)(void))program_valid, METH_FASTCALL,
     "valid(body, max_depth, max_items, max_string) -> True only if certainly acceptable"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ProgramType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "ringfence.gateway._rawschema.Program",
    .tp_basicsize = sizeof(Program),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A route schema compiled for checking raw JSON bodies.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)program_init,
    .tp_dealloc = (destructor)program_dealloc,
    .tp_methods = program_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "ringfence.gateway._rawschema",
    "Raw JSON bodies checked against compiled route schemas (one-sided: True is certain).", -1,
    NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__rawschema(void) {
    if (PyType_Ready(&ProgramType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&ProgramType);
    if (PyModule_AddObject(m, "Program", (PyObject *)&ProgramType) < 0) {
        Py_DECREF(&ProgramType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
