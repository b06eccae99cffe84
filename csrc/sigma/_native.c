/*
 * ringfence.monitor.sigma._native: the Sigma plan functions of codegen.py, run in C.
 *
 * A plan (the rules of one (product, service), indexed) arrives as a nested tuple built by
 * monitor/sigma/native.py and is converted once into C structs (Plan). Running it on an
 * event reads each field at most once (the same walk over the vendor record / OCSF object as
 * codegen's), applies the same inline tests (lower-cased value lists by set / prefix / suffix
 * / substring, number sets and comparisons, exists, null, booleans, the remembered RE2
 * answers, the equality index and its memo) and calls the very same Python callables for
 * everything else (value tests, regular expressions past their memo, closures over the view).
 *
 * Whenever an event is not made of plain values on the paths the plan reads — a list or a
 * non-object on the way, a value that is not exactly str / int / float / bool / None, a
 * dotted key, a non-dict record, an int too large for a float — the plan gives up on the
 * event before anything is decided ("bail"), and Matcher hands the event to the Python path
 * (RuleSet._match_python), which is the reference. The same happens on a TypeError,
 * ValueError or AttributeError raised by a Python callable, like the Python plan does.
 *
 * Only Python objects are handled, every index is checked against the plan when the plan is
 * built, references taken from events are owned for the duration of a run, and nothing from an
 * event is kept after the call except the bounded memos (exact text -> answer).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <structmember.h>
#include <string.h>

enum {
    OP_AND = 0, OP_OR = 1, OP_NOT = 2, OP_FUSED = 3, OP_NUMS = 4, OP_CMP = 5, OP_REGEX = 6,
    OP_BOOL = 7, OP_EXISTS = 8, OP_NULL = 9, OP_VALUE = 10, OP_CLOSURE = 11
};
enum { CMP_LT = 0, CMP_LE = 1, CMP_GT = 2, CMP_GE = 3 };
enum { BASE_RAW = 0, BASE_OCSF = 1, BASE_SHAPE = 2 };
enum { STEP_RULE = 0, STEP_INDEX = 1 };

#define BAIL (-2)
#define MEMO_TEXT 256   /* like codegen._MEMO_TEXT */
#define MEMO_SIZE 4096  /* like codegen._MEMO_SIZE */
#define MAX_BLOCK_DEPTH 4
#define STACK_SLOTS 32

static PyObject *s_product, *s_service, *s_ocsf, *s_raw, *s_lower, *s_strip, *s_true, *s_false;

/* -- plan structures -------------------------------------------------------------------- */

typedef struct Node {
    int op;
    int slot;
    int flag;           /* BOOL / EXISTS: the value; CMP: the operator */
    double num;         /* CMP */
    Py_ssize_t n;       /* kids or nums */
    struct Node *kids;
    double *nums;
    PyObject *eqs;      /* FUSED: frozenset of lower-case str, or NULL */
    PyObject *starts, *ends, *contains;  /* FUSED: tuples of lower-case str */
    PyObject *fn;       /* REGEX / VALUE / CLOSURE */
    PyObject *memo;     /* REGEX: text -> answer */
} Node;

typedef struct {
    int base;
    PyObject *keys;     /* tuple of str, at least one */
} Path;

typedef struct {
    Py_ssize_t n;
    Path *paths;
} Field;

typedef struct {
    int kind;
    PyObject *rule;     /* STEP_RULE */
    Node *node;         /* STEP_RULE: NULL = no test */
    int slot;           /* STEP_INDEX */
    PyObject *memo, *dispatch;
} Step;

typedef struct {
    Py_ssize_t n;
    Step *steps;
} Block;

typedef struct {
    PyObject_HEAD
    PyObject *spec;     /* owns every object the structs below borrow */
    PyObject *view_type;
    Py_ssize_t nfields;
    Field *fields;
    Py_ssize_t nblocks;
    Block *blocks;
    int uses_ocsf;
} PlanObject;

static PyTypeObject PlanType;

/* Frees what a node owns (not the node itself: nodes live in arrays). */
static void node_clear(Node *nd) {
    if (nd->kids != NULL) {
        for (Py_ssize_t i = 0; i < nd->n; i++) node_clear(&nd->kids[i]);
        PyMem_Free(nd->kids);
        nd->kids = NULL;
    }
    PyMem_Free(nd->nums);
    nd->nums = NULL;
}

static int bad_spec(const char *what) {
    PyErr_Format(PyExc_ValueError, "bad Sigma plan spec: %s", what);
    return -1;
}

static int get_slot(PlanObject *p, PyObject *o, int *out) {
    if (!PyLong_CheckExact(o)) return bad_spec("slot is not an int");
    Py_ssize_t v = PyLong_AsSsize_t(o);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (v < 0 || v >= p->nfields) return bad_spec("slot out of range");
    *out = (int)v;
    return 0;
}

static int str_tuple(PyObject *o) {
    if (!PyTuple_CheckExact(o)) return 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(o); i++)
        if (!PyUnicode_CheckExact(PyTuple_GET_ITEM(o, i))) return 0;
    return 1;
}

