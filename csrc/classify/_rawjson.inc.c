/*
 * json_raw: the JSON hot path of _native.c (included from it, not compiled on its own).
 *
 * One pass over the raw body builds exactly what ``orjson.loads`` + ``json_leaves`` +
 * ``join_leaves`` build for the engine -- the scan buffer (leaf texts joined by SEP, then the
 * key names), each leaf's start and key words -- without a Python object per JSON value. The
 * leaves themselves (field path, key words, text) are a ``RawDoc``: a read-only sequence that
 * builds a ``Leaf`` only when the engine asks for that index (the fields with candidate hits),
 * equal to the one the reference walk makes.
 *
 * An ASCII string's text is its raw bytes; one with other characters is decoded (strict UTF-8,
 * as orjson) and NFKC-normalised by the engine's own ``normalize``; one with escapes (values
 * only: \u0040, \/, surrogate pairs ...) is decoded first, so nothing hides behind an escape.
 * Numbers are integers of up to 18 digits, or floats: a leaf when the float is a whole number
 * of 6 to 40 digits (_extract.float_literal, from the literal's digits), else none. Every
 * value of a duplicate key is a leaf (in document order: readers disagree on which copy wins),
 * and after the values come the distinct object keys, one leaf each (ref (-1,), no key words).
 * For anything else -- an escape in a key, a lone surrogate, deeper nesting than
 * RAW_MAX_DEPTH, a top-level scalar, a body orjson would reject -- it returns None and the
 * caller takes the reference path (_extract.read_json + json_leaves), so what it accepts it
 * reads exactly as that does. Reads only inside the bytes object it was given.
 */

#define RAW_MAX_DEPTH 512  /* deeper: the reference path */
#define RAW_KEY_SLOTS 1024 /* raw key bytes -> normalised words, direct-mapped */
#define RAW_KEY_BYTES 40   /* longer raw keys go through the str-keyed cache only */
#define RAW_PRESIZE 32768  /* at most this many leaves and parts allocated ahead (see json_raw) */

typedef struct {
    Py_ssize_t parent; /* part of the container holding it; -1: the top-level container */
    Py_ssize_t kpos;   /* a key: its offset in the body; a list item: -1 */
    Py_ssize_t kval;   /* the key's length, or the list index */
} RPart;

typedef struct {
    Py_ssize_t part;  /* the leaf's own path part */
    Py_ssize_t src;   /* its raw text: body[src:src + blen] */
    Py_ssize_t blen;
    Py_ssize_t len;   /* its text's length in characters */
    int same;         /* is the text the raw bytes decoded (nothing normalised)? */
    PyObject *text;   /* the text when not plain ASCII (strong), else NULL */
    PyObject *key;    /* key words (strong) */
    PyObject *leaf;   /* the Leaf once built (strong), else NULL */
    int is_key;       /* an object key's own leaf (ref (-1,)) */
} RLeaf;

typedef struct {
    PyObject_HEAD
    PyObject *data;          /* the body (bytes) */
    PyTypeObject *leaf_type; /* the Leaf NamedTuple type */
    RLeaf *leaves;
    Py_ssize_t n, cap;
    RPart *parts;
    Py_ssize_t nparts, pcap;
} RawDoc;

static PyTypeObject RawDocType;

typedef struct {
    uint64_t hash;
    Py_ssize_t len;
    char bytes[RAW_KEY_BYTES];
    PyObject *name; /* strong */
} RawKeySlot;

static RawKeySlot raw_keys[RAW_KEY_SLOTS];

/* (enclosing key name, raw key bytes) -> (key name, key words): the pair every record of a page
 * repeats, found without the two dict lookups of words_of. The enclosing name is held (strong),
 * so its address cannot be reused while the entry stands. */
typedef struct {
    uint64_t hash;
    Py_ssize_t len;
    char bytes[RAW_KEY_BYTES];
    PyObject *last, *name, *words; /* strong */
} RawWordsSlot;

static RawWordsSlot raw_words[RAW_KEY_SLOTS];

/* A raw key's hash (slot choice and a quick inequality test; equal keys are always compared
 * byte for byte): eight bytes a step instead of one. ``end``: the end of the body holding
 * s[0:n] -- a last partial word is read as a whole one and masked when the body goes on that
 * far (little-endian only: the mask keeps the word's first bytes), else byte by byte. */
static uint64_t key_hash(const char *s, Py_ssize_t n, const char *end) {
    const uint64_t k = 0xFF51AFD7ED558CCDULL;
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)n, w;
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, s + i, 8);
        h = (h ^ w) * k;
        h ^= h >> 32;
    }
    if (i < n) {
        Py_ssize_t r = n - i;
        w = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (end - (s + i) >= 8) {
            memcpy(&w, s + i, 8);
            w &= ~0ULL >> (8 * (8 - r));
        } else
#endif
        {
            for (Py_ssize_t j = 0; j < r; j++) w |= (uint64_t)(unsigned char)s[i + j] << (8 * j);
        }
        h = (h ^ w) * k;
        h ^= h >> 32;
    }
    h *= 0xC4CEB9FE1A85EC53ULL;
    return h ^ (h >> 29);
}

static PyObject *ascii_str(const char *s, Py_ssize_t n) {
    PyObject *r = PyUnicode_New(n, 127);
    if (r != NULL && n > 0) memcpy(PyUnicode_1BYTE_DATA(r), s, (size_t)n);
    return r;
}

static int is_ascii(const char *s, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80) return 0;
    return 1;
}

/* a str from bytes already checked to be valid UTF-8 (new reference) */
static PyObject *utf8_str(const char *s, Py_ssize_t n) {
    return is_ascii(s, n) ? ascii_str(s, n) : PyUnicode_DecodeUTF8(s, n, "strict");
}

/* Strict UTF-8, as Python's decoder and orjson read it (no overlong forms, no surrogates,
 * nothing above U+10FFFF). Length of the sequence at s[i], 0 when invalid. */
static Py_ssize_t utf8_seq(const unsigned char *s, Py_ssize_t i, Py_ssize_t n) {
    unsigned char c = s[i];
    Py_ssize_t k;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) k = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        k = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else return 0;
    if (n - i < k) return 0;
    if (s[i + 1] < lo || s[i + 1] > hi) return 0;
    for (Py_ssize_t j = 2; j < k; j++)
        if (s[i + j] < 0x80 || s[i + j] > 0xBF) return 0;
    return k;
}

