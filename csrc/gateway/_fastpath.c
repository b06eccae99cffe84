/*
 * ringfence.gateway._fastpath: the common request's head decisions in one native call.
 *
 * The gateway's Python path (gateway/app.py) is the reference. For a request of the common
 * shape — a plain path, no duplicate headers, a bearer token this policy snapshot already
 * verified and authorised for the matched operation — the steps before the rate limit
 * (header caps, query and path checks, route and operation match, the token's grant, the
 * authorisation) and the upstream head's client-derived parts (spoofable and hop-by-hop
 * headers dropped, the path re-encoded) are done here without a Python frame or a temporary
 * object.
 *
 * One-sided by design: Table.plan() answers a plan only when every check the Python path
 * would make on the same request passes; anything else — a refusal, a construct it does not
 * decide itself (percent-encoding, duplicate or upper-case header names, a Connection header
 * naming anything unusual, a client certificate header, an unknown or expired token, an
 * operation with bound path parameters) — answers None and the caller takes the Python path,
 * which decides and names the problem. A token enters a table only after the Python path
 * verified it (signature, claims, client, revocation) and only with the operations that the
 * Python authorisation allows it (gateway/fastpath.py); a new policy snapshot gets a new,
 * empty table. Every refusal stays in Python.
 *
 * Inputs are only read (bounds checked at every step); the GIL is held throughout. Nothing
 * here logs or returns a token; a table keeps the tokens it was given (as the Python path's
 * cache of verified tokens does).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <stdint.h>
#include <string.h>
#include <math.h>
#include <errno.h>
#include <pthread.h>
#include <sys/random.h>
#include <time.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define MAX_PATH 2048
#define MAX_SEGS 64
#define MAX_HEADERS 64
#define MAX_CONN_TOKENS 8

typedef struct {
    const char *p;
    Py_ssize_t n;
} Span;

typedef struct {
    char *method; /* ASCII */
    Py_ssize_t method_len;
    int nseg;
    Span *segs;    /* p == NULL: a path parameter */
    int eligible;  /* 0: always decline (bound parameters, ...) */
    int has_params;
    PyObject *op; /* the CompiledOperation */
} Op;

typedef struct {
    int nprefix;
    Span *prefix;
    char *upstream_path; /* UTF-8 */
    Py_ssize_t upstream_path_len;
    char *host_line; /* "\r\nhost: <host>\r\n" */
    Py_ssize_t host_line_len;
    char *cred_header; /* lower-case name of the brokered credential header, or NULL */
    Py_ssize_t cred_header_len;
    int first_op, nops;
    PyObject *route; /* the CompiledRoute */
} Route;

typedef struct {
    char *token;
    Py_ssize_t len;
    uint64_t hash;
    int64_t exp;
    uint8_t *allowed; /* bitmap over the table's operations */
    PyObject *grant;
} Entry;

typedef struct {
    PyObject_HEAD
    Route *routes;
    int nroutes;
    Op *ops;
    int nops;
    int max_prefix;
    char *cert_header;
    Py_ssize_t cert_header_len;
    Py_ssize_t max_header_bytes;
    Py_ssize_t max_query_bytes;
    int64_t leeway;
    Entry *slots;
    Py_ssize_t nslots; /* power of two */
    Py_ssize_t used;
    Py_ssize_t max_grants;
    PyObject *keep; /* the Python objects whose buffers the spans point into */
} Table;

/* -- small helpers ------------------------------------------------------------------------ */

static int span_eq(const char *a, Py_ssize_t an, const char *b, Py_ssize_t bn) {
    return an == bn && memcmp(a, b, (size_t)an) == 0;
}

/* a span equal to a string literal (its length known at compile time) */
#define LIT_EQ(a, an, lit) \
    ((an) == (Py_ssize_t)(sizeof(lit) - 1) && memcmp((a), (lit), sizeof(lit) - 1) == 0)

static uint64_t hash_bytes(const char *p, Py_ssize_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)n;
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDULL;
        h ^= h >> 32;
    }
    uint64_t w = 0;
    memcpy(&w, p + i, (size_t)(n - i));
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ULL;
    h ^= h >> 29;
    return h;
}

/* Never forwarded upstream (gateway/stages.py STRIP_UPSTREAM): hop-by-hop, routing, identity
 * and provenance headers. Kept in sync by tests/gateway/test_fastpath.py. */
static const char *const STRIP[] = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "host",
    "content-length", "authorization", "x-api-key", "cookie", "forwarded", "x-forwarded-for",
    "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port", "x-forwarded-prefix",
    "x-real-ip", "x-original-url", "x-rewrite-url", "x-http-method-override", "x-http-method",
    "x-method-override", "x-request-id", "x-client-cert", "x-ssl-client-cert",
    "accept-encoding", "expect", NULL};

static Py_ssize_t strip_len[sizeof(STRIP) / sizeof(STRIP[0])];

static int stripped(const char *k, Py_ssize_t n) {
    for (int i = 0; STRIP[i] != NULL; i++)
        if (strip_len[i] == n && memcmp(k, STRIP[i], (size_t)n) == 0) return 1;
    return 0;
}

/* byte classes, filled once by init_tables() */
static uint8_t QUOTE_SAFE[256]; /* quote(segment, safe="-._~!$&'()*+,;=:@") keeps it */
static uint8_t QUERY_OK[256];   /* gateway/asgi.py QUERY_OK allows it */
static uint8_t NAME_BAD[256];   /* httpproto _BAD_NAME: [\x00-\x1f\x7f()<>@,;:\[\]={} \t\\"] */
static uint8_t VALUE_BAD[256];  /* httpproto _BAD_VALUE: [\x00-\x08\x0a-\x1f\x7f] */
static uint8_t TOKEN_CHAR[256]; /* RFC 9110 tchar */

static void init_tables(void) {
    for (int c = 0; c < 256; c++) {
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        QUOTE_SAFE[c] = (uint8_t)(alnum || (c != 0 && strchr("-._~!$&'()*+,;=:@", c) != NULL));
        QUERY_OK[c] =
            (uint8_t)(alnum || (c != 0 && strchr("-._~!$&'()*+,;=:@/?%[]|^`{}\\\"<>", c) != NULL));
        NAME_BAD[c] = (uint8_t)(c < 0x20 || c == 0x7f ||
                                (c != 0 && strchr("()<>@,;:[]={} \t\\\"", c) != NULL));
        VALUE_BAD[c] = (uint8_t)((c < 0x20 && c != '\t') || c == 0x7f);
        TOKEN_CHAR[c] = (uint8_t)(alnum || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL));
    }
    for (int i = 0; STRIP[i] != NULL; i++) strip_len[i] = (Py_ssize_t)strlen(STRIP[i]);
}