static int build_node(PlanObject *p, PyObject *spec, Node *nd, int depth) {
    memset(nd, 0, sizeof(*nd));
    if (depth > 200) return bad_spec("nested too deeply");
    if (!PyTuple_CheckExact(spec) || PyTuple_GET_SIZE(spec) < 2) return bad_spec("node");
    Py_ssize_t size = PyTuple_GET_SIZE(spec);
    PyObject *op = PyTuple_GET_ITEM(spec, 0);
    if (!PyLong_CheckExact(op)) return bad_spec("op");
    long o = PyLong_AsLong(op);
    nd->op = (int)o;
    switch (o) {
    case OP_AND:
    case OP_OR: {
        PyObject *kids = PyTuple_GET_ITEM(spec, 1);
        if (size != 2 || !PyTuple_CheckExact(kids) || PyTuple_GET_SIZE(kids) == 0)
            return bad_spec("and/or");
        Py_ssize_t n = PyTuple_GET_SIZE(kids);
        nd->kids = PyMem_Calloc((size_t)n, sizeof(Node));
        if (nd->kids == NULL) { PyErr_NoMemory(); return -1; }
        nd->n = n;
        for (Py_ssize_t i = 0; i < n; i++)
            if (build_node(p, PyTuple_GET_ITEM(kids, i), &nd->kids[i], depth + 1) < 0) return -1;
        return 0;
    }
    case OP_NOT:
        if (size != 2) return bad_spec("not");
        nd->kids = PyMem_Calloc(1, sizeof(Node));
        if (nd->kids == NULL) { PyErr_NoMemory(); return -1; }
        nd->n = 1;
        return build_node(p, PyTuple_GET_ITEM(spec, 1), &nd->kids[0], depth + 1);
    case OP_CLOSURE:
        if (size != 2 || !PyCallable_Check(PyTuple_GET_ITEM(spec, 1))) return bad_spec("closure");
        nd->fn = PyTuple_GET_ITEM(spec, 1);
        return 0;
    default:
        break;
    }
    if (get_slot(p, PyTuple_GET_ITEM(spec, 1), &nd->slot) < 0) return -1;
    switch (o) {
    case OP_FUSED: {
        if (size != 6) return bad_spec("fused");
        PyObject *eqs = PyTuple_GET_ITEM(spec, 2);
        if (eqs != Py_None) {
            if (!PyFrozenSet_CheckExact(eqs)) return bad_spec("fused eqs");
            nd->eqs = eqs;
        }
        nd->starts = PyTuple_GET_ITEM(spec, 3);
        nd->ends = PyTuple_GET_ITEM(spec, 4);
        nd->contains = PyTuple_GET_ITEM(spec, 5);
        if (!str_tuple(nd->starts) || !str_tuple(nd->ends) || !str_tuple(nd->contains))
            return bad_spec("fused tuples");
        return 0;
    }
    case OP_NUMS: {
        PyObject *nums = PyTuple_GET_ITEM(spec, 2);
        if (size != 3 || !PyTuple_CheckExact(nums)) return bad_spec("nums");
        Py_ssize_t n = PyTuple_GET_SIZE(nums);
        nd->nums = PyMem_Calloc((size_t)(n ? n : 1), sizeof(double));
        if (nd->nums == NULL) { PyErr_NoMemory(); return -1; }
        nd->n = n;
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *f = PyTuple_GET_ITEM(nums, i);
            if (!PyFloat_CheckExact(f)) return bad_spec("nums item");
            nd->nums[i] = PyFloat_AS_DOUBLE(f);
        }
        return 0;
    }
    case OP_CMP: {
        if (size != 4 || !PyLong_CheckExact(PyTuple_GET_ITEM(spec, 2)) ||
            !PyFloat_CheckExact(PyTuple_GET_ITEM(spec, 3)))
            return bad_spec("cmp");
        long c = PyLong_AsLong(PyTuple_GET_ITEM(spec, 2));
        if (c < CMP_LT || c > CMP_GE) return bad_spec("cmp op");
        nd->flag = (int)c;
        nd->num = PyFloat_AS_DOUBLE(PyTuple_GET_ITEM(spec, 3));
        return 0;
    }
    case OP_REGEX:
        if (size != 4 || !PyCallable_Check(PyTuple_GET_ITEM(spec, 2)) ||
            !PyDict_CheckExact(PyTuple_GET_ITEM(spec, 3)))
            return bad_spec("regex");
        nd->fn = PyTuple_GET_ITEM(spec, 2);
        nd->memo = PyTuple_GET_ITEM(spec, 3);
        return 0;
    case OP_BOOL:
    case OP_EXISTS:
        if (size != 3 || !PyBool_Check(PyTuple_GET_ITEM(spec, 2))) return bad_spec("bool");
        nd->flag = PyTuple_GET_ITEM(spec, 2) == Py_True;
        return 0;
    case OP_NULL:
        if (size != 2) return bad_spec("null");
        return 0;
    case OP_VALUE:
        if (size != 3 || !PyCallable_Check(PyTuple_GET_ITEM(spec, 2))) return bad_spec("value");
        nd->fn = PyTuple_GET_ITEM(spec, 2);
        return 0;
    default:
        return bad_spec("unknown op");
    }
}

static void plan_free_structs(PlanObject *p) {
    if (p->blocks != NULL) {
        for (Py_ssize_t b = 0; b < p->nblocks; b++) {
            Block *bl = &p->blocks[b];
            for (Py_ssize_t i = 0; bl->steps != NULL && i < bl->n; i++) {
                if (bl->steps[i].node != NULL) {
                    node_clear(bl->steps[i].node);
                    PyMem_Free(bl->steps[i].node);
                }
            }
            PyMem_Free(bl->steps);
        }
        PyMem_Free(p->blocks);
        p->blocks = NULL;
    }
    if (p->fields != NULL) {
        for (Py_ssize_t i = 0; i < p->nfields; i++) PyMem_Free(p->fields[i].paths);
        PyMem_Free(p->fields);
        p->fields = NULL;
    }
}