/* norm_key(raw key) for ASCII key bytes (new reference) */
static PyObject *raw_norm(Walk *w, const char *s, Py_ssize_t n, uint64_t h) {
    RawKeySlot *slot = NULL;
    if (n <= RAW_KEY_BYTES) {
        slot = &raw_keys[h & (RAW_KEY_SLOTS - 1)];
        if (slot->name != NULL && slot->hash == h && slot->len == n &&
            memcmp(slot->bytes, s, (size_t)n) == 0) {
            Py_INCREF(slot->name);
            return slot->name;
        }
    }
    PyObject *k = utf8_str(s, n);
    if (k == NULL) return NULL;
    PyObject *name = norm(w, k);
    Py_DECREF(k);
    if (name != NULL && slot != NULL) {
        slot->hash = h;
        slot->len = n;
        memcpy(slot->bytes, s, (size_t)n);
        Py_INCREF(name);
        Py_XSETREF(slot->name, name);
    }
    return name;
}

static void rawdoc_dealloc(RawDoc *self) {
    for (Py_ssize_t i = 0; i < self->n; i++) {
        Py_XDECREF(self->leaves[i].text);
        Py_XDECREF(self->leaves[i].key);
        Py_XDECREF(self->leaves[i].leaf);
    }
    PyMem_Free(self->leaves);
    PyMem_Free(self->parts);
    Py_XDECREF(self->data);
    Py_XDECREF(self->leaf_type);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static Py_ssize_t rawdoc_len(RawDoc *self) { return self->n; }

/* raw key bytes -> the key as a str (not normalised: a path part), direct-mapped. The same
 * key of every record is then one object whose hash is computed once: a path tuple built
 * here hashes and compares equal to the one memoised by the caller (Classifier.result's
 * path texts) through identity instead of hashing and comparing fresh strings. Key names
 * only, as the other key caches. */
static RawKeySlot raw_names[RAW_KEY_SLOTS];

static PyObject *raw_name(const char *s, Py_ssize_t n, const char *end) {
    if (n > RAW_KEY_BYTES) return utf8_str(s, n);
    uint64_t h = key_hash(s, n, end);
    RawKeySlot *slot = &raw_names[h & (RAW_KEY_SLOTS - 1)];
    if (slot->name != NULL && slot->hash == h && slot->len == n &&
        memcmp(slot->bytes, s, (size_t)n) == 0)
        return Py_NewRef(slot->name);
    PyObject *k = utf8_str(s, n);
    if (k != NULL) {
        slot->hash = h;
        slot->len = n;
        memcpy(slot->bytes, s, (size_t)n);
        Py_XSETREF(slot->name, Py_NewRef(k));
    }
    return k;
}

/* The path tuple of part ``p`` (new reference). */
static PyObject *raw_path(RawDoc *rd, Py_ssize_t p) {
    Py_ssize_t depth = 0;
    for (Py_ssize_t q = p; q >= 0; q = rd->parts[q].parent) depth++;
    PyObject *t = PyTuple_New(depth);
    if (t == NULL) return NULL;
    const char *d = PyBytes_AS_STRING(rd->data), *end = d + PyBytes_GET_SIZE(rd->data);
    Py_ssize_t i = depth;
    for (Py_ssize_t q = p; q >= 0; q = rd->parts[q].parent) {
        RPart *part = &rd->parts[q];
        PyObject *x = part->kpos >= 0 ? raw_name(d + part->kpos, part->kval, end)
                                      : offset_int(part->kval);
        if (x == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, --i, x);
    }
    return t;
}

/* Leaf i, built on first use (borrowed: the RawDoc keeps it). NULL + IndexError outside. */
static PyObject *rawdoc_leaf(RawDoc *rd, Py_ssize_t i) {
    if (i < 0 || i >= rd->n) {
        PyErr_SetString(PyExc_IndexError, "leaf index out of range");
        return NULL;
    }
    RLeaf *lf = &rd->leaves[i];
    if (lf->leaf != NULL) return lf->leaf;
    PyObject *path = raw_path(rd, lf->part);
    PyObject *text = NULL;
    if (path != NULL && lf->text != NULL) {
        text = lf->text;
        Py_INCREF(text);
    } else if (path != NULL) {
        text = ascii_str(PyBytes_AS_STRING(rd->data) + lf->src, lf->len);
    }
    PyObject *leaf = text ? rd->leaf_type->tp_alloc(rd->leaf_type, 4) : NULL;
    if (leaf == NULL) {
        Py_XDECREF(path);
        Py_XDECREF(text);
        return NULL;
    }
    PyTuple_SET_ITEM(leaf, 0, path);
    Py_INCREF(lf->key);
    PyTuple_SET_ITEM(leaf, 1, lf->key);
    PyTuple_SET_ITEM(leaf, 2, text);
    PyObject *ref = lf->is_key ? key_ref : empty_tuple;
    Py_INCREF(ref);
    PyTuple_SET_ITEM(leaf, 3, ref);
    /* str and int parts only (see raw_path), str words and text, an untracked ref: neither
     * can take part in a reference cycle, so the GC need not walk them (as emit does) */
    if (PyObject_GC_IsTracked(path)) PyObject_GC_UnTrack(path);
    if (atomic(ref) && PyObject_GC_IsTracked(leaf)) PyObject_GC_UnTrack(leaf);
    lf->leaf = leaf;
    return leaf;
}

static PyObject *rawdoc_item(RawDoc *self, Py_ssize_t i) {
    PyObject *leaf = rawdoc_leaf(self, i);
    Py_XINCREF(leaf);
    return leaf;
}

static PyObject *rawdoc_keys(RawDoc *self, PyObject *Py_UNUSED(ignored)) {
    PyObject *out = PyList_New(self->n);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < self->n; i++) {
        Py_INCREF(self->leaves[i].key);
        PyList_SET_ITEM(out, i, self->leaves[i].key);
    }
    return out;
}

static PySequenceMethods rawdoc_as_sequence = {
    .sq_length = (lenfunc)rawdoc_len,
    .sq_item = (ssizeargfunc)rawdoc_item,
};