static char *dup_bytes(PyObject *b, Py_ssize_t *len) {
    char *src;
    Py_ssize_t n;
    if (PyBytes_AsStringAndSize(b, &src, &n) < 0) return NULL;
    char *out = PyMem_Malloc((size_t)n + 1);
    if (out == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(out, src, (size_t)n);
    out[n] = 0;
    *len = n;
    return out;
}

/* a tuple of bytes (or None for a parameter) -> spans into the bytes objects */
static Span *spans_of(PyObject *tup, int *count, int allow_none) {
    if (!PyTuple_Check(tup) || PyTuple_GET_SIZE(tup) > MAX_SEGS) {
        PyErr_SetString(PyExc_ValueError, "segments: a tuple of at most 64 items");
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(tup);
    Span *s = PyMem_Calloc((size_t)(n ? n : 1), sizeof(Span));
    if (s == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *it = PyTuple_GET_ITEM(tup, i);
        if (it == Py_None && allow_none) continue;
        if (!PyBytes_Check(it)) {
            PyMem_Free(s);
            PyErr_SetString(PyExc_TypeError, "segments must be bytes");
            return NULL;
        }
        s[i].p = PyBytes_AS_STRING(it);
        s[i].n = PyBytes_GET_SIZE(it);
    }
    *count = (int)n;
    return s;
}

/* -- construction --------------------------------------------------------------------------- */

static void table_clear_entries(Table *t) {
    if (t->slots == NULL) return;
    for (Py_ssize_t i = 0; i < t->nslots; i++) {
        Entry *e = &t->slots[i];
        if (e->token != NULL) {
            PyMem_Free(e->token);
            PyMem_Free(e->allowed);
            Py_XDECREF(e->grant);
        }
    }
    PyMem_Free(t->slots);
    t->slots = NULL;
}

static void table_dealloc(Table *t) {
    table_clear_entries(t);
    if (t->routes != NULL) {
        for (int i = 0; i < t->nroutes; i++) {
            Route *r = &t->routes[i];
            PyMem_Free(r->prefix);
            PyMem_Free(r->upstream_path);
            PyMem_Free(r->host_line);
            PyMem_Free(r->cred_header);
            Py_XDECREF(r->route);
        }
        PyMem_Free(t->routes);
    }
    if (t->ops != NULL) {
        for (int i = 0; i < t->nops; i++) {
            PyMem_Free(t->ops[i].method);
            PyMem_Free(t->ops[i].segs);
            Py_XDECREF(t->ops[i].op);
        }
        PyMem_Free(t->ops);
    }
    PyMem_Free(t->cert_header);
    Py_XDECREF(t->keep);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

/*
 * Table(routes, cert_header, max_header_bytes, max_query_bytes, leeway, max_grants)
 *   routes: list of (route, prefix: tuple[bytes], upstream_path: bytes, upstream_host: bytes,
 *                    cred_header: bytes | None, ops: list of (op, method: bytes,
 *                    segments: tuple[bytes | None], eligible: bool))
 */
static int table_init(Table *t, PyObject *args, PyObject *kwds) {
    PyObject *routes, *cert;
    Py_ssize_t max_header, max_query, max_grants;
    long long leeway;
    static char *kw[] = {"routes", "cert_header", "max_header_bytes", "max_query_bytes",
                         "leeway", "max_grants", NULL};
    if (t->routes != NULL || t->slots != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Table is already initialised");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!nnLn", kw, &PyList_Type, &routes,
                                     &PyBytes_Type, &cert, &max_header, &max_query, &leeway,
                                     &max_grants))
        return -1;
    if (max_grants < 0 || max_grants > (1 << 24)) {
        PyErr_SetString(PyExc_ValueError, "max_grants out of range");
        return -1;
    }
    Py_INCREF(routes);
    t->keep = routes;
    t->max_header_bytes = max_header;
    t->max_query_bytes = max_query;
    t->leeway = leeway;
    t->max_grants = max_grants;
    t->cert_header = dup_bytes(cert, &t->cert_header_len);
    if (t->cert_header == NULL) return -1;
    Py_ssize_t nroutes = PyList_GET_SIZE(routes);
    Py_ssize_t total_ops = 0;
    for (Py_ssize_t i = 0; i < nroutes; i++) {
        PyObject *r = PyList_GET_ITEM(routes, i);
        if (!PyTuple_Check(r) || PyTuple_GET_SIZE(r) != 6 ||
            !PyList_Check(PyTuple_GET_ITEM(r, 5))) {
            PyErr_SetString(PyExc_TypeError, "a route is a 6-tuple ending in a list of ops");
            return -1;
        }
        total_ops += PyList_GET_SIZE(PyTuple_GET_ITEM(r, 5));
    }
    if (nroutes > 100000 || total_ops > 1000000) {
        PyErr_SetString(PyExc_ValueError, "too many routes or operations");
        return -1;
    }
    t->routes = PyMem_Calloc((size_t)(nroutes ? nroutes : 1), sizeof(Route));
    t->ops = PyMem_Calloc((size_t)(total_ops ? total_ops : 1), sizeof(Op));
    if (t->routes == NULL || t->ops == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    t->nroutes = (int)nroutes;
    t->nops = 0;
    for (Py_ssize_t i = 0; i < nroutes; i++) {
        PyObject *r = PyList_GET_ITEM(routes, i);
        Route *rt = &t->routes[i];
        rt->route = PyTuple_GET_ITEM(r, 0);
        Py_INCREF(rt->route);
        rt->prefix = spans_of(PyTuple_GET_ITEM(r, 1), &rt->nprefix, 0);
        if (rt->prefix == NULL) return -1;
        if (rt->nprefix == 0) {
            PyErr_SetString(PyExc_ValueError, "a route prefix has at least one segment");
            return -1;
        }
        if (rt->nprefix > t->max_prefix) t->max_prefix = rt->nprefix;
        rt->upstream_path = dup_bytes(PyTuple_GET_ITEM(r, 2), &rt->upstream_path_len);
        if (rt->upstream_path == NULL) return -1;
        PyObject *host = PyTuple_GET_ITEM(r, 3);
        if (!PyBytes_Check(host)) {
            PyErr_SetString(PyExc_TypeError, "upstream host must be bytes");
            return -1;
        }
        Py_ssize_t hn = PyBytes_GET_SIZE(host);
        rt->host_line = PyMem_Malloc((size_t)hn + 20);
        if (rt->host_line == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        memcpy(rt->host_line, " HTTP/1.1\r\nhost: ", 17);
        memcpy(rt->host_line + 17, PyBytes_AS_STRING(host), (size_t)hn);
        memcpy(rt->host_line + 17 + hn, "\r\n", 2);
        rt->host_line_len = 17 + hn + 2;
        PyObject *cred = PyTuple_GET_ITEM(r, 4);
        if (cred != Py_None) {
            rt->cred_header = dup_bytes(cred, &rt->cred_header_len);
            if (rt->cred_header == NULL) return -1;
        }
        PyObject *ops = PyTuple_GET_ITEM(r, 5);
        rt->first_op = t->nops;
        rt->nops = (int)PyList_GET_SIZE(ops);
        for (Py_ssize_t j = 0; j < PyList_GET_SIZE(ops); j++) {
            PyObject *o = PyList_GET_ITEM(ops, j);
            Op *op = &t->ops[t->nops];
            if (!PyTuple_Check(o) || PyTuple_GET_SIZE(o) != 4) {
                PyErr_SetString(PyExc_TypeError, "an operation is a 4-tuple");
                return -1;
            }
            op->op = PyTuple_GET_ITEM(o, 0);
            Py_INCREF(op->op);
            t->nops++; /* freed by dealloc from here on */
            op->method = dup_bytes(PyTuple_GET_ITEM(o, 1), &op->method_len);
            if (op->method == NULL) return -1;
            op->segs = spans_of(PyTuple_GET_ITEM(o, 2), &op->nseg, 1);
            if (op->segs == NULL) return -1;
            for (int k = 0; k < op->nseg; k++)
                if (op->segs[k].p == NULL) op->has_params = 1;
            op->eligible = PyObject_IsTrue(PyTuple_GET_ITEM(o, 3));
            if (op->eligible < 0) return -1;
        }
    }
    Py_ssize_t want = 16;
    while (want < 2 * (max_grants + 1)) want <<= 1;
    t->slots = PyMem_Calloc((size_t)want, sizeof(Entry));
    if (t->slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    t->nslots = want;
    return 0;
}

/* -- grants --------------------------------------------------------------------------------- */

static Entry *find_entry(Table *t, const char *tok, Py_ssize_t n, uint64_t h) {
    Py_ssize_t mask = t->nslots - 1;
    for (Py_ssize_t i = (Py_ssize_t)(h & (uint64_t)mask);; i = (i + 1) & mask) {
        Entry *e = &t->slots[i];
        if (e->token == NULL) return e;
        if (e->hash == h && span_eq(e->token, e->len, tok, n)) return e;
    }
}

/* remember(token: bytes, exp: int, allowed: bytes, grant) -> bool (False: table full) */
static PyObject *table_remember(Table *t, PyObject *args) {
    PyObject *token, *allowed, *grant;
    long long exp;
    if (t->slots == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Table is not initialised");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "O!LO!O", &PyBytes_Type, &token, &exp, &PyBytes_Type, &allowed,
                          &grant))
        return NULL;
    Py_ssize_t need = (t->nops + 7) / 8;
    if (PyBytes_GET_SIZE(allowed) != need) {
        PyErr_SetString(PyExc_ValueError, "allowed: one bit per operation");
        return NULL;
    }
    const char *tok = PyBytes_AS_STRING(token);
    Py_ssize_t n = PyBytes_GET_SIZE(token);
    uint64_t h = hash_bytes(tok, n);
    Entry *e = find_entry(t, tok, n, h);
    if (e->token != NULL) Py_RETURN_TRUE; /* already there (same snapshot: same grant) */
    if (t->used >= t->max_grants) Py_RETURN_FALSE;
    char *copy = PyMem_Malloc((size_t)(n ? n : 1));
    uint8_t *bits = PyMem_Malloc((size_t)(need ? need : 1));
    if (copy == NULL || bits == NULL) {
        PyMem_Free(copy);
        PyMem_Free(bits);
        return PyErr_NoMemory();
    }
    memcpy(copy, tok, (size_t)n);
    memcpy(bits, PyBytes_AS_STRING(allowed), (size_t)need);
    e->token = copy;
    e->len = n;
    e->hash = h;
    e->exp = exp;
    e->allowed = bits;
    Py_INCREF(grant);
    e->grant = grant;
    t->used++;
    Py_RETURN_TRUE;
}

/* knows(token: bytes) -> bool */
static PyObject *table_knows(Table *t, PyObject *token) {
    if (t->slots == NULL || !PyBytes_Check(token)) {
        PyErr_SetString(PyExc_TypeError, "knows(token: bytes) on an initialised Table");
        return NULL;
    }
    const char *tok = PyBytes_AS_STRING(token);
    Py_ssize_t n = PyBytes_GET_SIZE(token);
    return PyBool_FromLong(find_entry(t, tok, n, hash_bytes(tok, n))->token != NULL);
}

static PyObject *table_len(Table *t, PyObject *unused) {
    (void)unused;
    return PyLong_FromSsize_t(t->used);
}

/* -- the plan ------------------------------------------------------------------------------- */

typedef struct {
    char *buf;
    Py_ssize_t len, cap;
} Buf;

static int buf_put(Buf *b, const char *p, Py_ssize_t n) {
    if (b->len + n > b->cap) {
        Py_ssize_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        char *nb = PyMem_Realloc(b->buf, (size_t)cap);
        if (nb == NULL) return -1;
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, p, (size_t)n);
    b->len += n;
    return 0;
}

static PyObject *buf_bytes(Buf *b) {
    PyObject *out = PyBytes_FromStringAndSize(b->buf, b->len);
    return out;
}

static int ci_prefix(const char *p, Py_ssize_t n, const char *lit) {
    Py_ssize_t m = (Py_ssize_t)strlen(lit);
    if (n < m) return 0;
    for (Py_ssize_t i = 0; i < m; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
        if (c != lit[i]) return 0;
    }
    return 1;
}

/* bytes.strip() whitespace: space, \t, \n, \r, \x0b, \x0c */
static int py_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0x0b || c == 0x0c;
}

#define DECLINE()             \
    do {                      \
        result = Py_None;     \
        Py_INCREF(Py_None);   \
        goto done;            \
    } while (0)

/*
 * plan(method: str, raw_path: bytes, query: bytes, headers: list[tuple[bytes, bytes]],
 *      now: float) -> None | (route, op, grant, headers: dict, head_start: bytes,
 *                             head_headers: bytes, rest: tuple[str] | None)
 *
 * head_start: "<method> <target> HTTP/1.1\r\nhost: <host>\r\n"; head_headers: the client's
 * headers that the Python path's broker would forward, as "name: value\r\n" lines in order
 * (the brokered credential, x-request-id, accept-encoding and content-length are the
 * caller's). rest: the path's segments after the route prefix, when the operation has
 * parameters.
 */
static PyObject *table_plan(Table *t, PyObject *const *args, Py_ssize_t nargs) {
    PyObject *result = NULL;
    PyObject *dict = NULL;
    Buf head = {0}, hdrs = {0};
    if (nargs != 5 || !PyUnicode_Check(args[0]) || !PyBytes_Check(args[1]) ||
        !PyBytes_Check(args[2]) || !PyList_Check(args[3]) || !PyFloat_Check(args[4])) {
        PyErr_SetString(PyExc_TypeError, "plan(method, raw_path, query, headers, now)");
        return NULL;
    }
    if (t->slots == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Table is not initialised");
        return NULL;
    }
    PyObject *method_o = args[0], *headers = args[3];
    double now = PyFloat_AS_DOUBLE(args[4]);
    if (!PyUnicode_IS_ASCII(method_o)) DECLINE();
    const char *method = (const char *)PyUnicode_DATA(method_o);
    Py_ssize_t method_len = PyUnicode_GET_LENGTH(method_o);
    const char *raw = PyBytes_AS_STRING(args[1]);
    Py_ssize_t raw_len = PyBytes_GET_SIZE(args[1]);
    const char *query = PyBytes_AS_STRING(args[2]);
    Py_ssize_t query_len = PyBytes_GET_SIZE(args[2]);

    /* headers: sizes, names, duplicates (gateway/app.py _http) */
    Py_ssize_t nh = PyList_GET_SIZE(headers);
    if (nh > MAX_HEADERS) DECLINE();
    Span names[MAX_HEADERS], values[MAX_HEADERS];
    Py_ssize_t size = 0;
    int auth = -1, conn = -1;
    for (Py_ssize_t i = 0; i < nh; i++) {
        PyObject *pair = PyList_GET_ITEM(headers, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) DECLINE();
        PyObject *k = PyTuple_GET_ITEM(pair, 0), *v = PyTuple_GET_ITEM(pair, 1);
        if (!PyBytes_CheckExact(k) || !PyBytes_CheckExact(v)) DECLINE();
        names[i].p = PyBytes_AS_STRING(k);
        names[i].n = PyBytes_GET_SIZE(k);
        values[i].p = PyBytes_AS_STRING(v);
        values[i].n = PyBytes_GET_SIZE(v);
        size += names[i].n + values[i].n;
        if (names[i].n == 0) DECLINE();
        for (Py_ssize_t j = 0; j < names[i].n; j++) {
            unsigned char c = (unsigned char)names[i].p[j];
            if ((c >= 'A' && c <= 'Z') || c <= ' ' || c >= 0x7f) DECLINE();
        }
        for (Py_ssize_t j = 0; j < i; j++)
            if (span_eq(names[j].p, names[j].n, names[i].p, names[i].n)) DECLINE();
        if (span_eq(names[i].p, names[i].n, t->cert_header, t->cert_header_len)) DECLINE();
        if (LIT_EQ(names[i].p, names[i].n, "authorization")) auth = (int)i;
        else if (LIT_EQ(names[i].p, names[i].n, "connection")) conn = (int)i;
    }
    if (size > t->max_header_bytes) DECLINE();

    /* query (414 / 400 on the Python path) */
    if (query_len > t->max_query_bytes) DECLINE();
    for (Py_ssize_t i = 0; i < query_len; i++)
        if (!QUERY_OK[(unsigned char)query[i]]) DECLINE();

    /* path: only the plain form canonical_path() returns unchanged */
    if (raw_len < 2 || raw_len > MAX_PATH || raw[0] != '/') DECLINE();
    Py_ssize_t end = raw_len;
    if (raw[end - 1] == '/') end--;
    Span segs[MAX_SEGS];
    int nseg = 0;
    Py_ssize_t start = 1;
    for (Py_ssize_t i = 1; i <= end; i++) {
        if (i == end || raw[i] == '/') {
            Py_ssize_t n = i - start;
            if (n == 0 || nseg >= MAX_SEGS) DECLINE();
            if (n == 1 && raw[start] == '.') DECLINE();
            if (n == 2 && raw[start] == '.' && raw[start + 1] == '.') DECLINE();
            segs[nseg].p = raw + start;
            segs[nseg].n = n;
            nseg++;
            start = i + 1;
            continue;
        }
        unsigned char c = (unsigned char)raw[i];
        if (c <= ' ' || c >= 0x7f || c == '%' || c == '\\' || c == '?') DECLINE();
    }
    {
        const Span *f = &segs[0];
        if (LIT_EQ(f->p, f->n, "healthz") || LIT_EQ(f->p, f->n, "readyz") ||
            LIT_EQ(f->p, f->n, "metrics") || LIT_EQ(f->p, f->n, "oauth") ||
            LIT_EQ(f->p, f->n, ".well-known"))
            DECLINE();
    }
    if (LIT_EQ(method, method_len, "TRACE") || LIT_EQ(method, method_len, "CONNECT") ||
        LIT_EQ(method, method_len, "TRACK"))
        DECLINE();

    /* route: the longest prefix (PolicySnapshot.find_route) */
    Route *route = NULL;
    int nrest = 0;
    for (int n = nseg < t->max_prefix ? nseg : t->max_prefix; n > 0 && route == NULL; n--) {
        for (int r = 0; r < t->nroutes; r++) {
            Route *rt = &t->routes[r];
            if (rt->nprefix != n) continue;
            int k = 0;
            while (k < n && span_eq(rt->prefix[k].p, rt->prefix[k].n, segs[k].p, segs[k].n)) k++;
            if (k == n) {
                route = rt;
                nrest = nseg - n;
                break;
            }
        }
    }
    if (route == NULL) DECLINE();
    const Span *rest = segs + (nseg - nrest);

    /* operation: the first whose segments and method match (CompiledRoute.match) */
    int opi = -1;
    for (int o = route->first_op; o < route->first_op + route->nops; o++) {
        Op *op = &t->ops[o];
        if (op->nseg != nrest) continue;
        int k = 0;
        while (k < nrest &&
               (op->segs[k].p == NULL || span_eq(op->segs[k].p, op->segs[k].n, rest[k].p, rest[k].n)))
            k++;
        if (k < nrest) continue;
        if (span_eq(op->method, op->method_len, method, method_len)) {
            opi = o;
            break;
        }
    }
    if (opi < 0 || !t->ops[opi].eligible) DECLINE();
    Op *op = &t->ops[opi];

    /* the bearer token, verified and authorised for this operation before */
    if (auth < 0) DECLINE();
    const char *tok = values[auth].p;
    Py_ssize_t tn = values[auth].n;
    if (!ci_prefix(tok, tn, "bearer ")) DECLINE();
    tok += 7;
    tn -= 7;
    while (tn > 0 && py_space((unsigned char)tok[0])) tok++, tn--;
    while (tn > 0 && py_space((unsigned char)tok[tn - 1])) tn--;
    if (tn == 0) DECLINE();
    Entry *e = find_entry(t, tok, tn, hash_bytes(tok, tn));
    if (e->token == NULL) DECLINE();
    if ((double)e->exp + (double)t->leeway < now) DECLINE();
    if (!(e->allowed[opi >> 3] & (1u << (opi & 7)))) DECLINE();

    /* the headers the broker forwards: Connection may only name plain tokens */
    Span named[MAX_CONN_TOKENS];
    int nnamed = 0;
    if (conn >= 0) {
        const char *p = values[conn].p;
        Py_ssize_t n = values[conn].n, i = 0;
        while (i <= n) {
            Py_ssize_t s = i;
            while (i < n && p[i] != ',') i++;
            Py_ssize_t a = s, b = i;
            while (a < b && (p[a] == ' ' || p[a] == '\t')) a++;
            while (b > a && (p[b - 1] == ' ' || p[b - 1] == '\t')) b--;
            for (Py_ssize_t j = a; j < b; j++) {
                unsigned char c = (unsigned char)p[j];
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
                    if (c >= 'A' && c <= 'Z') continue;
                    DECLINE();
                }
            }
            if (b > a) {
                if (nnamed >= MAX_CONN_TOKENS) DECLINE();
                named[nnamed].p = p + a;
                named[nnamed].n = b - a;
                nnamed++;
            }
            i++;
        }
    }
    for (Py_ssize_t i = 0; i < nh; i++) {
        const Span *k = &names[i];
        if (stripped(k->p, k->n)) continue;
        int skip = 0;
        for (int j = 0; j < nnamed && !skip; j++) {
            if (named[j].n != k->n) continue;
            Py_ssize_t m = 0;
            while (m < k->n) {
                char c = named[j].p[m];
                if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
                if (c != k->p[m]) break;
                m++;
            }
            skip = m == k->n;
        }
        if (skip) continue;
        if (route->cred_header != NULL && span_eq(k->p, k->n, route->cred_header, route->cred_header_len))
            continue;
        const Span *v = &values[i];
        if (memchr(v->p, '\r', (size_t)v->n) || memchr(v->p, '\n', (size_t)v->n) ||
            memchr(v->p, 0, (size_t)v->n))
            DECLINE(); /* the broker refuses it (400) */
        if (buf_put(&hdrs, k->p, k->n) < 0 || buf_put(&hdrs, ": ", 2) < 0 ||
            buf_put(&hdrs, v->p, v->n) < 0 || buf_put(&hdrs, "\r\n", 2) < 0)
            goto nomem;
    }

    /* the upstream request line: route.upstream_path + encode_segments(rest) [+ ?query] */
    if (buf_put(&head, method, method_len) < 0 || buf_put(&head, " ", 1) < 0) goto nomem;
    Py_ssize_t target_at = head.len;
    if (buf_put(&head, route->upstream_path, route->upstream_path_len) < 0) goto nomem;
    for (int s = 0; s < nrest; s++) {
        if (buf_put(&head, "/", 1) < 0) goto nomem;
        for (Py_ssize_t i = 0; i < rest[s].n; i++) {
            unsigned char c = (unsigned char)rest[s].p[i];
            if (QUOTE_SAFE[c]) {
                if (buf_put(&head, (const char *)&c, 1) < 0) goto nomem;
            } else {
                char pct[3];
                static const char hex[] = "0123456789ABCDEF";
                pct[0] = '%';
                pct[1] = hex[c >> 4];
                pct[2] = hex[c & 15];
                if (buf_put(&head, pct, 3) < 0) goto nomem;
            }
        }
    }
    if (query_len > 0 && (buf_put(&head, "?", 1) < 0 || buf_put(&head, query, query_len) < 0))
        goto nomem;
    if (head.len == target_at && buf_put(&head, "/", 1) < 0) goto nomem;
    if (buf_put(&head, route->host_line, route->host_line_len) < 0) goto nomem;

    /* everything passed: the request's header dict, the head parts */
    dict = PyDict_New();
    if (dict == NULL) goto fail;
    for (Py_ssize_t i = 0; i < nh; i++) {
        PyObject *pair = PyList_GET_ITEM(headers, i);
        if (PyDict_SetItem(dict, PyTuple_GET_ITEM(pair, 0), PyTuple_GET_ITEM(pair, 1)) < 0)
            goto fail;
    }
    PyObject *rest_t = Py_None;
    Py_INCREF(Py_None);
    if (op->has_params) {
        Py_DECREF(Py_None);
        rest_t = PyTuple_New(nrest);
        if (rest_t == NULL) goto fail;
        for (int s = 0; s < nrest; s++) {
            PyObject *seg = PyUnicode_DecodeASCII(rest[s].p, rest[s].n, NULL);
            if (seg == NULL) {
                Py_DECREF(rest_t);
                goto fail;
            }
            PyTuple_SET_ITEM(rest_t, s, seg);
        }
    }
    PyObject *hb = buf_bytes(&head), *hh = buf_bytes(&hdrs);
    if (hb == NULL || hh == NULL) {
        Py_XDECREF(hb);
        Py_XDECREF(hh);
        Py_DECREF(rest_t);
        goto fail;
    }
    result = PyTuple_New(7);
    if (result == NULL) {
        Py_DECREF(hb);
        Py_DECREF(hh);
        Py_DECREF(rest_t);
        goto fail;
    }
    Py_INCREF(route->route);
    Py_INCREF(op->op);
    Py_INCREF(e->grant);
    PyTuple_SET_ITEM(result, 0, route->route);
    PyTuple_SET_ITEM(result, 1, op->op);
    PyTuple_SET_ITEM(result, 2, e->grant);
    PyTuple_SET_ITEM(result, 3, dict);
    dict = NULL;
    PyTuple_SET_ITEM(result, 4, hb);
    PyTuple_SET_ITEM(result, 5, hh);
    PyTuple_SET_ITEM(result, 6, rest_t);
    goto done;
nomem:
    PyErr_NoMemory();
fail:
    Py_XDECREF(dict);
    dict = NULL;
    result = NULL;
done:
    Py_XDECREF(dict);
    PyMem_Free(head.buf);
    PyMem_Free(hdrs.buf);
    return result;
}

/* -- building results without Py_BuildValue (its format string is parsed on every call:
 *    ≈ 400 instructions a header pair, a few thousand a request) ------------------------------ */

/* A tuple of the n new references in items (stolen, also on failure; a NULL item means its
   creation failed: the others are released and NULL returned with the error set). */
static PyObject *tuple_of(PyObject **items, Py_ssize_t n) {
    PyObject *t = NULL;
    for (Py_ssize_t k = 0; k < n; k++)
        if (items[k] == NULL) goto fail;
    t = PyTuple_New(n);
    if (t == NULL) goto fail;
    for (Py_ssize_t k = 0; k < n; k++) PyTuple_SET_ITEM(t, k, items[k]);
    return t;
fail:
    for (Py_ssize_t k = 0; k < n; k++) Py_XDECREF(items[k]);
    return NULL;
}

/* (name, value): ``name`` a new reference (stolen; NULL: failed), the value copied. */
static PyObject *header_pair(PyObject *name, const char *v, Py_ssize_t vn) {
    PyObject *items[2] = {name, name != NULL ? PyBytes_FromStringAndSize(v, vn) : NULL};
    return tuple_of(items, 2);
}

/* -- the response head (gateway/httpproto.py _Cycle.send) --------------------------------- */


static int pair_of(PyObject *item, PyObject **k, PyObject **v) {
    if (PyTuple_CheckExact(item) && PyTuple_GET_SIZE(item) == 2) {
        *k = PyTuple_GET_ITEM(item, 0);
        *v = PyTuple_GET_ITEM(item, 1);
    } else if (PyList_CheckExact(item) && PyList_GET_SIZE(item) == 2) {
        *k = PyList_GET_ITEM(item, 0);
        *v = PyList_GET_ITEM(item, 1);
    } else {
        return 0;
    }
    return PyBytes_CheckExact(*k) && PyBytes_CheckExact(*v);
}

/*
 * response_head(status_line: bytes, default_headers: list, headers: list | tuple)
 *   -> (head: bytes, content_length: int) | None
 *
 * The head _Cycle.send builds for a keep-alive response with exactly one Content-Length
 * (pure digits) and no Connection or Transfer-Encoding header: the status line, then each
 * header as "lower-case-name: value\r\n", then "\r\n". None for anything else — a bad
 * name or value byte, no or several lengths, a Connection / Transfer-Encoding header — and
 * the Python code decides (and raises, for bad bytes) as before.
 */
static PyObject *response_head(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    (void)mod;
    if (nargs != 3 || !PyBytes_Check(args[0]) || !PyList_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "response_head(status_line, default_headers, headers)");
        return NULL;
    }
    PyObject *lists[2] = {args[1], args[2]};
    if (!PyList_Check(args[2]) && !PyTuple_Check(args[2])) Py_RETURN_NONE;
    Buf b = {0};
    long long length = -1;
    if (buf_put(&b, PyBytes_AS_STRING(args[0]), PyBytes_GET_SIZE(args[0])) < 0) goto nomem;
    for (int l = 0; l < 2; l++) {
        PyObject *seq = lists[l];
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
        PyObject **items = PySequence_Fast_ITEMS(seq);
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *k, *v;
            if (!pair_of(items[i], &k, &v)) goto decline;
            const char *kp = PyBytes_AS_STRING(k), *vp = PyBytes_AS_STRING(v);
            Py_ssize_t kn = PyBytes_GET_SIZE(k), vn = PyBytes_GET_SIZE(v);
            Py_ssize_t at = b.len;
            if (buf_put(&b, kp, kn) < 0) goto nomem;
            char *name = b.buf + at;
            for (Py_ssize_t j = 0; j < kn; j++) {
                unsigned char c = (unsigned char)name[j];
                if (NAME_BAD[c]) goto decline;
                if (c >= 'A' && c <= 'Z') name[j] = (char)(c + 32);
            }
            for (Py_ssize_t j = 0; j < vn; j++)
                if (VALUE_BAD[(unsigned char)vp[j]]) goto decline;
            if (LIT_EQ(name, kn, "content-length")) {
                if (length >= 0 || vn == 0 || vn > 18) goto decline;
                length = 0;
                for (Py_ssize_t j = 0; j < vn; j++) {
                    if (vp[j] < '0' || vp[j] > '9') goto decline;
                    length = length * 10 + (vp[j] - '0');
                }
            } else if (LIT_EQ(name, kn, "connection") || LIT_EQ(name, kn, "transfer-encoding")) {
                goto decline;
            }
            if (buf_put(&b, ": ", 2) < 0 || buf_put(&b, vp, vn) < 0 || buf_put(&b, "\r\n", 2) < 0)
                goto nomem;
        }
    }
    if (length < 0) goto decline;
    if (buf_put(&b, "\r\n", 2) < 0) goto nomem;
    PyObject *head = PyBytes_FromStringAndSize(b.buf, b.len);
    PyMem_Free(b.buf);
    if (head == NULL) return NULL;
    PyObject *items[2] = {head, PyLong_FromLongLong((long long)length)};
    return tuple_of(items, 2);
decline:
    PyMem_Free(b.buf);
    Py_RETURN_NONE;
nomem:
    PyMem_Free(b.buf);
    return PyErr_NoMemory();
}