static int build_fields(PlanObject *p, PyObject *fields) {
    if (!PyTuple_CheckExact(fields)) return bad_spec("fields");
    Py_ssize_t n = PyTuple_GET_SIZE(fields);
    p->fields = PyMem_Calloc((size_t)(n ? n : 1), sizeof(Field));
    if (p->fields == NULL) { PyErr_NoMemory(); return -1; }
    p->nfields = n;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *paths = PyTuple_GET_ITEM(fields, i);
        if (!PyTuple_CheckExact(paths) || PyTuple_GET_SIZE(paths) == 0) return bad_spec("paths");
        Py_ssize_t m = PyTuple_GET_SIZE(paths);
        Field *f = &p->fields[i];
        f->paths = PyMem_Calloc((size_t)m, sizeof(Path));
        if (f->paths == NULL) { PyErr_NoMemory(); return -1; }
        f->n = m;
        for (Py_ssize_t j = 0; j < m; j++) {
            PyObject *path = PyTuple_GET_ITEM(paths, j);
            if (!PyTuple_CheckExact(path) || PyTuple_GET_SIZE(path) != 2 ||
                !PyLong_CheckExact(PyTuple_GET_ITEM(path, 0)))
                return bad_spec("path");
            long base = PyLong_AsLong(PyTuple_GET_ITEM(path, 0));
            PyObject *keys = PyTuple_GET_ITEM(path, 1);
            if (base < BASE_RAW || base > BASE_SHAPE) return bad_spec("path base");
            if (base != BASE_SHAPE && (!str_tuple(keys) || PyTuple_GET_SIZE(keys) == 0))
                return bad_spec("path keys");
            f->paths[j].base = (int)base;
            f->paths[j].keys = keys;
            if (base == BASE_OCSF) p->uses_ocsf = 1;
        }
    }
    return 0;
}

static int build_blocks(PlanObject *p, PyObject *blocks) {
    if (!PyTuple_CheckExact(blocks) || PyTuple_GET_SIZE(blocks) == 0) return bad_spec("blocks");
    Py_ssize_t nb = PyTuple_GET_SIZE(blocks);
    p->blocks = PyMem_Calloc((size_t)nb, sizeof(Block));
    if (p->blocks == NULL) { PyErr_NoMemory(); return -1; }
    p->nblocks = nb;
    for (Py_ssize_t b = 0; b < nb; b++) {
        PyObject *steps = PyTuple_GET_ITEM(blocks, b);
        if (!PyTuple_CheckExact(steps)) return bad_spec("block");
        Py_ssize_t n = PyTuple_GET_SIZE(steps);
        Block *bl = &p->blocks[b];
        bl->steps = PyMem_Calloc((size_t)(n ? n : 1), sizeof(Step));
        if (bl->steps == NULL) { PyErr_NoMemory(); return -1; }
        bl->n = n;
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *st = PyTuple_GET_ITEM(steps, i);
            Step *s = &bl->steps[i];
            if (!PyTuple_CheckExact(st) || PyTuple_GET_SIZE(st) < 3 ||
                !PyLong_CheckExact(PyTuple_GET_ITEM(st, 0)))
                return bad_spec("step");
            long kind = PyLong_AsLong(PyTuple_GET_ITEM(st, 0));
            s->kind = (int)kind;
            if (kind == STEP_RULE) {
                if (PyTuple_GET_SIZE(st) != 3) return bad_spec("rule step");
                s->rule = PyTuple_GET_ITEM(st, 1);
                PyObject *node = PyTuple_GET_ITEM(st, 2);
                if (node != Py_None) {
                    s->node = PyMem_Calloc(1, sizeof(Node));
                    if (s->node == NULL) { PyErr_NoMemory(); return -1; }
                    if (build_node(p, node, s->node, 0) < 0) return -1;
                }
            } else if (kind == STEP_INDEX) {
                if (PyTuple_GET_SIZE(st) != 4 || !PyDict_CheckExact(PyTuple_GET_ITEM(st, 2)) ||
                    !PyDict_CheckExact(PyTuple_GET_ITEM(st, 3)))
                    return bad_spec("index step");
                if (get_slot(p, PyTuple_GET_ITEM(st, 1), &s->slot) < 0) return -1;
                s->memo = PyTuple_GET_ITEM(st, 2);
                s->dispatch = PyTuple_GET_ITEM(st, 3);
            } else {
                return bad_spec("step kind");
            }
        }
    }
    return 0;
}