static PyMethodDef rawdoc_methods[] = {
    {"keys", (PyCFunction)rawdoc_keys, METH_NOARGS, "keys() -> the key words of every leaf"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject RawDocType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "ringfence.classify._native.RawDoc",
    .tp_basicsize = sizeof(RawDoc),
    .tp_dealloc = (destructor)rawdoc_dealloc,
    .tp_as_sequence = &rawdoc_as_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The leaves of one JSON body, each built when first indexed (see json_raw).",
    .tp_methods = rawdoc_methods,
};

/* ---- leaf access for confirm / context_matches: a tuple of Leaf or a RawDoc ---------------- */

static Py_ssize_t leaves_len(PyObject *leaves) {
    return Py_IS_TYPE(leaves, &RawDocType) ? ((RawDoc *)leaves)->n : PyTuple_GET_SIZE(leaves);
}

/* borrowed; NULL on error (a RawDoc builds the leaf) */
static PyObject *leaves_get(PyObject *leaves, Py_ssize_t i) {
    if (Py_IS_TYPE(leaves, &RawDocType)) return rawdoc_leaf((RawDoc *)leaves, i);
    return PyTuple_GET_ITEM(leaves, i);
}

/* A snapshot of ``leaves`` (a list of Leaf: a tuple of them; a RawDoc: itself), new ref. */
static PyObject *leaves_snapshot(PyObject *leaves) {
    if (Py_IS_TYPE(leaves, &RawDocType)) {
        Py_INCREF(leaves);
        return leaves;
    }
    if (!PyList_Check(leaves)) {
        PyErr_SetString(PyExc_TypeError, "leaves must be a list of Leaf or a RawDoc");
        return NULL;
    }
    return PyList_AsTuple(leaves);
}

/* ---- the tokenizer ------------------------------------------------------------------------ */

typedef struct {
    int obj;
    Py_ssize_t part;   /* this container's part, -1 at the top */
    Py_ssize_t count;  /* items so far (list index of the next one) */
    Py_ssize_t kpos, klen; /* an object's current key */
    uint64_t khash;
    PyObject *last, *words; /* strong */
} RFrame;

/* A distinct object key: its bytes, the part of its first value, plain ASCII or not. */
typedef struct {
    uint64_t hash;
    Py_ssize_t pos, len, part;
    int ascii;
} RKey;

typedef struct {
    const char *d;
    Py_ssize_t n;
    RawDoc *rd;
    Walk w;
    RFrame *frames;
    Py_ssize_t depth, fcap;
    RKey *keys; /* the distinct keys, in document order */
    Py_ssize_t nkeys, kcap;
    Py_ssize_t *kset; /* open addressing over ``keys``: index + 1, 0 empty */
    Py_ssize_t kscap;
} RState;

enum { RAW_OK = 0, RAW_ERROR = -1, RAW_DECLINE = 1 };

static Py_ssize_t ws(const char *d, Py_ssize_t n, Py_ssize_t p) {
    while (p < n && (d[p] == ' ' || d[p] == '\t' || d[p] == '\n' || d[p] == '\r')) p++;
    return p;
}

/* bytes that end a run of plain string content: '"', '\\', control characters, non-ASCII */
static unsigned char str_stop[256];

static void init_str_stop(void) {
    for (int c = 0; c < 256; c++) str_stop[c] = c == '"' || c == '\\' || c < 0x20 || c >= 0x80;
}

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* \uXXXX at s[i] (i + 6 <= n checked by the caller): the code unit, or -1 */
static long hex4(const unsigned char *s, Py_ssize_t i) {
    long v = 0;
    for (int j = 2; j < 6; j++) {
        int h = hexval(s[i + j]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* A string starting at the quote at ``p``: its content starts at *a; returns the offset after
 * the closing quote, or -1: not taken (an escape when ``escapes`` is 0, a malformed escape, a
 * control character, invalid UTF-8, unterminated). *ascii: no byte above 0x7f; *escaped: it
 * holds escapes (well-formed; surrogates are checked when decoding). */
static Py_ssize_t plain_string(const char *d, Py_ssize_t n, Py_ssize_t p, Py_ssize_t *a,
                               int *ascii, int escapes, int *escaped) {
    const unsigned char *u = (const unsigned char *)d;
    Py_ssize_t i = p + 1;
    *a = i;
    *ascii = 1;
    *escaped = 0;
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'),
                  space = _mm_set1_epi8(0x20);
#endif
    while (i < n) {
#ifdef __SSE2__
        /* 16 bytes at a time while they are plain: no quote, backslash, control byte or byte
         * >= 0x80 (negative in the signed compare, so below 0x20 too) -- str_stop's set */
        while (i + 16 <= n) {
            __m128i v = _mm_loadu_si128((const __m128i *)(u + i));
            __m128i stop = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                _mm_cmplt_epi8(v, space));
            int mask = _mm_movemask_epi8(stop);
            if (mask != 0) {
                i += __builtin_ctz((unsigned)mask);
                goto stopped;
            }
            i += 16;
        }
#endif
        while (i + 4 <= n && !str_stop[u[i]] && !str_stop[u[i + 1]] && !str_stop[u[i + 2]] &&
               !str_stop[u[i + 3]])
            i += 4;
        while (i < n && !str_stop[u[i]]) i++;
        if (i >= n) break;
#ifdef __SSE2__
    stopped:;
#endif
        unsigned char c = u[i];
        if (c == '"') return i + 1;
        if (c == '\\') {
            if (!escapes || i + 1 >= n) return -1;
            unsigned char e = u[i + 1];
            if (e == 'u') {
                if (n - i < 6 || hex4(u, i) < 0) return -1;
                i += 6;
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                       e == 'r' || e == 't') {
                i += 2;
            } else {
                return -1;
            }
            *escaped = 1;
            continue;
        }
        if (c < 0x20) return -1;
        if (c >= 0x80) {
            Py_ssize_t k = utf8_seq(u, i, n);
            if (k == 0) return -1;
            *ascii = 0;
            i += k;
            continue;
        }
        i++;
    }
    return -1;
}

static int grow(void **arr, Py_ssize_t *cap, Py_ssize_t need, size_t item) {
    if (need <= *cap) return 0;
    Py_ssize_t c = *cap ? *cap : 64;
    while (c < need) {
        if (c > PY_SSIZE_T_MAX / 2 / (Py_ssize_t)item) {
            PyErr_NoMemory();
            return -1;
        }
        c *= 2;
    }
    void *r = PyMem_Realloc(*arr, (size_t)c * item);
    if (r == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    *arr = r;
    *cap = c;
    return 0;
}

/* The part of the next value of the innermost container. -1 on error. */
static Py_ssize_t new_part(RState *st) {
    RawDoc *rd = st->rd;
    RFrame *f = &st->frames[st->depth - 1];
    if (grow((void **)&rd->parts, &rd->pcap, rd->nparts + 1, sizeof(RPart)) < 0) return -1;
    RPart *p = &rd->parts[rd->nparts];
    p->parent = f->part;
    if (f->obj) {
        p->kpos = f->kpos;
        p->kval = f->klen;
    } else {
        p->kpos = -1;
        p->kval = f->count;
    }
    return rd->nparts++;
}

/* key words of the next value of the innermost container (new reference); for an object
 * also the normalised key name in *name (new reference), else *name = NULL */
static PyObject *value_words(RState *st, PyObject **name) {
    RFrame *f = &st->frames[st->depth - 1];
    *name = NULL;
    if (!f->obj) {
        Py_INCREF(f->words);
        return f->words;
    }
    const char *k = st->d + f->kpos;
    Py_ssize_t n = f->klen;
    RawWordsSlot *slot = NULL;
    if (n <= RAW_KEY_BYTES) {
        /* Two ways per set, picked by the enclosing name's str hash (its contents, not its
         * address: the same page meets the same collisions whatever the heap layout). */
        Py_hash_t lh = PyUnicode_CheckExact(f->last) ? ((PyASCIIObject *)f->last)->hash : -1;
        if (lh == -1) { /* not hashed yet (it is, once a key name has been looked up) */
            lh = PyObject_Hash(f->last);
            if (lh == -1) PyErr_Clear(); /* a str always hashes; an error just picks set 0 */
        }
        uint64_t h = f->khash ^ ((uint64_t)lh * 0x9E3779B97F4A7C15ULL);
        RawWordsSlot *set = &raw_words[(h >> 7) & (RAW_KEY_SLOTS - 2)];
        for (int way = 0; way < 2; way++) {
            RawWordsSlot *w = &set[way];
            if (w->last == f->last && w->hash == f->khash && w->len == n &&
                memcmp(w->bytes, k, (size_t)n) == 0) {
                Py_INCREF(w->name);
                Py_INCREF(w->words);
                *name = w->name;
                return w->words;
            }
        }
        /* a miss: the first way's entry moves to the second (whose entry is dropped) and the
         * new pair takes the first */
        PyObject *old_last = set[1].last, *old_name = set[1].name, *old_words = set[1].words;
        set[1] = set[0];
        set[0].last = set[0].name = set[0].words = NULL;
        Py_XDECREF(old_last);
        Py_XDECREF(old_name);
        Py_XDECREF(old_words);
        slot = &set[0];
    }
    PyObject *nm = raw_norm(&st->w, k, n, f->khash);
    if (nm == NULL) return NULL;
    PyObject *kw = words_of(f->last, nm);
    if (kw == NULL) {
        Py_DECREF(nm);
        return NULL;
    }
    if (slot != NULL) {
        PyObject *old_last = slot->last, *old_name = slot->name, *old_words = slot->words;
        slot->hash = f->khash;
        slot->len = n;
        memcpy(slot->bytes, k, (size_t)n);
        Py_INCREF(f->last);
        Py_INCREF(nm);
        Py_INCREF(kw);
        slot->last = f->last;
        slot->name = nm;
        slot->words = kw;
        Py_XDECREF(old_last);
        Py_XDECREF(old_name);
        Py_XDECREF(old_words);
    }
    *name = nm;
    return kw;
}

/* The string content body[a:b] with its escapes decoded (UTF-8 out of them, surrogate pairs
 * joined) as a str, new reference; NULL without an exception: a lone surrogate (orjson
 * rejects the body: the reference path decides). */
static PyObject *unescaped(const char *d, Py_ssize_t a, Py_ssize_t b) {
    const unsigned char *u = (const unsigned char *)d;
    char *buf = PyMem_Malloc((size_t)(b - a) + 1); /* an escape never decodes longer */
    if (buf == NULL) return PyErr_NoMemory();
    Py_ssize_t o = 0, i = a;
    while (i < b) {
        unsigned char c = u[i];
        if (c != '\\') {
            buf[o++] = (char)c;
            i++;
            continue;
        }
        unsigned char e = u[i + 1];
        long cp;
        if (e == 'u') {
            cp = hex4(u, i);
            i += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) { /* a high surrogate: a low one must follow */
                long lo = (b - i >= 6 && u[i] == '\\' && u[i + 1] == 'u') ? hex4(u, i) : -1;
                if (lo < 0xDC00 || lo > 0xDFFF) goto lone;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                goto lone;
            }
        } else {
            cp = e == 'b' ? 8 : e == 'f' ? 12 : e == 'n' ? 10 : e == 'r' ? 13 : e == 't' ? 9 : e;
            i += 2;
        }
        if (cp < 0x80) {
            buf[o++] = (char)cp;
        } else if (cp < 0x800) {
            buf[o++] = (char)(0xC0 | (cp >> 6));
            buf[o++] = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            buf[o++] = (char)(0xE0 | (cp >> 12));
            buf[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            buf[o++] = (char)(0x80 | (cp & 0x3F));
        } else {
            buf[o++] = (char)(0xF0 | (cp >> 18));
            buf[o++] = (char)(0x80 | ((cp >> 12) & 0x3F));
            buf[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            buf[o++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    PyObject *r = PyUnicode_DecodeUTF8(buf, o, "strict");
    PyMem_Free(buf);
    return r;
lone:
    PyMem_Free(buf);
    return NULL;
}

static int emit_leaf(RState *st, Py_ssize_t src, Py_ssize_t blen, Py_ssize_t len, int same,
                     PyObject *text);

/* A leaf: body[src:src + len], decoded and normalised unless ``ascii`` (``escaped``: with its
 * escapes decoded first). RAW_DECLINE for a lone surrogate. */
static int emit_raw(RState *st, Py_ssize_t src, Py_ssize_t len, int ascii, int escaped) {
    PyObject *text = NULL;
    Py_ssize_t blen = len;
    int same = 1;
    if (escaped) {
        text = unescaped(st->d, src, src + len);
        if (text == NULL) return PyErr_Occurred() ? RAW_ERROR : RAW_DECLINE;
        same = 0;
        if (!PyUnicode_IS_ASCII(text)) {
            PyObject *norm_text = PyObject_CallOneArg(st->w.normalize, text);
            Py_DECREF(text);
            text = norm_text;
            if (text == NULL) return RAW_ERROR;
            if (!PyUnicode_CheckExact(text)) {
                Py_DECREF(text);
                PyErr_SetString(PyExc_TypeError, "normalize must return str");
                return RAW_ERROR;
            }
        }
        len = PyUnicode_GET_LENGTH(text);
    } else if (!ascii) {
        PyObject *raw = PyUnicode_DecodeUTF8(st->d + src, len, "strict");
        if (raw == NULL) return RAW_ERROR;
        text = PyObject_CallOneArg(st->w.normalize, raw);
        /* unicodedata.normalize gives back its argument when it is already normalised */
        same = text == raw;
        Py_DECREF(raw);
        if (text == NULL) return RAW_ERROR;
        if (!PyUnicode_CheckExact(text)) {
            Py_DECREF(text);
            PyErr_SetString(PyExc_TypeError, "normalize must return str");
            return RAW_ERROR;
        }
        len = PyUnicode_GET_LENGTH(text);
    }
    return emit_leaf(st, src, blen, len, same, text);
}

/* A value leaf of the innermost container: raw bytes body[src:src + blen], ``len`` characters
 * of text (``text``, stolen: NULL when it is the raw ASCII bytes). */
static int emit_leaf(RState *st, Py_ssize_t src, Py_ssize_t blen, Py_ssize_t len, int same,
                     PyObject *text) {
    RawDoc *rd = st->rd;
    PyObject *name;
    PyObject *kw = value_words(st, &name);
    if (kw == NULL) {
        Py_XDECREF(text);
        return RAW_ERROR;
    }
    Py_XDECREF(name);
    Py_ssize_t part = new_part(st);
    if (part < 0 || grow((void **)&rd->leaves, &rd->cap, rd->n + 1, sizeof(RLeaf)) < 0) {
        Py_XDECREF(text);
        Py_DECREF(kw);
        return RAW_ERROR;
    }
    RLeaf *lf = &rd->leaves[rd->n++];
    lf->part = part;
    lf->src = src;
    lf->blen = blen;
    lf->len = len;
    lf->same = same;
    lf->text = text;
    lf->key = kw;
    lf->leaf = NULL;
    lf->is_key = 0;
    return RAW_OK;
}

static int push(RState *st, int obj) {
    if (st->depth >= RAW_MAX_DEPTH) return RAW_DECLINE;
    if (grow((void **)&st->frames, &st->fcap, st->depth + 1, sizeof(RFrame)) < 0) return RAW_ERROR;
    PyObject *last, *words;
    Py_ssize_t part = -1;
    if (st->depth == 0) {
        last = PyUnicode_New(0, 0);
        words = last;
        if (last == NULL) return RAW_ERROR;
        Py_INCREF(words);
    } else {
        RFrame *f = &st->frames[st->depth - 1];
        PyObject *name;
        words = value_words(st, &name);
        if (words == NULL) return RAW_ERROR;
        if (f->obj) {
            last = name;
        } else {
            last = f->last;
            Py_INCREF(last);
        }
        part = new_part(st);
        if (part < 0) {
            Py_DECREF(last);
            Py_DECREF(words);
            return RAW_ERROR;
        }
    }
    RFrame *nf = &st->frames[st->depth++];
    nf->obj = obj;
    nf->part = part;
    nf->count = 0;
    nf->kpos = nf->klen = 0;
    nf->khash = 0;
    nf->last = last;
    nf->words = words;
    return RAW_OK;
}

static void pop(RState *st) {
    RFrame *f = &st->frames[--st->depth];
    Py_CLEAR(f->last);
    Py_CLEAR(f->words);
}

/* Remember a key not seen before in this body (with the part of its value, for the key leaf's
 * path). 0, or -1 on error. */
static int note_key(RState *st, RFrame *f, uint64_t h, Py_ssize_t a, Py_ssize_t len, int ascii) {
    if (st->nkeys * 2 >= st->kscap) { /* rehash into a table twice the size */
        Py_ssize_t cap = st->kscap ? st->kscap * 2 : 64;
        if (cap > PY_SSIZE_T_MAX / (Py_ssize_t)sizeof(Py_ssize_t)) {
            PyErr_NoMemory();
            return -1;
        }
        Py_ssize_t *t = PyMem_Calloc((size_t)cap, sizeof(Py_ssize_t));
        if (t == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t j = 0; j < st->nkeys; j++) {
            size_t s = (size_t)st->keys[j].hash & (size_t)(cap - 1);
            while (t[s]) s = (s + 1) & (size_t)(cap - 1);
            t[s] = j + 1;
        }
        PyMem_Free(st->kset);
        st->kset = t;
        st->kscap = cap;
    }
    size_t s = (size_t)h & (size_t)(st->kscap - 1);
    for (; st->kset[s]; s = (s + 1) & (size_t)(st->kscap - 1)) {
        RKey *k = &st->keys[st->kset[s] - 1];
        if (k->hash == h && k->len == len && memcmp(st->d + k->pos, st->d + a, (size_t)len) == 0)
            return 0; /* seen: its leaf is the first occurrence's */
    }
    RawDoc *rd = st->rd;
    if (grow((void **)&st->keys, &st->kcap, st->nkeys + 1, sizeof(RKey)) < 0 ||
        grow((void **)&rd->parts, &rd->pcap, rd->nparts + 1, sizeof(RPart)) < 0)
        return -1;
    RPart *p = &rd->parts[rd->nparts];
    p->parent = f->part;
    p->kpos = a;
    p->kval = len;
    RKey *k = &st->keys[st->nkeys];
    k->hash = h;
    k->pos = a;
    k->len = len;
    k->part = rd->nparts++;
    k->ascii = ascii;
    st->kset[s] = ++st->nkeys;
    return 0;
}

/* An object key at the quote at p; on success the offset after it. -1 decline (plain string
 * rules), -2 error. Every copy of a repeated key is read (its value is a leaf again). */
static Py_ssize_t read_key(RState *st, Py_ssize_t p) {
    Py_ssize_t a;
    int ascii, escaped;
    /* a key with escapes: its raw bytes are not its name (nor its path part): the reference */
    Py_ssize_t q = plain_string(st->d, st->n, p, &a, &ascii, 0, &escaped);
    if (q < 0) return -1;
    RFrame *f = &st->frames[st->depth - 1];
    Py_ssize_t len = q - 1 - a;
    uint64_t h = key_hash(st->d + a, len, st->d + st->n);
    if (len > 0 && note_key(st, f, h, a, len, ascii) < 0) return -2;
    f->kpos = a;
    f->klen = len;
    f->khash = h;
    return q;
}

/* A JSON number at p (grammar checked); *end after it; *integer: no fraction or exponent. */
static int read_number(const char *d, Py_ssize_t n, Py_ssize_t p, Py_ssize_t *end, int *integer) {
    Py_ssize_t i = p;
    if (i < n && d[i] == '-') i++;
    if (i >= n || d[i] < '0' || d[i] > '9') return -1;
    if (d[i] == '0') {
        i++;
        if (i < n && d[i] >= '0' && d[i] <= '9') return -1; /* leading zero */
    } else {
        while (i < n && d[i] >= '0' && d[i] <= '9') i++;
    }
    *integer = 1;
    if (i < n && d[i] == '.') {
        *integer = 0;
        i++;
        if (i >= n || d[i] < '0' || d[i] > '9') return -1;
        while (i < n && d[i] >= '0' && d[i] <= '9') i++;
    }
    if (i < n && (d[i] == 'e' || d[i] == 'E')) {
        *integer = 0;
        i++;
        if (i < n && (d[i] == '+' || d[i] == '-')) i++;
        if (i >= n || d[i] < '0' || d[i] > '9') return -1;
        while (i < n && d[i] >= '0' && d[i] <= '9') i++;
    }
    *end = i;
    return 0;
}

/* Is the float literal s[0:n] well inside the finite doubles? (orjson rejects one that
 * overflows; near the limit, or too long to copy here, the reference path decides) */
static int finite_double(const char *s, Py_ssize_t n) {
    char buf[64];
    if (n >= (Py_ssize_t)sizeof(buf)) return 0;
    memcpy(buf, s, (size_t)n);
    buf[n] = 0;
    char *end = NULL;
    double v = PyOS_string_to_double(buf, &end, NULL);
    if (v == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    return end == buf + n && v < 1e300 && v > -1e300;
}

#define FLOAT_INT_MIN 6  /* _extract.FLOAT_INT_MIN_DIGITS */
#define FLOAT_INT_MAX 40 /* _extract.FLOAT_INT_MAX_DIGITS */

/* The text of the float literal s[0:n] (grammar checked, under 64 bytes: finite_double) when
 * its value is a whole number of FLOAT_INT_MIN..FLOAT_INT_MAX digits -- "-4556737586899855"
 * for -4.556737586899855e15 -- as _extract.float_literal reads it; its length, or 0: none. */
static Py_ssize_t float_int_text(const char *s, Py_ssize_t n, char *out) {
    char dg[64];
    Py_ssize_t nd = 0, nf = 0, i = 0, o = 0;
    int neg = 0, in_frac = 0;
    if (s[i] == '-') {
        neg = 1;
        i++;
    }
    for (; i < n && s[i] != 'e' && s[i] != 'E'; i++) {
        if (s[i] == '.') {
            in_frac = 1;
            continue;
        }
        dg[nd++] = s[i];
        nf += in_frac;
    }
    long ex = 0;
    if (i < n) { /* the exponent: at most 6 digits, else not read (float_literal: a float) */
        int eneg = 0;
        i++;
        if (s[i] == '+' || s[i] == '-') eneg = s[i++] == '-';
        if (n - i > 6) return 0;
        for (; i < n; i++) ex = ex * 10 + (s[i] - '0');
        if (eneg) ex = -ex;
    }
    long shift = ex - (long)nf;
    Py_ssize_t a = 0, b; /* the whole number: dg[a:b] then ``zeros`` zeros */
    long zeros = 0;
    if (shift >= 0) {
        b = nd;
        zeros = shift;
    } else {
        if (-shift > nd) return 0;
        b = nd + shift;
        for (Py_ssize_t j = b; j < nd; j++)
            if (dg[j] != '0') return 0; /* a fraction */
    }
    while (a < b && dg[a] == '0') a++;
    if (a == b) return 0; /* zero */
    if ((long)(b - a) + zeros > FLOAT_INT_MAX || (long)(b - a) + zeros < FLOAT_INT_MIN) return 0;
    if (neg) out[o++] = '-';
    memcpy(out + o, dg + a, (size_t)(b - a));
    o += b - a;
    memset(out + o, '0', (size_t)zeros);
    return o + zeros;
}

/* Parse the whole body into st->rd. RAW_OK, RAW_DECLINE (reference path) or RAW_ERROR. */
static int raw_parse(RState *st) {
    const char *d = st->d;
    Py_ssize_t n = st->n, p = ws(d, n, 0);
    if (p >= n || (d[p] != '{' && d[p] != '[')) return RAW_DECLINE; /* top-level scalar */
    for (;;) {
        /* a value at p */
        p = ws(d, n, p);
        if (p >= n) return RAW_DECLINE;
        char c = d[p];
        if (c == '{' || c == '[') {
            int rc = push(st, c == '{');
            if (rc != RAW_OK) return rc;
            p = ws(d, n, p + 1);
            if (p < n && d[p] == (c == '{' ? '}' : ']')) {
                pop(st);
                p++;
                goto after_value;
            }
            if (c == '[') continue;
            goto key;
        } else if (c == '"') {
            Py_ssize_t a;
            int ascii, escaped;
            Py_ssize_t q = plain_string(d, n, p, &a, &ascii, 1, &escaped);
            if (q < 0) return RAW_DECLINE;
            if (q - 1 > a) {
                int rc = emit_raw(st, a, q - 1 - a, ascii, escaped);
                if (rc != RAW_OK) return rc;
            }
            p = q;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            Py_ssize_t e;
            int integer;
            if (read_number(d, n, p, &e, &integer) < 0) return RAW_DECLINE;
            if (!integer && !finite_double(d + p, e - p)) return RAW_DECLINE;
            if (!integer) {
                char buf[FLOAT_INT_MAX + 2];
                Py_ssize_t tl = float_int_text(d + p, e - p, buf);
                if (tl > 0) {
                    PyObject *text = ascii_str(buf, tl);
                    if (text == NULL) return RAW_ERROR;
                    int rc = emit_leaf(st, p, e - p, tl, 0, text);
                    if (rc != RAW_OK) return rc;
                }
            } else {
                Py_ssize_t digits = e - p - (c == '-');
                if (digits > 18) return RAW_DECLINE; /* orjson: int or float by range */
                Py_ssize_t src = p, len = e - p;
                if (len == 2 && c == '-' && d[p + 1] == '0') { /* "-0" is the int 0 */
                    src = p + 1;
                    len = 1;
                }
                int rc = emit_raw(st, src, len, 1, 0);
                if (rc != RAW_OK) return rc;
            }
            p = e;
        } else if (c == 't' && n - p >= 4 && memcmp(d + p, "true", 4) == 0) {
            p += 4;
        } else if (c == 'f' && n - p >= 5 && memcmp(d + p, "false", 5) == 0) {
            p += 5;
        } else if (c == 'n' && n - p >= 4 && memcmp(d + p, "null", 4) == 0) {
            p += 4;
        } else {
            return RAW_DECLINE;
        }
    after_value:
        if (st->depth == 0) {
            p = ws(d, n, p);
            return p == n ? RAW_OK : RAW_DECLINE;
        }
        {
            RFrame *f = &st->frames[st->depth - 1];
            f->count++;
            p = ws(d, n, p);
            if (p >= n) return RAW_DECLINE;
            if (d[p] == ',') {
                p = ws(d, n, p + 1);
                if (f->obj) goto key;
                continue;
            }
            if (d[p] == (f->obj ? '}' : ']')) {
                pop(st);
                p++;
                goto after_value;
            }
            return RAW_DECLINE;
        }
    key:
        if (p >= n || d[p] != '"') return RAW_DECLINE;
        {
            Py_ssize_t q = read_key(st, p);
            if (q == -2) return RAW_ERROR;
            if (q < 0) return RAW_DECLINE;
            p = ws(d, n, q);
            if (p >= n || d[p] != ':') return RAW_DECLINE;
            p++;
        }
    }
}

/* The distinct keys' leaves, after the values (_extract.key_leaves): path of the first value,
 * no key words, ref (-1,). RAW_OK, RAW_DECLINE or RAW_ERROR. */
static int key_leaves(RState *st) {
    RawDoc *rd = st->rd;
    if (st->nkeys == 0) return RAW_OK;
    if (grow((void **)&rd->leaves, &rd->cap, rd->n + st->nkeys, sizeof(RLeaf)) < 0)
        return RAW_ERROR;
    PyObject *empty = PyUnicode_New(0, 0);
    if (empty == NULL) return RAW_ERROR;
    for (Py_ssize_t j = 0; j < st->nkeys; j++) {
        RKey *k = &st->keys[j];
        PyObject *text = NULL;
        Py_ssize_t len = k->len;
        int same = 1;
        if (!k->ascii) {
            PyObject *raw = PyUnicode_DecodeUTF8(st->d + k->pos, k->len, "strict");
            if (raw == NULL) goto error;
            text = PyObject_CallOneArg(st->w.normalize, raw);
            same = text == raw;
            Py_DECREF(raw);
            if (text == NULL) goto error;
            if (!PyUnicode_CheckExact(text)) {
                Py_DECREF(text);
                PyErr_SetString(PyExc_TypeError, "normalize must return str");
                goto error;
            }
            len = PyUnicode_GET_LENGTH(text);
        }
        RLeaf *lf = &rd->leaves[rd->n++];
        lf->part = k->part;
        lf->src = k->pos;
        lf->blen = k->len;
        lf->len = len;
        lf->same = same;
        lf->text = text;
        Py_INCREF(empty);
        lf->key = empty;
        lf->leaf = NULL;
        lf->is_key = 1;
    }
    Py_DECREF(empty);
    return RAW_OK;
error:
    Py_DECREF(empty);
    return RAW_ERROR;
}

/* json_raw(body, sep, leaf_type, norm_key, normalize) -> (RawDoc, text, starts, scanned_bytes,
 * scanned) or None (take the reference path). text, starts, scanned_bytes and scanned are join_leaves'
 * results for the leaves json_leaves(orjson.loads(body)) would give; the RawDoc holds those
 * leaves. */
static PyObject *finish_scanned(PyObject *text, PyObject *keys, PyObject *sep,
                                PyObject **scanned_out);

/* The separator between two leaves: the engine's is 3 bytes, stored without a memcpy call
 * (one per leaf, twice: ~2 % of a typical page's walk). */
static inline void put_sep(char *o, const char *sp, Py_ssize_t seplen) {
    if (seplen == 3) {
        o[0] = sp[0];
        o[1] = sp[1];
        o[2] = sp[2];
    } else {
        memcpy(o, sp, (size_t)seplen);
    }
}

/* finish_scanned when every leaf's text is its raw bytes decoded: the UTF-8 of the leaves is
 * copied from the body instead of encoding the joined text again. */
static PyObject *raw_scanned(RState *st, PyObject *text, PyObject *keys, PyObject *sep,
                             PyObject **scanned_out) {
    RawDoc *rd = st->rd;
    *scanned_out = NULL;
    PyObject *empty = PyUnicode_New(0, 0);
    if (empty == NULL) return NULL;
    PyObject *bytes = NULL, *tail = NULL, *scanned = NULL;
    PyObject *tail_bytes = finish_scanned(empty, keys, sep, &tail); /* sep + the key names */
    Py_DECREF(empty);
    if (tail_bytes == NULL) return NULL;
    scanned = PyUnicode_Concat(text, tail);
    Py_ssize_t seplen = PyUnicode_GET_LENGTH(sep), total = PyBytes_GET_SIZE(tail_bytes);
    for (Py_ssize_t i = 0; i < rd->n; i++) total += rd->leaves[i].blen + (i ? seplen : 0);
    bytes = scanned ? PyBytes_FromStringAndSize(NULL, total) : NULL;
    if (bytes == NULL) goto fail;
    {
        char *o = PyBytes_AS_STRING(bytes);
        const char *sp = (const char *)PyUnicode_1BYTE_DATA(sep);
        Py_ssize_t pos = 0;
        for (Py_ssize_t i = 0; i < rd->n; i++) {
            RLeaf *lf = &rd->leaves[i];
            if (i) {
                put_sep(o + pos, sp, seplen);
                pos += seplen;
            }
            memcpy(o + pos, st->d + lf->src, (size_t)lf->blen);
            pos += lf->blen;
        }
        memcpy(o + pos, PyBytes_AS_STRING(tail_bytes), (size_t)PyBytes_GET_SIZE(tail_bytes));
    }
    Py_DECREF(tail_bytes);
    Py_DECREF(tail);
    *scanned_out = scanned;
    return bytes;
fail:
    Py_XDECREF(bytes);
    Py_XDECREF(scanned);
    Py_DECREF(tail_bytes);
    Py_DECREF(tail);
    return NULL;
}

#define KEYS_ADDED 64 /* a power of two */

/* Has ``key`` (this very object) been added to the keys set already? If not, remember it
 * (while the table is under three quarters full) and answer 0: the caller adds it. Adding an
 * object a set holds changes nothing, so skipping those adds leaves the set -- and the order
 * it iterates in -- as it was. */
static int key_added(PyObject **added, int *nadded, PyObject *key) {
    size_t h = (size_t)(((uintptr_t)key >> 4) * 0x9E3779B97F4A7C15ULL >> 58) & (KEYS_ADDED - 1);
    for (int probe = 0; probe < KEYS_ADDED; probe++) {
        PyObject *at = added[(h + (size_t)probe) & (KEYS_ADDED - 1)];
        if (at == key) return 1;
        if (at == NULL) {
            if (*nadded < KEYS_ADDED * 3 / 4) {
                added[(h + (size_t)probe) & (KEYS_ADDED - 1)] = key;
                (*nadded)++;
            }
            return 0;
        }
    }
    return 0;
}

static PyObject *py_json_raw(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *body, *sep, *leaf, *norm_key, *normalize;
    if (!PyArg_ParseTuple(args, "O!UO!OO:json_raw", &PyBytes_Type, &body, &sep, &PyType_Type,
                          &leaf, &norm_key, &normalize))
        return NULL;
    if (!PyType_IsSubtype((PyTypeObject *)leaf, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "leaf type must be a tuple subclass");
        return NULL;
    }
    if (!PyUnicode_IS_ASCII(sep)) {
        PyErr_SetString(PyExc_ValueError, "json_raw: the separator must be ASCII");
        return NULL;
    }
    RawDoc *rd = PyObject_New(RawDoc, &RawDocType);
    if (rd == NULL) return NULL;
    Py_INCREF(body);
    rd->data = body;
    Py_INCREF(leaf);
    rd->leaf_type = (PyTypeObject *)leaf;
    rd->leaves = NULL;
    rd->n = rd->cap = 0;
    rd->parts = NULL;
    rd->nparts = rd->pcap = 0;
    RState st = {PyBytes_AS_STRING(body),
                 PyBytes_GET_SIZE(body),
                 rd,
                 {NULL, (PyTypeObject *)leaf, norm_key, normalize, 0},
                 NULL,
                 0,
                 0,
                 NULL,
                 0,
                 0,
                 NULL,
                 0};
    PyObject *res = NULL, *text = NULL, *starts = NULL, *keys = NULL, *bytes = NULL,
             *scanned = NULL;
    {
        /* Room for the leaves and parts a body of this size usually holds (SaaS JSON: about a
         * value every 16-32 bytes), so they are allocated once instead of grown by doubling
         * (each PyMem_Realloc past 512 bytes copies: ~3k instructions a typical page's step) */
        Py_ssize_t guess = PyBytes_GET_SIZE(body) / 16;
        guess = guess < 64 ? 64 : guess > RAW_PRESIZE ? RAW_PRESIZE : guess;
        if (grow((void **)&rd->leaves, &rd->cap, guess, sizeof(RLeaf)) < 0 ||
            grow((void **)&rd->parts, &rd->pcap, guess, sizeof(RPart)) < 0)
            goto done;
    }
    int rc = raw_parse(&st);
    while (st.depth > 0) pop(&st);
    if (rc == RAW_OK) rc = key_leaves(&st);
    if (rc == RAW_ERROR) goto done;
    if (rc == RAW_DECLINE || (rd->n == 1 && PyUnicode_GET_LENGTH(rd->leaves[0].key) == 0)) {
        /* declined, or one key-less leaf (scanned alone, without separators) */
        res = Py_None;
        Py_INCREF(res);
        goto done;
    }
    Py_ssize_t seplen = PyUnicode_GET_LENGTH(sep), total = 0;
    Py_UCS4 maxchar = 127;
    for (Py_ssize_t i = 0; i < rd->n; i++) {
        RLeaf *lf = &rd->leaves[i];
        if (lf->len > PY_SSIZE_T_MAX - total - seplen) {
            PyErr_NoMemory();
            goto done;
        }
        total += lf->len + (i ? seplen : 0);
        if (lf->text != NULL && PyUnicode_MAX_CHAR_VALUE(lf->text) > maxchar)
            maxchar = PyUnicode_MAX_CHAR_VALUE(lf->text);
    }
    text = PyUnicode_New(total, maxchar);
    starts = PyList_New(rd->n);
    keys = PySet_New(NULL);
    if (text == NULL || starts == NULL || keys == NULL) goto done;
    /* the key words objects already added to ``keys`` (most leaves share a cached one) */
    PyObject *added[KEYS_ADDED] = {NULL};
    int nadded = 0;
    {
        int kind = PyUnicode_KIND(text);
        void *o = PyUnicode_DATA(text);
        const Py_UCS1 *sp = PyUnicode_1BYTE_DATA(sep); /* ASCII, checked above */
        Py_ssize_t pos = 0;
        for (Py_ssize_t i = 0; i < rd->n; i++) {
            RLeaf *lf = &rd->leaves[i];
            if (i) {
                if (kind == PyUnicode_1BYTE_KIND) put_sep((char *)o + pos, (const char *)sp, seplen);
                else
                    for (Py_ssize_t j = 0; j < seplen; j++) PyUnicode_WRITE(kind, o, pos + j, sp[j]);
                pos += seplen;
            }
            PyObject *sv = offset_int(pos);
            if (sv == NULL) goto done;
            PyList_SET_ITEM(starts, i, sv);
            if (lf->text != NULL) {
                if (PyUnicode_CopyCharacters(text, pos, lf->text, 0, lf->len) < 0) goto done;
            } else if (kind == PyUnicode_1BYTE_KIND) {
                memcpy((Py_UCS1 *)o + pos, st.d + lf->src, (size_t)lf->len);
            } else {
                for (Py_ssize_t j = 0; j < lf->len; j++)
                    PyUnicode_WRITE(kind, o, pos + j, (Py_UCS1)st.d[lf->src + j]);
            }
            pos += lf->len;
            if (PyUnicode_GET_LENGTH(lf->key) > 0 && !key_added(added, &nadded, lf->key) &&
                PySet_Add(keys, lf->key) < 0)
                goto done;
        }
    }
    {
        int same = 1;
        for (Py_ssize_t i = 0; i < rd->n && same; i++) same = rd->leaves[i].same;
        bytes = same ? raw_scanned(&st, text, keys, sep, &scanned)
                     : finish_scanned(text, keys, sep, &scanned);
    }
    if (bytes == NULL) goto done;
    /* ints only, which cannot hold references: the cyclic GC need not walk it (a 1 MiB body's
     * list has tens of thousands of items, walked by every collection it is young for) */
    PyObject_GC_UnTrack(starts);
    res = PyTuple_Pack(5, (PyObject *)rd, text, starts, bytes, scanned);
done:
    PyMem_Free(st.frames);
    PyMem_Free(st.keys);
    PyMem_Free(st.kset);
    Py_XDECREF(text);
    Py_XDECREF(starts);
    Py_XDECREF(keys);
    Py_XDECREF(bytes);
    Py_XDECREF(scanned);
    Py_DECREF(rd);
    return res;
}