/* -- an upstream response in one piece (gateway/upstream.py _Conn) -------------------------- */

/* The end of a header value starting at p[i]: the index of its "\r", or -1 when a byte other
 * than printable ASCII or HTAB comes first (or the data ends). 16 bytes at a time while
 * they are all printable ASCII (SSE2), then byte by byte. */
static Py_ssize_t value_end(const char *p, Py_ssize_t i, Py_ssize_t n) {
#ifdef __SSE2__
    const __m128i space = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f);
#endif
    for (;;) {
#ifdef __SSE2__
        while (i + 16 <= n) {
            __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
            /* below 0x20, or 0x80 and above (negative as signed), or DEL */
            __m128i special = _mm_or_si128(_mm_cmplt_epi8(v, space), _mm_cmpeq_epi8(v, del));
            int mask = _mm_movemask_epi8(special);
            if (mask != 0) {
                i += __builtin_ctz((unsigned)mask);
                break;
            }
            i += 16;
        }
#endif
        if (i >= n) return -1;
        unsigned char c = (unsigned char)p[i];
        if (c == '\r') return i;
        if ((c < 0x20 && c != '\t') || c > 0x7e) return -1;
        i++;
    }
}


/*
 * The header fields of a message in its plainest form, from ``i`` (the first field line) to
 * the blank line: "name:" OWS value CRLF, the name RFC 9110 token characters, the value
 * printable ASCII or HTAB with no trailing space or tab; at most one Content-Length of 1-18
 * digits (into *length, -1 without one); no Transfer-Encoding, Proxy-Connection (llhttp reads
 * it as Connection) or Upgrade, and for a request no Expect; a Connection header (if any)
 * "keep-alive" or "close" alone (into *keep_alive). The index after the blank line, or -1
 * for anything else (the caller declines). Shared by parse_request and parse_response.
 */