/* Plan(spec): spec = (fields, blocks, view_type). */
static PyObject *plan_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    PyObject *spec;
    if (kwds != NULL && PyDict_GET_SIZE(kwds)) {
        PyErr_SetString(PyExc_TypeError, "Plan takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "O!:Plan", &PyTuple_Type, &spec)) return NULL;
    if (PyTuple_GET_SIZE(spec) != 3 || !PyCallable_Check(PyTuple_GET_ITEM(spec, 2))) {
        bad_spec("(fields, blocks, view_type)");
        return NULL;
    }
    PlanObject *p = (PlanObject *)type->tp_alloc(type, 0);
    if (p == NULL) return NULL;
    Py_INCREF(spec);
    p->spec = spec;
    p->view_type = PyTuple_GET_ITEM(spec, 2);
    if (build_fields(p, PyTuple_GET_ITEM(spec, 0)) < 0 ||
        build_blocks(p, PyTuple_GET_ITEM(spec, 1)) < 0) {
        Py_DECREF(p);
        return NULL;
    }
    return (PyObject *)p;
}

static int plan_traverse(PlanObject *p, visitproc visit, void *arg) {
    Py_VISIT(p->spec);
    return 0;
}

static int plan_clear(PlanObject *p) {
    plan_free_structs(p);
    Py_CLEAR(p->spec);
    return 0;
}

static void plan_dealloc(PlanObject *p) {
    PyObject_GC_UnTrack(p);
    plan_clear(p);
    Py_TYPE(p)->tp_free((PyObject *)p);
}

/* -- running ---------------------------------------------------------------------------- */

enum { X_UNREAD = 0, X_MISSING = 1, X_VALUE = 2 };

typedef struct {
    PlanObject *plan;
    PyObject *o, *r, *view, *hits;
    PyObject **x;          /* owned value when xs == X_VALUE */
    unsigned char *xs;
    PyObject **t;          /* owned lower-case text (NULL: None) when tready */
    unsigned char *tready;
    double *y;
    unsigned char *ys;     /* 0 not computed, 1 None, 2 number */
} Ctx;

/* A plain value: what the plan decides without handing the event over. */
static inline int plain(PyObject *v) {
    PyTypeObject *t = Py_TYPE(v);
    return t == &PyUnicode_Type || t == &PyLong_Type || t == &PyFloat_Type || t == &PyBool_Type ||
           v == Py_None;
}

/* codegen._walk + _read: X_MISSING / X_VALUE, BAIL (a shape the getter decides), -1 error. */
static int read_field(Ctx *c, int slot) {
    Field *f = &c->plan->fields[slot];
    for (Py_ssize_t j = 0; j < f->n; j++) {
        Path *p = &f->paths[j];
        if (p->base == BASE_SHAPE) return BAIL;
        /* owned on the way: a key's __eq__ (an event built in Python, not from JSON) may
         * run code that changes the containers */
        PyObject *cur = p->base == BASE_RAW ? c->r : c->o;
        Py_INCREF(cur);
        Py_ssize_t nk = PyTuple_GET_SIZE(p->keys);
        for (Py_ssize_t k = 0; k < nk; k++) {
            if (cur == NULL) return BAIL;           /* missing on the way: maybe a dotted key */
            if (!PyDict_CheckExact(cur)) {          /* list / scalar on the way */
                Py_DECREF(cur);
                return BAIL;
            }
            PyObject *next = PyDict_GetItemWithError(cur, PyTuple_GET_ITEM(p->keys, k));
            Py_XINCREF(next);
            Py_DECREF(cur);
            if (next == NULL && PyErr_Occurred()) return -1;
            cur = next;
        }
        if (cur == NULL) continue;                  /* missing: the next candidate */
        if (!plain(cur)) {
            Py_DECREF(cur);
            return BAIL;
        }
        c->x[slot] = cur;
        c->xs[slot] = X_VALUE;
        return X_VALUE;
    }
    c->xs[slot] = X_MISSING;
    return X_MISSING;
}

static inline int need_x(Ctx *c, int slot) {
    if (c->xs[slot] != X_UNREAD) return c->xs[slot];
    return read_field(c, slot);
}

/* str.lower() of an exact str; ASCII without a Python call. */
static PyObject *lower_str(PyObject *s) {
    if (PyUnicode_IS_ASCII(s)) {
        Py_ssize_t n = PyUnicode_GET_LENGTH(s);
        const Py_UCS1 *src = PyUnicode_1BYTE_DATA(s);
        Py_ssize_t i = 0;
        while (i < n && !(src[i] >= 'A' && src[i] <= 'Z')) i++;
        if (i == n) {
            Py_INCREF(s);
            return s;
        }
        PyObject *out = PyUnicode_New(n, 127);
        if (out == NULL) return NULL;
        Py_UCS1 *dst = PyUnicode_1BYTE_DATA(out);
        memcpy(dst, src, (size_t)i);
        for (; i < n; i++) {
            Py_UCS1 ch = src[i];
            dst[i] = (ch >= 'A' && ch <= 'Z') ? (Py_UCS1)(ch + 32) : ch;
        }
        return out;
    }
    return PyObject_CallMethodNoArgs(s, s_lower);
}

/* compiler._as_text for a plain value (NULL, no error: None). */
static PyObject *as_text(PyObject *v) {
    if (PyUnicode_CheckExact(v)) {
        Py_INCREF(v);
        return v;
    }
    if (PyBool_Check(v)) {
        PyObject *t = v == Py_True ? s_true : s_false;
        Py_INCREF(t);
        return t;
    }
    if (PyLong_CheckExact(v) || PyFloat_CheckExact(v)) return PyObject_Str(v);
    return NULL;
}

/* t<i>: the lower-case text (ready, c->t[slot] may be NULL for None); BAIL / -1. */
static int need_t(Ctx *c, int slot) {
    if (c->tready[slot]) return 0;
    int s = need_x(c, slot);
    if (s < 0) return s;
    PyObject *t = NULL;
    if (s == X_VALUE) {
        PyObject *x = c->x[slot];
        if (PyUnicode_CheckExact(x)) {
            t = lower_str(x);
            if (t == NULL) return -1;
        } else {
            /* numbers' text has no upper case ("inf", "nan", "1e+16"); bools: "true" */
            t = as_text(x);
            if (t == NULL && PyErr_Occurred()) return -1;
        }
    }
    c->t[slot] = t;
    c->tready[slot] = 1;
    return 0;
}

/* y<i>: compiler._as_number; 1 number in c->y[slot], 0 None, BAIL, -1. */
static int need_y(Ctx *c, int slot) {
    if (c->ys[slot]) return c->ys[slot] - 1;
    int s = need_x(c, slot);
    if (s < 0) return s;
    int has = 0;
    if (s == X_VALUE) {
        PyObject *x = c->x[slot];
        if (PyLong_CheckExact(x)) {
            double d = PyLong_AsDouble(x);
            if (d == -1.0 && PyErr_Occurred()) {
                if (!PyErr_ExceptionMatches(PyExc_OverflowError)) return -1;
                PyErr_Clear();
                return BAIL;  /* codegen leaves a huge int to the closures */
            }
            c->y[slot] = d;
            has = 1;
        } else if (PyFloat_CheckExact(x)) {
            c->y[slot] = PyFloat_AS_DOUBLE(x);
            has = 1;
        } else if (PyUnicode_CheckExact(x)) {
            PyObject *stripped = PyObject_CallMethodNoArgs(x, s_strip);
            if (stripped == NULL) return -1;
            PyObject *f = PyFloat_FromString(stripped);
            Py_DECREF(stripped);
            if (f == NULL) {
                if (!PyErr_ExceptionMatches(PyExc_ValueError)) return -1;
                PyErr_Clear();
            } else {
                c->y[slot] = PyFloat_AS_DOUBLE(f);
                Py_DECREF(f);
                has = 1;
            }
        }
        /* bool, None: no number */
    }
    c->ys[slot] = (unsigned char)(has + 1);
    return has;
}

static int truth_of_call(PyObject *fn, PyObject *arg) {
    PyObject *r = PyObject_CallOneArg(fn, arg);
    if (r == NULL) return -1;
    int t = PyObject_IsTrue(r);
    Py_DECREF(r);
    return t;
}

static PyObject *view_of(Ctx *c) {
    if (c->view == NULL) {
        PyObject *args[2] = {c->o, c->r};
        c->view = PyObject_Vectorcall(c->plan->view_type, args, 2, NULL);
    }
    return c->view;
}

static int eval(Ctx *c, Node *nd) {
    int s;
    switch (nd->op) {
    case OP_AND:
        for (Py_ssize_t i = 0; i < nd->n; i++) {
            s = eval(c, &nd->kids[i]);
            if (s != 1) return s;
        }
        return 1;
    case OP_OR:
        for (Py_ssize_t i = 0; i < nd->n; i++) {
            s = eval(c, &nd->kids[i]);
            if (s != 0) return s;
        }
        return 0;
    case OP_NOT:
        s = eval(c, &nd->kids[0]);
        return s < 0 ? s : !s;
    case OP_CLOSURE: {
        PyObject *v = view_of(c);
        if (v == NULL) return -1;
        return truth_of_call(nd->fn, v);
    }
    case OP_FUSED: {
        if ((s = need_t(c, nd->slot)) < 0) return s;
        PyObject *t = c->t[nd->slot];
        if (t == NULL) return 0;
        if (nd->eqs != NULL && (s = PySet_Contains(nd->eqs, t)) != 0) return s;
        Py_ssize_t len = PyUnicode_GET_LENGTH(t);
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(nd->starts); i++)
            if ((s = (int)PyUnicode_Tailmatch(t, PyTuple_GET_ITEM(nd->starts, i), 0, len, -1)) != 0)
                return s;
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(nd->ends); i++)
            if ((s = (int)PyUnicode_Tailmatch(t, PyTuple_GET_ITEM(nd->ends, i), 0, len, 1)) != 0)
                return s;
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(nd->contains); i++)
            if ((s = PyUnicode_Contains(t, PyTuple_GET_ITEM(nd->contains, i))) != 0) return s;
        return 0;
    }
    case OP_NUMS:
        if ((s = need_y(c, nd->slot)) <= 0) return s;
        for (Py_ssize_t i = 0; i < nd->n; i++)
            if (c->y[nd->slot] == nd->nums[i]) return 1;
        return 0;
    case OP_CMP: {
        if ((s = need_y(c, nd->slot)) <= 0) return s;
        double y = c->y[nd->slot];
        switch (nd->flag) {
        case CMP_LT: return y < nd->num;
        case CMP_LE: return y <= nd->num;
        case CMP_GT: return y > nd->num;
        default: return y >= nd->num;
        }
    }
    case OP_REGEX: {
        if ((s = need_x(c, nd->slot)) < 0) return s;
        if (s == X_MISSING) return 0;
        PyObject *x = c->x[nd->slot];
        if (PyUnicode_CheckExact(x)) {
            PyObject *known = PyDict_GetItemWithError(nd->memo, x);
            if (known == Py_True) return 1;
            if (known == Py_False) return 0;
            if (known != NULL && known != Py_None) {
                Py_INCREF(known);
                s = PyObject_IsTrue(known);
                Py_DECREF(known);
                return s;
            }
            if (known == NULL && PyErr_Occurred()) return -1;
            return truth_of_call(nd->fn, x);
        }
        PyObject *t = as_text(x);
        if (t == NULL) return PyErr_Occurred() ? -1 : 0;
        s = truth_of_call(nd->fn, t);
        Py_DECREF(t);
        return s;
    }
    case OP_BOOL:
        if ((s = need_x(c, nd->slot)) < 0) return s;
        if (s == X_MISSING) return 0;
        if (PyBool_Check(c->x[nd->slot])) return (c->x[nd->slot] == Py_True) == nd->flag;
        if (PyUnicode_CheckExact(c->x[nd->slot]))
            return PyUnicode_Compare(c->x[nd->slot], nd->flag ? s_true : s_false) == 0;
        return 0;  /* numbers' text is never "true" / "false"; None has none */
    case OP_EXISTS:
        if ((s = need_x(c, nd->slot)) < 0) return s;
        return (s == X_VALUE) == nd->flag;
    case OP_NULL:
        if ((s = need_x(c, nd->slot)) < 0) return s;
        return s == X_MISSING || c->x[nd->slot] == Py_None;
    case OP_VALUE:
        if ((s = need_x(c, nd->slot)) < 0) return s;
        if (s == X_MISSING) return 0;
        return truth_of_call(nd->fn, c->x[nd->slot]);
    default:
        PyErr_SetString(PyExc_SystemError, "unknown Sigma plan node");
        return -1;
    }
}

static int run_block(Ctx *c, Py_ssize_t b, int depth);

/* The dispatch entry for a key: extend the hits with a tuple of rules, or run a block. */
static int run_found(Ctx *c, PyObject *f, int depth) {
    if (f == Py_None) return 0;
    if (PyTuple_CheckExact(f)) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(f); i++)
            if (PyList_Append(c->hits, PyTuple_GET_ITEM(f, i)) < 0) return -1;
        return 0;
    }
    if (PyLong_CheckExact(f)) {
        Py_ssize_t b = PyLong_AsSsize_t(f);
        if (b == -1 && PyErr_Occurred()) return -1;
        if (b <= 0 || b >= c->plan->nblocks) {
            PyErr_SetString(PyExc_SystemError, "Sigma plan block out of range");
            return -1;
        }
        return run_block(c, b, depth + 1);
    }
    PyErr_SetString(PyExc_SystemError, "bad Sigma plan dispatch entry");
    return -1;
}

static int run_index(Ctx *c, Step *st, int depth) {
    int s = need_x(c, st->slot);
    if (s < 0) return s;
    if (s == X_MISSING) return 0;
    PyObject *x = c->x[st->slot];
    if (PyUnicode_CheckExact(x)) {
        PyObject *f = PyDict_GetItemWithError(st->memo, x);
        if (f == NULL) {
            if (PyErr_Occurred()) return -1;
            /* codegen._probe: lower-case, look up, remember (bounded) */
            PyObject *low = lower_str(x);
            if (low == NULL) return -1;
            f = PyDict_GetItemWithError(st->dispatch, low);
            Py_DECREF(low);
            if (f == NULL) {
                if (PyErr_Occurred()) return -1;
                f = Py_None;
            }
            Py_INCREF(f);
            if (PyUnicode_GET_LENGTH(x) <= MEMO_TEXT) {
                if (PyDict_GET_SIZE(st->memo) >= MEMO_SIZE) PyDict_Clear(st->memo);
                if (PyDict_SetItem(st->memo, x, f) < 0) {
                    Py_DECREF(f);
                    return -1;
                }
            }
            s = run_found(c, f, depth);
            Py_DECREF(f);
            return s;
        }
        Py_INCREF(f);  /* a run may clear the memo */
        s = run_found(c, f, depth);
        Py_DECREF(f);
        return s;
    }
    if ((PyLong_CheckExact(x) || PyFloat_CheckExact(x))) {
        PyObject *key = PyObject_Str(x);
        if (key == NULL) return -1;
        PyObject *f = PyDict_GetItemWithError(st->dispatch, key);
        Py_DECREF(key);
        if (f == NULL) return PyErr_Occurred() ? -1 : 0;
        Py_INCREF(f);
        s = run_found(c, f, depth);
        Py_DECREF(f);
        return s;
    }
    return 0;  /* bool, None: no key */
}