static Py_ssize_t header_fields(const char *p, Py_ssize_t n, Py_ssize_t i, int request,
                                Span *names, Span *values, int *nh_out, long long *length_out,
                                int *keep_alive_out) {
    int nh = 0, keep_alive = 1, seen_conn = 0;
    long long length = -1;
    for (;;) {
        if (i + 1 >= n) return -1;
        if (p[i] == '\r') {
            if (p[i + 1] != '\n') return -1;
            i += 2;
            break;
        }
        if (nh >= MAX_HEADERS) return -1;
        Py_ssize_t s = i;
        while (i < n && TOKEN_CHAR[(unsigned char)p[i]]) i++;
        if (i == s || i >= n || p[i] != ':') return -1;
        names[nh].p = p + s;
        names[nh].n = i - s;
        i++;
        while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
        s = i;
        i = value_end(p, i, n);
        if (i < 0 || i + 1 >= n || p[i + 1] != '\n') return -1;
        if (i > s && (p[i - 1] == ' ' || p[i - 1] == '\t')) return -1;
        values[nh].p = p + s;
        values[nh].n = i - s;
        i += 2;
        const Span *k = &names[nh], *v = &values[nh];
        nh++;
        if (k->n == 14 && ci_prefix(k->p, k->n, "content-length")) {
            if (length >= 0 || v->n == 0 || v->n > 18) return -1;
            length = 0;
            for (Py_ssize_t j = 0; j < v->n; j++) {
                if (v->p[j] < '0' || v->p[j] > '9') return -1;
                length = length * 10 + (v->p[j] - '0');
            }
        } else if ((k->n == 17 && ci_prefix(k->p, k->n, "transfer-encoding")) ||
                   (k->n == 16 && ci_prefix(k->p, k->n, "proxy-connection")) ||
                   (k->n == 7 && ci_prefix(k->p, k->n, "upgrade")) ||
                   (request && k->n == 6 && ci_prefix(k->p, k->n, "expect"))) {
            return -1;
        } else if (k->n == 10 && ci_prefix(k->p, k->n, "connection")) {
            if (seen_conn) return -1;
            seen_conn = 1;
            if (v->n == 10 && ci_prefix(v->p, v->n, "keep-alive"))
                keep_alive = 1;
            else if (v->n == 5 && ci_prefix(v->p, v->n, "close"))
                keep_alive = 0;
            else
                return -1;
        }
    }
    *nh_out = nh;
    *length_out = length;
    *keep_alive_out = keep_alive;
    return i;
}


/*
 * parse_response(data: bytes, cap: int) -> (status, headers, body, keep_alive) | None
 *
 * A whole upstream response that arrived in one read, in the plainest form: "HTTP/1.1 "
 * + a status from 200 to 999 but 204 and 304 + " " + a reason of printable bytes or HTAB;
 * header lines "name:" OWS value, the name RFC 9110 token characters, the value printable
 * ASCII or HTAB with no trailing space or tab; exactly one Content-Length of digits, no
 * Transfer-Encoding, Proxy-Connection or Upgrade, a Connection header (if any) "keep-alive"
 * or "close" alone; the body of exactly that length, at most ``cap`` bytes, and nothing
 * after it. headers: [(name, value)]
 * as they came (the value without its leading OWS, as llhttp gives it); keep_alive: what
 * llhttp's should_keep_alive answers for it. None for anything else — a partial response,
 * HTTP/1.0, chunked, a 1xx, obs-fold, bytes above 0x7e, a response over the cap — and the
 * caller feeds the bytes to httptools, which decides. Only reads ``data``.
 */
static PyObject *parse_response(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    (void)mod;
    if (nargs != 2 || !PyBytes_Check(args[0]) || !PyLong_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "parse_response(data, cap)");
        return NULL;
    }
    long long cap = PyLong_AsLongLong(args[1]);
    if (cap == -1 && PyErr_Occurred()) return NULL;
    const char *p = PyBytes_AS_STRING(args[0]);
    Py_ssize_t n = PyBytes_GET_SIZE(args[0]);
    Span names[MAX_HEADERS], values[MAX_HEADERS];
    int nh = 0, keep_alive = 1;
    long long length = -1;
    if (n < 17 || memcmp(p, "HTTP/1.1 ", 9) != 0) Py_RETURN_NONE;
    for (int i = 9; i < 12; i++)
        if (p[i] < '0' || p[i] > '9') Py_RETURN_NONE;
    int status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (status < 200 || status == 204 || status == 304 || p[12] != ' ') Py_RETURN_NONE;
    Py_ssize_t i = 13;
    while (i < n && p[i] != '\r') {
        unsigned char c = (unsigned char)p[i];
        if ((c < 0x20 && c != '\t') || c > 0x7e) Py_RETURN_NONE;
        i++;
    }
    if (i + 1 >= n || p[i + 1] != '\n') Py_RETURN_NONE;
    i += 2;
    i = header_fields(p, n, i, 0, names, values, &nh, &length, &keep_alive);
    if (i < 0) Py_RETURN_NONE;
    if (length < 0 || length > cap || (long long)(n - i) != length) Py_RETURN_NONE;

    PyObject *headers = PyList_New(nh);
    if (headers == NULL) return NULL;
    for (int h = 0; h < nh; h++) {
        PyObject *pair = header_pair(PyBytes_FromStringAndSize(names[h].p, names[h].n),
                                     values[h].p, values[h].n);
        if (pair == NULL) {
            Py_DECREF(headers);
            return NULL;
        }
        PyList_SET_ITEM(headers, h, pair);
    }
    PyObject *body = PyBytes_FromStringAndSize(p + i, n - i);
    if (body == NULL) {
        Py_DECREF(headers);
        return NULL;
    }
    PyObject *items[4] = {PyLong_FromLong(status), headers, body,
                          Py_NewRef(keep_alive ? Py_True : Py_False)};
    return tuple_of(items, 4);
}