static int run_block(Ctx *c, Py_ssize_t b, int depth) {
    if (depth > MAX_BLOCK_DEPTH) {
        PyErr_SetString(PyExc_SystemError, "Sigma plan blocks nested too deeply");
        return -1;
    }
    Block *bl = &c->plan->blocks[b];
    for (Py_ssize_t i = 0; i < bl->n; i++) {
        Step *st = &bl->steps[i];
        int s;
        if (st->kind == STEP_RULE) {
            s = st->node == NULL ? 1 : eval(c, st->node);
            if (s < 0) return s;
            if (s && PyList_Append(c->hits, st->rule) < 0) return -1;
        } else {
            s = run_index(c, st, depth);
            if (s < 0) return s;
        }
    }
    return 0;
}

/* The hits of plan p on (o, r): a new list; Py_None when the plan gives the event up; NULL
 * with an exception set on error. */
static PyObject *plan_run_on(PlanObject *p, PyObject *o, PyObject *r) {
    if (!PyDict_CheckExact(r) || (p->uses_ocsf && !PyDict_CheckExact(o))) Py_RETURN_NONE;
    Py_ssize_t n = p->nfields;
    PyObject *xs_stack[STACK_SLOTS], *ts_stack[STACK_SLOTS];
    double ys_stack[STACK_SLOTS];
    unsigned char flags_stack[3 * STACK_SLOTS];
    Ctx c;
    c.plan = p;
    c.o = o;
    c.r = r;
    c.view = NULL;
    void *heap = NULL;
    if (n <= STACK_SLOTS) {
        c.x = xs_stack;
        c.t = ts_stack;
        c.y = ys_stack;
        c.xs = flags_stack;
    } else {
        size_t sz = (size_t)n * (2 * sizeof(PyObject *) + sizeof(double) + 3);
        heap = PyMem_Malloc(sz);
        if (heap == NULL) return PyErr_NoMemory();
        c.x = (PyObject **)heap;
        c.t = c.x + n;
        c.y = (double *)(c.t + n);
        c.xs = (unsigned char *)(c.y + n);
    }
    c.tready = c.xs + n;
    c.ys = c.tready + n;
    memset(c.xs, 0, 3 * (size_t)n);
    c.hits = PyList_New(0);
    PyObject *result = NULL;
    if (c.hits != NULL) {
        int s = run_block(&c, 0, 0);
        if (s == 0) {
            result = c.hits;
            c.hits = NULL;
        } else if (s == BAIL) {
            result = Py_None;
            Py_INCREF(result);
        }
    }
    Py_XDECREF(c.hits);
    Py_XDECREF(c.view);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (c.xs[i] == X_VALUE) Py_DECREF(c.x[i]);
        if (c.tready[i]) Py_XDECREF(c.t[i]);
    }
    PyMem_Free(heap);
    return result;
}