/* -- a client request in one piece (gateway/httpproto.py) ----------------------------------- */

/*
 * parse_request(data: bytes, max_head: int, max_body: int)
 *   -> (method: str, path: bytes, query: bytes, headers, body: bytes, keep_alive: bool) | None
 *
 * A whole request that arrived in one read, in the plainest form: a method of GET, HEAD,
 * POST, PUT, PATCH, DELETE or OPTIONS; a target starting with "/" of bytes 0x21-0x7e without
 * "#" (path: up to the first "?", query: after it, as httptools.parse_url splits it);
 * " HTTP/1.1"; header lines as in parse_response (names lower-cased here, as the protocol's
 * on_header does); at most one Content-Length of digits and a body of exactly that length
 * (none: no body), nothing after it; no Transfer-Encoding, Expect, Upgrade or
 * Proxy-Connection; a Connection header (if any) "keep-alive" or "close" alone; the head at
 * most ``max_head`` bytes (request line and header lines), the body at most ``max_body``.
 * keep_alive: llhttp's should_keep_alive for it. None for anything else (HTTP/1.0, a partial
 * or pipelined request, chunked, obs-fold, bytes above 0x7e, ...): the caller feeds the
 * bytes to httptools, which decides. Only reads ``data``.
 */
static PyObject *parse_request(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    (void)mod;
    if (nargs != 3 || !PyBytes_Check(args[0]) || !PyLong_Check(args[1]) ||
        !PyLong_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "parse_request(data, max_head, max_body)");
        return NULL;
    }
    long long max_head = PyLong_AsLongLong(args[1]), max_body = PyLong_AsLongLong(args[2]);
    if ((max_head == -1 || max_body == -1) && PyErr_Occurred()) return NULL;
    const char *p = PyBytes_AS_STRING(args[0]);
    Py_ssize_t n = PyBytes_GET_SIZE(args[0]);
    Span names[MAX_HEADERS], values[MAX_HEADERS];
    int nh = 0, keep_alive = 1;
    long long length = -1;

    Py_ssize_t i = 0;
    while (i < n && i < 8 && p[i] >= 'A' && p[i] <= 'Z') i++;
    Py_ssize_t mlen = i;
    if (!(LIT_EQ(p, mlen, "GET") || LIT_EQ(p, mlen, "POST") || LIT_EQ(p, mlen, "PUT") ||
          LIT_EQ(p, mlen, "PATCH") || LIT_EQ(p, mlen, "DELETE") || LIT_EQ(p, mlen, "HEAD") ||
          LIT_EQ(p, mlen, "OPTIONS")))
        Py_RETURN_NONE;
    if (i + 2 >= n || p[i] != ' ' || p[i + 1] != '/') Py_RETURN_NONE;
    i++;
    Py_ssize_t target = i, qmark = -1;
    while (i < n && p[i] != ' ') {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x21 || c > 0x7e || c == '#') Py_RETURN_NONE;
        if (c == '?' && qmark < 0) qmark = i;
        i++;
    }
    Py_ssize_t target_end = i;
    if (n - i < 11 || memcmp(p + i, " HTTP/1.1\r\n", 11) != 0) Py_RETURN_NONE;
    i += 11;
    i = header_fields(p, n, i, 1, names, values, &nh, &length, &keep_alive);
    if (i < 0) Py_RETURN_NONE;
    if ((long long)i > max_head) Py_RETURN_NONE;
    if (length < 0) length = 0;
    if (length > max_body || (long long)(n - i) != length) Py_RETURN_NONE;

    PyObject *headers = PyList_New(nh);
    if (headers == NULL) return NULL;
    for (int h = 0; h < nh; h++) {
        /* A new object (str NULL): PyBytes_FromStringAndSize(p, 1) returns CPython's shared
         * single-byte bytes object (the one behind every b"A"), which must never be written:
         * a one-letter header name "A: x" lower-cased it for the whole worker. */
        PyObject *name = PyBytes_FromStringAndSize(NULL, names[h].n);
        if (name == NULL) {
            Py_DECREF(headers);
            return NULL;
        }
        char *w = PyBytes_AS_STRING(name);
        for (Py_ssize_t j = 0; j < names[h].n; j++) {
            char c = names[h].p[j];
            w[j] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
        }
        PyObject *pair = header_pair(name, values[h].p, values[h].n);
        if (pair == NULL) {
            Py_DECREF(headers);
            return NULL;
        }
        PyList_SET_ITEM(headers, h, pair);
    }
    Py_ssize_t path_end = qmark >= 0 ? qmark : target_end;
    Py_ssize_t q_at = qmark >= 0 ? qmark + 1 : target_end;
    PyObject *items[6] = {
        PyUnicode_FromStringAndSize(p, mlen),
        PyBytes_FromStringAndSize(p + target, path_end - target),
        PyBytes_FromStringAndSize(p + q_at, target_end - q_at),
        headers,
        PyBytes_FromStringAndSize(p + i, n - i),
        Py_NewRef(keep_alive ? Py_True : Py_False),
    };
    return tuple_of(items, 6);
}

/* -- the request id ------------------------------------------------------------------------ */

/*
 * request_id() -> str | None: a UUIDv7 as ringfence.core.ids.new_id makes it — the Unix time
 * in milliseconds (48 bits), version 7, 12 + 62 random bits, variant 0b10, as 8-4-4-4-12
 * lower-case hex — with the random bits from the OS CSPRNG (getrandom) in batches of 256 ids,
 * the batch dropped in a forked child. None if the system gives no random bytes: the caller
 * uses new_id. One per gateway request; new_id costs ~5 µs of Python.
 */
#define ID_BATCH 256
static unsigned char id_rand[10 * ID_BATCH];
static int id_next = ID_BATCH; /* ID_BATCH: empty */

static void id_forget(void) { id_next = ID_BATCH; }

static int id_refill(void) {
    size_t got = 0;
    while (got < sizeof id_rand) {
        ssize_t r = getrandom(id_rand + got, sizeof id_rand - got, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        got += (size_t)r;
    }
    id_next = 0;
    return 0;
}

static PyObject *request_id(PyObject *mod, PyObject *unused) {
    (void)mod;
    (void)unused;
    struct timespec ts;
    if (id_next >= ID_BATCH && id_refill() < 0) Py_RETURN_NONE;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) Py_RETURN_NONE;
    const unsigned char *r = id_rand + 10 * id_next++;
    uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    /* rand: 80 bits, big-endian; rand_a = bits 68..79, rand_b = bits 0..61 */
    uint64_t hi = ((uint64_t)r[0] << 8) | r[1]; /* bits 64..79 */
    uint64_t lo = 0;
    for (int k = 2; k < 10; k++) lo = (lo << 8) | r[k]; /* bits 0..63 */
    uint64_t rand_a = (hi >> 4) & 0xFFF;
    uint64_t rand_b = lo & ((1ULL << 62) - 1);
    uint64_t high = ((ms & ((1ULL << 48) - 1)) << 16) | (0x7ULL << 12) | rand_a;
    uint64_t low = (0x2ULL << 62) | rand_b;
    static const char hex[] = "0123456789abcdef";
    char out[36];
    char digits[32];
    for (int k = 0; k < 16; k++) digits[k] = hex[(high >> (60 - 4 * k)) & 15];
    for (int k = 0; k < 16; k++) digits[16 + k] = hex[(low >> (60 - 4 * k)) & 15];
    int o = 0;
    for (int k = 0; k < 32; k++) {
        if (k == 8 || k == 12 || k == 16 || k == 20) out[o++] = '-';
        out[o++] = digits[k];
    }
    return PyUnicode_DecodeASCII(out, 36, NULL);
}

/* -- the audit event's time ------------------------------------------------------------------ */

/*
 * iso_utc(dt) -> str | None: dt.isoformat() for a datetime whose tzinfo is datetime.UTC
 * ("YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00", the fraction only when not zero); None for any other
 * value (the caller formats it). datetime's own isoformat goes through PyUnicode_FromFormat,
 * about 6.8k instructions; one per request (gateway/app.py _record).
 */
static PyObject *iso_utc(PyObject *mod, PyObject *dt) {
    (void)mod;
    if (!PyDateTime_CheckExact(dt)) Py_RETURN_NONE;
    PyDateTime_DateTime *d = (PyDateTime_DateTime *)dt;
    if (!d->hastzinfo || d->tzinfo != PyDateTime_TimeZone_UTC) Py_RETURN_NONE;
    int y = PyDateTime_GET_YEAR(dt), mo = PyDateTime_GET_MONTH(dt), da = PyDateTime_GET_DAY(dt);
    int h = PyDateTime_DATE_GET_HOUR(dt), mi = PyDateTime_DATE_GET_MINUTE(dt);
    int se = PyDateTime_DATE_GET_SECOND(dt), us = PyDateTime_DATE_GET_MICROSECOND(dt);
    if (y < 1 || y > 9999) Py_RETURN_NONE;
    /* the digits written directly: snprintf cost ≈ 3.5k instructions a call */
    char buf[40];
    int n = 0;
#define DIGITS(v, w)                                             \
    do {                                                         \
        int v_ = (v);                                            \
        for (int k_ = (w)-1; k_ >= 0; k_--, v_ /= 10) buf[n + k_] = (char)('0' + v_ % 10); \
        n += (w);                                                \
    } while (0)
    DIGITS(y, 4);
    buf[n++] = '-';
    DIGITS(mo, 2);
    buf[n++] = '-';
    DIGITS(da, 2);
    buf[n++] = 'T';
    DIGITS(h, 2);
    buf[n++] = ':';
    DIGITS(mi, 2);
    buf[n++] = ':';
    DIGITS(se, 2);
    if (us) {
        buf[n++] = '.';
        DIGITS(us, 6);
    }
#undef DIGITS
    memcpy(buf + n, "+00:00", 6);
    n += 6;
    return PyUnicode_DecodeASCII(buf, n, NULL);
}

/* -- the audit line --------------------------------------------------------------------------- */

/*
 * audit_line(time, request_id, method, status, decision, reason, latency_ms, client_ip,
 *            user_agent, integration, integration_id, client_id, auth, route, path_template,
 *            path, upstream, bytes_in, bytes_out, dlp) -> bytes | None
 *
 * The bytes orjson.dumps(AuditEvent(...), option=OPT_APPEND_NEWLINE) writes for these fields
 * (gateway/audit.py; the fields in the dataclass's order, then class_uid 4002 and category_uid
 * 4), without building the event: ≈ 7k instructions a request. Only for the plain case: str
 * (or None where the field allows it) of valid UTF-8, exact ints in 64 bits, a float that
 * Python's repr writes as orjson does (0.0, or 0.001 <= x < 1e15), and an empty dlp dict;
 * anything else answers None and the caller builds the event (gateway/app.py _record).
 * Strings are escaped as orjson escapes them: '"', '\\', and bytes below 0x20 (\b \t \n \f \r
 * short, the others \u00XX); everything else is copied.
 */
#define AUDIT_FIELDS 20
/* each field's key as it is written: the separator, the quoted name, the colon */
static const char *const AUDIT_KEYS[AUDIT_FIELDS] = {
    "{\"time\":", ",\"request_id\":", ",\"method\":", ",\"status\":", ",\"decision\":",
    ",\"reason\":", ",\"latency_ms\":", ",\"client_ip\":", ",\"user_agent\":",
    ",\"integration\":", ",\"integration_id\":", ",\"client_id\":", ",\"auth\":",
    ",\"route\":", ",\"path_template\":", ",\"path\":", ",\"upstream\":", ",\"bytes_in\":",
    ",\"bytes_out\":", ",\"dlp\":",
};
static Py_ssize_t audit_key_len[AUDIT_FIELDS];
/* 's': str; 'o': str or None; 'i': int; 'f': float; 'd': dict (empty) */
static const char AUDIT_KINDS[AUDIT_FIELDS + 1] = "sssissfoooooso" "oooiid";
/* JSON_ESC[c]: byte c is written escaped (orjson: '"', '\\' and bytes below 0x20) */
static uint8_t JSON_ESC[256];

static void init_audit_tables(void) {
    for (int k = 0; k < AUDIT_FIELDS; k++) audit_key_len[k] = (Py_ssize_t)strlen(AUDIT_KEYS[k]);
    for (int c = 0; c < 0x20; c++) JSON_ESC[c] = 1;
    JSON_ESC['"'] = JSON_ESC['\\'] = 1;
}