static PyObject *plan_run(PlanObject *p, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "run(ocsf, raw) takes two arguments");
        return NULL;
    }
    return plan_run_on(p, args[0], args[1]);
}

static PyMethodDef plan_methods[] = {
    {"run", (PyCFunction)(void (*)(void))plan_run, METH_FASTCALL,
     "run(ocsf, raw) -> the matching rules in plan order, or None when the plan leaves the "
     "event to the Python path."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef plan_members[] = {
    {"spec", T_OBJECT, offsetof(PlanObject, spec), READONLY, "the spec the plan was built from"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject PlanType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ringfence.monitor.sigma._native.Plan",
    .tp_basicsize = sizeof(PlanObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Plan((fields, blocks, view_type)): one compiled Sigma plan.",
    .tp_new = plan_new,
    .tp_traverse = (traverseproc)plan_traverse,
    .tp_clear = (inquiry)plan_clear,
    .tp_dealloc = (destructor)plan_dealloc,
    .tp_methods = plan_methods,
    .tp_members = plan_members,
};

/* -- Matcher: dispatch by product then service, run the plan, hand odd events over ------- */

enum { A_PRODUCT, A_SERVICE, A_OCSF, A_RAW, N_ATTRS };

typedef struct {
    PyObject_HEAD
    PyObject *resolve;   /* (product, service) -> Plan, or anything else: Python path */
    PyObject *fallback;  /* event -> list (RuleSet._match_python) */
    PyObject *runs;      /* product -> {service -> plan} */
    Py_ssize_t max_sources;
    vectorcallfunc vectorcall;
    /* The event type whose four attributes are plain slots (a dataclass with slots=True):
     * read at their offsets while the type is unchanged (its version tag), else getattr. */
    PyTypeObject *etype;
    int fast_ok;
    unsigned int etag;
    Py_ssize_t offsets[N_ATTRS];
} MatcherObject;

static PyObject **attr_names[N_ATTRS] = {&s_product, &s_service, &s_ocsf, &s_raw};

/* Remember ``type`` and whether its four attributes are object slots (then their offsets). */
static void learn_type(MatcherObject *m, PyTypeObject *type) {
    Py_INCREF(type);
    Py_XSETREF(m->etype, type);
    m->fast_ok = 0;
    Py_ssize_t offsets[N_ATTRS];
    for (int i = 0; i < N_ATTRS; i++) {
        PyObject *d = _PyType_Lookup(type, *attr_names[i]);  /* assigns the version tag */
        if (d == NULL || Py_TYPE(d) != &PyMemberDescr_Type) return;
        PyMemberDef *md = ((PyMemberDescrObject *)d)->d_member;
        if (md->type != T_OBJECT_EX || md->offset <= 0 ||
            (size_t)md->offset + sizeof(PyObject *) > (size_t)type->tp_basicsize)
            return;
        if (!PyType_IsSubtype(type, PyDescr_TYPE(d))) return;
        offsets[i] = md->offset;
    }
    if (!PyType_HasFeature(type, Py_TPFLAGS_VALID_VERSION_TAG)) return;
    m->etag = type->tp_version_tag;
    memcpy(m->offsets, offsets, sizeof(offsets));
    m->fast_ok = 1;
}

/* event.<attr> as a new reference (NULL with an exception when unset / missing). */
static inline PyObject *attr(MatcherObject *m, PyObject *event, int i, int fast) {
    if (fast) {
        PyObject *v = *(PyObject **)((char *)event + m->offsets[i]);
        if (v != NULL) {
            Py_INCREF(v);
            return v;
        }
    }
    return PyObject_GetAttr(event, *attr_names[i]);
}

static PyObject *matcher_match(MatcherObject *m, PyObject *event) {
    PyTypeObject *type = Py_TYPE(event);
    int fast = 0;
    if (type == m->etype) {
        fast = m->fast_ok && PyType_HasFeature(type, Py_TPFLAGS_VALID_VERSION_TAG) &&
               type->tp_version_tag == m->etag;
        if (!fast && m->fast_ok) {  /* the type changed since: look again */
            learn_type(m, type);
            fast = m->fast_ok;
        }
    } else if (m->etype == NULL) {
        learn_type(m, type);
        fast = m->fast_ok;
    }
    PyObject *product = attr(m, event, A_PRODUCT, fast);
    if (product == NULL) return NULL;
    PyObject *service = attr(m, event, A_SERVICE, fast);
    if (service == NULL) {
        Py_DECREF(product);
        return NULL;
    }
    PyObject *plan = NULL;
    PyObject *by_service = PyDict_GetItemWithError(m->runs, product);
    Py_XINCREF(by_service);
    if (by_service != NULL) {
        plan = PyDict_GetItemWithError(by_service, service);
        Py_XINCREF(plan);
    }
    if (plan == NULL && !PyErr_Occurred()) {
        PyObject *args[2] = {product, service};
        plan = PyObject_Vectorcall(m->resolve, args, 2, NULL);
        if (plan != NULL && by_service == NULL) {
            by_service = PyDict_New();
            if (by_service == NULL || PyDict_SetItem(m->runs, product, by_service) < 0)
                Py_CLEAR(plan);
        }
        if (plan != NULL) {
            if (PyDict_GET_SIZE(by_service) >= m->max_sources) PyDict_Clear(by_service);
            if (PyDict_SetItem(by_service, service, plan) < 0) Py_CLEAR(plan);
        }
    }
    Py_XDECREF(by_service);
    Py_DECREF(product);
    Py_DECREF(service);
    if (plan == NULL) return NULL;
    PyObject *result = NULL;
    if (Py_TYPE(plan) == &PlanType) {
        PyObject *o = attr(m, event, A_OCSF, fast);
        PyObject *r = o == NULL ? NULL : attr(m, event, A_RAW, fast);
        if (r != NULL) {
            result = plan_run_on((PlanObject *)plan, o, r);
            if (result == NULL && (PyErr_ExceptionMatches(PyExc_TypeError) ||
                                   PyErr_ExceptionMatches(PyExc_ValueError) ||
                                   PyErr_ExceptionMatches(PyExc_AttributeError))) {
                PyErr_Clear();
                result = Py_None;
                Py_INCREF(result);
            }
        }
        Py_XDECREF(o);
        Py_XDECREF(r);
        if (result == NULL) {
            Py_DECREF(plan);
            return NULL;
        }
        if (result != Py_None) {
            Py_DECREF(plan);
            return result;
        }
        Py_DECREF(result);
    }
    Py_DECREF(plan);
    return PyObject_CallOneArg(m->fallback, event);
}

static PyObject *matcher_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf,
                                    PyObject *kwnames) {
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs != 1 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "match(event) takes one argument");
        return NULL;
    }
    return matcher_match((MatcherObject *)self, args[0]);
}

static PyObject *matcher_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    PyObject *resolve, *fallback;
    Py_ssize_t max_sources;
    if (kwds != NULL && PyDict_GET_SIZE(kwds)) {
        PyErr_SetString(PyExc_TypeError, "Matcher takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "OOn:Matcher", &resolve, &fallback, &max_sources)) return NULL;
    if (!PyCallable_Check(resolve) || !PyCallable_Check(fallback) || max_sources < 1) {
        PyErr_SetString(PyExc_TypeError, "Matcher(resolve, fallback, max_sources >= 1)");
        return NULL;
    }
    MatcherObject *m = (MatcherObject *)type->tp_alloc(type, 0);
    if (m == NULL) return NULL;
    m->runs = PyDict_New();
    if (m->runs == NULL) {
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(resolve);
    Py_INCREF(fallback);
    m->resolve = resolve;
    m->fallback = fallback;
    m->max_sources = max_sources;
    m->vectorcall = matcher_vectorcall;
    return (PyObject *)m;
}

static int matcher_traverse(MatcherObject *m, visitproc visit, void *arg) {
    Py_VISIT(m->etype);
    Py_VISIT(m->resolve);
    Py_VISIT(m->fallback);
    Py_VISIT(m->runs);
    return 0;
}

static int matcher_clear(MatcherObject *m) {
    Py_CLEAR(m->etype);
    Py_CLEAR(m->resolve);
    Py_CLEAR(m->fallback);
    Py_CLEAR(m->runs);
    return 0;
}

static void matcher_dealloc(MatcherObject *m) {
    PyObject_GC_UnTrack(m);
    matcher_clear(m);
    Py_TYPE(m)->tp_free((PyObject *)m);
}

static PyObject *matcher_forget(MatcherObject *m, PyObject *Py_UNUSED(ignored)) {
    if (m->runs != NULL) PyDict_Clear(m->runs);
    Py_RETURN_NONE;
}

/* How many services are remembered per product (bounded by max_sources each). */
static PyObject *matcher_sizes(MatcherObject *m, PyObject *Py_UNUSED(ignored)) {
    PyObject *out = PyDict_New();
    if (out == NULL || m->runs == NULL) return out;
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(m->runs, &pos, &k, &v)) {
        PyObject *n = PyLong_FromSsize_t(PyDict_Check(v) ? PyDict_GET_SIZE(v) : -1);
        if (n == NULL || PyDict_SetItem(out, k, n) < 0) {
            Py_XDECREF(n);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(n);
    }
    return out;
}

static PyMethodDef matcher_methods[] = {
    {"forget", (PyCFunction)matcher_forget, METH_NOARGS, "Drop the remembered plans."},
    {"sizes", (PyCFunction)matcher_sizes, METH_NOARGS,
     "{product: number of services remembered}"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject MatcherType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ringfence.monitor.sigma._native.Matcher",
    .tp_basicsize = sizeof(MatcherObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "Matcher(resolve, fallback, max_sources): match(event) -> rules.",
    .tp_new = matcher_new,
    .tp_traverse = (traverseproc)matcher_traverse,
    .tp_clear = (inquiry)matcher_clear,
    .tp_dealloc = (destructor)matcher_dealloc,
    .tp_vectorcall_offset = offsetof(MatcherObject, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_methods = matcher_methods,
};

/* -- module ----------------------------------------------------------------------------- */

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "ringfence.monitor.sigma._native",
    "Sigma plans run in C (see csrc/sigma/_native.c).", -1, NULL, NULL, NULL, NULL, NULL,
};

#define INTERN(var, text)                              \
    do {                                               \
        var = PyUnicode_InternFromString(text);        \
        if (var == NULL) return NULL;                  \
    } while (0)

PyMODINIT_FUNC PyInit__native(void) {
    INTERN(s_product, "product");
    INTERN(s_service, "service");
    INTERN(s_ocsf, "ocsf");
    INTERN(s_raw, "raw");
    INTERN(s_lower, "lower");
    INTERN(s_strip, "strip");
    INTERN(s_true, "true");
    INTERN(s_false, "false");
    if (PyType_Ready(&PlanType) < 0 || PyType_Ready(&MatcherType) < 0) return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL) return NULL;
    Py_INCREF(&PlanType);
    Py_INCREF(&MatcherType);
    if (PyModule_AddObject(m, "Plan", (PyObject *)&PlanType) < 0 ||
        PyModule_AddObject(m, "Matcher", (PyObject *)&MatcherType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