static char *json_string(char *o, const char *p, Py_ssize_t n) {
    static const char hex[] = "0123456789abcdef";
    *o++ = '"';
    Py_ssize_t run = 0; /* start of the bytes not copied yet */
    for (Py_ssize_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)p[k];
        if (!JSON_ESC[c]) continue;
        memcpy(o, p + run, (size_t)(k - run));
        o += k - run;
        run = k + 1;
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\t': *o++ = 't'; break;
        case '\n': *o++ = 'n'; break;
        case '\f': *o++ = 'f'; break;
        case '\r': *o++ = 'r'; break;
        default:
            memcpy(o, "u00", 3);
            o += 3;
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    memcpy(o, p + run, (size_t)(n - run));
    o += n - run;
    *o++ = '"';
    return o;
}

/* The decimal digits of v (no sign), written at o: the end. */
static char *unsigned_digits(char *o, unsigned long long v) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) *o++ = tmp[--n];
    return o;
}

static char *int_text(char *o, long long v) {
    if (v < 0) {
        *o++ = '-';
        return unsigned_digits(o, 0ULL - (unsigned long long)v);
    }
    return unsigned_digits(o, (unsigned long long)v);
}

/* repr(d) for 0.0 <= d < 1e15 (the caller checked), as orjson writes it too. A latency is
   k / 1000 for an integer k (app.py rounds it so): below 1e12 that decimal, trailing zeros
   dropped, is the shortest text that reads back as d — repr's — and is written directly
   (PyOS_double_to_string costs ≈ 2.3k instructions); anything else goes through it. */
static int float_text(char *o, double d) {
    if (d < 1e12) {
        long long k = (long long)(d * 1000.0 + 0.5);
        if ((double)k / 1000.0 == d) {
            char *start = o;
            o = unsigned_digits(o, (unsigned long long)(k / 1000));
            *o++ = '.';
            int frac = (int)(k % 1000);
            if (frac == 0) {
                *o++ = '0';
            } else {
                char f[3] = {(char)('0' + frac / 100), (char)('0' + frac / 10 % 10),
                             (char)('0' + frac % 10)};
                int m = 3;
                while (f[m - 1] == '0') m--;
                memcpy(o, f, (size_t)m);
                o += m;
            }
            return (int)(o - start);
        }
    }
    char *r = PyOS_double_to_string(d, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (r == NULL) return -1;
    size_t n = strlen(r);
    if (n >= 32) {
        PyMem_Free(r);
        return 0;
    }
    memcpy(o, r, n);
    PyMem_Free(r);
    return (int)n;
}

static PyObject *audit_line(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    (void)mod;
    if (nargs != AUDIT_FIELDS) {
        PyErr_SetString(PyExc_TypeError, "audit_line takes 20 arguments");
        return NULL;
    }
    const char *text[AUDIT_FIELDS];
    Py_ssize_t len[AUDIT_FIELDS];
    long long ints[AUDIT_FIELDS];
    char number[32];
    int number_len = 0;
    Py_ssize_t size = 48; /* class_uid / category_uid, the closing brace, newline */
    for (int k = 0; k < AUDIT_FIELDS; k++) {
        PyObject *v = args[k];
        char kind = AUDIT_KINDS[k];
        size += audit_key_len[k];
        text[k] = NULL;
        len[k] = 0;
        if (kind == 's' || kind == 'o') {
            if (v == Py_None && kind == 'o') {
                size += 4;
                continue;
            }
            if (!PyUnicode_CheckExact(v)) Py_RETURN_NONE;
            text[k] = PyUnicode_AsUTF8AndSize(v, &len[k]);
            if (text[k] == NULL) { /* surrogates: orjson refuses them, the caller decides */
                PyErr_Clear();
                Py_RETURN_NONE;
            }
            size += 6 * len[k] + 2;
        } else if (kind == 'i') {
            if (!PyLong_CheckExact(v)) Py_RETURN_NONE;
            int overflow = 0;
            ints[k] = PyLong_AsLongLongAndOverflow(v, &overflow);
            if (overflow || (ints[k] == -1 && PyErr_Occurred())) {
                PyErr_Clear();
                Py_RETURN_NONE;
            }
            size += 24;
        } else if (kind == 'f') {
            if (!PyFloat_CheckExact(v)) Py_RETURN_NONE;
            double d = PyFloat_AS_DOUBLE(v);
            /* 0.0 and 0.001 <= d < 1e15: repr's text is orjson's (not -0.0: 0.0 == -0.0) */
            if (!((d == 0.0 && !signbit(d)) || (d >= 0.001 && d < 1e15))) Py_RETURN_NONE;
            number_len = float_text(number, d);
            if (number_len < 0) return NULL;
            if (number_len == 0) Py_RETURN_NONE;
            size += number_len;
        } else { /* 'd' */
            if (!PyDict_CheckExact(v) || PyDict_GET_SIZE(v) != 0) Py_RETURN_NONE;
            size += 2;
        }
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, size);
    if (out == NULL) return NULL;
    char *start = PyBytes_AS_STRING(out), *o = start;
    for (int k = 0; k < AUDIT_FIELDS; k++) {
        memcpy(o, AUDIT_KEYS[k], (size_t)audit_key_len[k]);
        o += audit_key_len[k];
        char kind = AUDIT_KINDS[k];
        if (kind == 's' || kind == 'o') {
            if (text[k] == NULL) {
                memcpy(o, "null", 4);
                o += 4;
            } else {
                o = json_string(o, text[k], len[k]);
            }
        } else if (kind == 'i') {
            o = int_text(o, ints[k]);
        } else if (kind == 'f') {
            memcpy(o, number, (size_t)number_len);
            o += number_len;
        } else {
            *o++ = '{';
            *o++ = '}';
        }
    }
    static const char tail[] = ",\"class_uid\":4002,\"category_uid\":4}\n";
    memcpy(o, tail, sizeof(tail) - 1);
    o += sizeof(tail) - 1;
    if (_PyBytes_Resize(&out, o - start) < 0) return NULL;
    return out;
}

static PyMethodDef module_methods[] = {
    {"request_id", (PyCFunction)request_id, METH_NOARGS,
     "A UUIDv7 string as ringfence.core.ids.new_id makes it, or None: use new_id."},
    {"audit_line", (PyCFunction)(void (*)(void))audit_line, METH_FASTCALL,
     "An audit event's JSON line as orjson writes it, or None: the caller builds the event."},
    {"iso_utc", (PyCFunction)iso_utc, METH_O,
     "dt.isoformat() for a datetime in datetime.UTC, or None: the caller formats it."},
    {"parse_request", (PyCFunction)(void (*)(void))parse_request, METH_FASTCALL,
     "A whole plain client request: (method, path, query, headers, body, keep_alive), or None."},
    {"parse_response", (PyCFunction)(void (*)(void))parse_response, METH_FASTCALL,
     "A whole plain upstream response: (status, headers, body, keep_alive), or None."},
    {"response_head", (PyCFunction)(void (*)(void))response_head, METH_FASTCALL,
     "The head of a plain keep-alive response, or None: the Python code builds it."},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef table_methods[] = {
    {"plan", (PyCFunction)(void (*)(void))table_plan, METH_FASTCALL,
     "The request's plan, or None: the Python path decides."},
    {"remember", (PyCFunction)table_remember, METH_VARARGS,
     "Keep a verified token's grant: remember(token, exp, allowed, grant) -> bool."},
    {"knows", (PyCFunction)table_knows, METH_O, "Whether the table keeps this token."},
    {"grants", (PyCFunction)table_len, METH_NOARGS, "How many tokens the table keeps."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject TableType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "ringfence.gateway._fastpath.Table",
    .tp_basicsize = sizeof(Table),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One policy snapshot's routes and verified tokens, for the native fast path.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)table_init,
    .tp_dealloc = (destructor)table_dealloc,
    .tp_methods = table_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "ringfence.gateway._fastpath",
    "The gateway's native fast path for the common request (see gateway/fastpath.py).", -1,
    module_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__fastpath(void) {
    init_tables();
    init_audit_tables();
    if (pthread_atfork(NULL, NULL, id_forget) != 0) return PyErr_NoMemory();
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) return NULL;
    if (PyType_Ready(&TableType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&TableType);
    if (PyModule_AddObject(m, "Table", (PyObject *)&TableType) < 0) {
        Py_DECREF(&TableType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
