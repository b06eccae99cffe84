/*
 * ringfence.classify._native: the per-leaf bookkeeping of the classification engine in C.
 *
 * Small functions, each a drop-in for a piece of pure Python in _extract.py / _engine.py that
 * it must decide exactly like (tests/classify/test_native.py proves it on the corpora and on
 * generated input):
 *   json_leaves  - the JSON leaf walk (field paths, key words, text) of _leaves_recursive;
 *   join_leaves  - the scan buffer of _confirm_leaves (leaves joined by SEP, key names after);
 *   char_candidates - UTF-8 byte offsets of the prefilter to str offsets (_hits.byte_to_char),
 *                  sorted per prefilter id;
 *   mask_alnum / mask_from - the format-preserving masks of _mask.py (previews, redaction);
 *   new_objects   - findings built without a frozen dataclass's per-field __setattr__;
 *   matches_at / matches_back / context_matches / confirm - the per-candidate loop of
 *                   _matches_at, _context_matches, _confirm_one and _confidence (context,
 *                   overlap with a better span, validator, allow-list); the regular
 *                   expressions, validators and key-name checks stay the Python callables;
 *   luhn_ok, consistent_separators, payment_card, mod97, email - validators of _validators.py;
 *   phone (_phone.inc.c) - _validators.phone, plain international numbers decided from the
 *                   numbering-plan metadata as digit tables, everything else by the Python
 *                   validator it falls back to;
 *   canonical     - _mask.canonical (allow-list form) for ASCII values, used by confirm;
 *   hs_collect    - the prefilter's Hyperscan match handler (offsets per pattern id).
 * Only Python objects are handled (never raw pointers into caller memory), every length is
 * checked, and any failure propagates as a Python exception. Values are never logged or kept
 * beyond the call: the only cache holds normalised key names.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h> /* json_raw reads plain string bytes 16 at a time */
#endif

#define MAX_DEPTH 900     /* containers nested deeper: the caller falls back to the Python walk */
#define KEY_CACHE 8192    /* distinct key names remembered (like norm_key's lru_cache) */
#define KEY_CACHE_LEN 256 /* longer key names are not remembered: bounded memory per entry */

static PyObject *norm_cache;   /* raw key -> normalised words */
static PyObject *blob_cache;   /* key words -> "words wordswithoutspaces" */
static PyObject *words_cache;  /* last words -> {name -> "last name"} (see words_of) */
static Py_ssize_t words_cached;
static PyObject *empty_tuple;
static PyObject *key_ref; /* (-1,): Leaf.ref of a key's own leaf (_extract.KEY_REF) */
static PyObject *space;
static PyObject *str_span; /* "span", interned */

/* Offsets and indexes as Python ints, from a cache for 0 <= v < OFFSET_INTS: a page's leaf
 * starts, candidate offsets and hit spans are a few thousand small ints made and freed on
 * every scan (≈ 100 instructions each with the free); ints are immutable, so handing out the
 * same object changes nothing but its identity. Filled on first use, never freed (at most
 * OFFSET_INTS objects: 0.5 MiB); no value is kept, only numbers below 16384. */
#define OFFSET_INTS 16384
static PyObject *offset_ints[OFFSET_INTS];

static PyObject *offset_int(long long v) {
    if (v >= 0 && v < OFFSET_INTS) {
        PyObject *o = offset_ints[v];
        if (o == NULL) {
            o = PyLong_FromLongLong(v);
            if (o == NULL) return NULL;
            offset_ints[v] = o;
        }
        Py_INCREF(o);
        return o;
    }
    return PyLong_FromLongLong(v);
}

/* Arguments of the per-page calls (METH_FASTCALL: no argument tuple, no format string to
 * read on every call). Each check means what PyArg_ParseTuple's code for it means and raises
 * the same exception type: O! -> fc_type, U -> fc_str, n -> fc_ssize, L -> fc_ll, p -> fc_bool. */
static int fc_nargs(const char *fn, Py_ssize_t nargs, Py_ssize_t lo, Py_ssize_t hi) {
    if (nargs >= lo && nargs <= hi) return 1;
    if (lo == hi)
        PyErr_Format(PyExc_TypeError, "%s() takes exactly %zd arguments (%zd given)", fn, lo,
                     nargs);
    else
        PyErr_Format(PyExc_TypeError, "%s() takes from %zd to %zd arguments (%zd given)", fn, lo,
                     hi, nargs);
    return 0;
}

static int fc_type(const char *fn, Py_ssize_t i, PyObject *o, PyTypeObject *t) {
    if (PyObject_TypeCheck(o, t)) return 1;
    PyErr_Format(PyExc_TypeError, "%s() argument %zd must be %s, not %.50s", fn, i + 1,
                 t->tp_name, Py_TYPE(o)->tp_name);
    return 0;
}

static int fc_str(const char *fn, Py_ssize_t i, PyObject *o) {
    if (PyUnicode_Check(o)) return 1;
    PyErr_Format(PyExc_TypeError, "%s() argument %zd must be str, not %.50s", fn, i + 1,
                 Py_TYPE(o)->tp_name);
    return 0;
}

static int fc_ssize(PyObject *o, Py_ssize_t *out) {
    if (PyFloat_Check(o)) {
        PyErr_SetString(PyExc_TypeError, "integer argument expected, got float");
        return 0;
    }
    PyObject *ix = PyNumber_Index(o);
    if (ix == NULL) return 0;
    *out = PyLong_AsSsize_t(ix);
    Py_DECREF(ix);
    return !(*out == -1 && PyErr_Occurred());
}

static int fc_ll(PyObject *o, long long *out) {
    if (PyFloat_Check(o)) {
        PyErr_SetString(PyExc_TypeError, "integer argument expected, got float");
        return 0;
    }
    *out = PyLong_AsLongLong(o);
    return !(*out == -1 && PyErr_Occurred());
}

static int fc_bool(PyObject *o, int *out) {
    int v = PyObject_IsTrue(o);
    if (v < 0) return 0;
    *out = v;
    return 1;
}

/* fn(a, n) / fn(a, n1, n2) without a format string (the hot loops call these per match) */
static PyObject *call_on(PyObject *fn, PyObject *a, Py_ssize_t n) {
    PyObject *no = offset_int(n);
    if (no == NULL) return NULL;
    PyObject *args[2] = {a, no};
    PyObject *r = PyObject_Vectorcall(fn, args, 2, NULL);
    Py_DECREF(no);
    return r;
}

static PyObject *call_onn(PyObject *fn, PyObject *a, Py_ssize_t n1, Py_ssize_t n2) {
    PyObject *o1 = offset_int(n1), *o2 = o1 ? offset_int(n2) : NULL;
    if (o2 == NULL) {
        Py_XDECREF(o1);
        return NULL;
    }
    PyObject *args[3] = {a, o1, o2};
    PyObject *r = PyObject_Vectorcall(fn, args, 3, NULL);
    Py_DECREF(o1);
    Py_DECREF(o2);
    return r;
}

/* m.span(*group): group NULL for the whole match */
static PyObject *call_span(PyObject *m, PyObject *group) {
    PyObject *args[2] = {m, group};
    return PyObject_VectorcallMethod(str_span, args,
                                     (group ? 2 : 1) | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
}

typedef struct {
    PyObject *out;        /* list of Leaf */
    PyTypeObject *leaf;   /* the Leaf NamedTuple type */
    PyObject *norm_key;   /* callable: raw key -> words */
    PyObject *normalize;  /* callable: str -> NFKC str */
    int too_deep;
} Walk;

/* "a" + " " + "b" (both str). */
static PyObject *join2(PyObject *a, PyObject *b) {
    Py_ssize_t la = PyUnicode_GET_LENGTH(a), lb = PyUnicode_GET_LENGTH(b);
    Py_UCS4 ma = PyUnicode_MAX_CHAR_VALUE(a), mb = PyUnicode_MAX_CHAR_VALUE(b);
    PyObject *r = PyUnicode_New(la + 1 + lb, ma > mb ? ma : mb);
    if (r == NULL) return NULL;
    if (PyUnicode_CopyCharacters(r, 0, a, 0, la) < 0 ||
        PyUnicode_WriteChar(r, la, ' ') < 0 ||
        PyUnicode_CopyCharacters(r, la + 1, b, 0, lb) < 0) {
        Py_DECREF(r);
        return NULL;
    }
    return r;
}

static PyObject *norm(Walk *w, PyObject *k) {
    if (PyUnicode_CheckExact(k)) {
        PyObject *hit = PyDict_GetItemWithError(norm_cache, k);
        if (hit != NULL) {
            Py_INCREF(hit);
            return hit;
        }
        if (PyErr_Occurred()) return NULL;
    }
    PyObject *r = PyObject_CallOneArg(w->norm_key, k);
    if (r == NULL) return NULL;
    if (!PyUnicode_Check(r)) {
        Py_DECREF(r);
        PyErr_SetString(PyExc_TypeError, "norm_key must return str");
        return NULL;
    }
    if (PyUnicode_CheckExact(k) && PyUnicode_GET_LENGTH(k) <= KEY_CACHE_LEN) {
        if (PyDict_GET_SIZE(norm_cache) >= KEY_CACHE) PyDict_Clear(norm_cache);
        if (PyDict_SetItem(norm_cache, k, r) < 0) {
            Py_DECREF(r);
            return NULL;
        }
    }
    return r;
}

/* words of a child: "last name" or "name" when last is empty. The same pairs recur in every
 * record of a page: remembering them saves the string and, more, its hash, which every later
 * set / dict lookup by key words (join_leaves, key-hit caches) would compute again. Bounded
 * like the other key caches: pairs, and the length of what is kept. */
static PyObject *words_of(PyObject *last, PyObject *name) {
    if (PyUnicode_GET_LENGTH(last) == 0) {
        Py_INCREF(name);
        return name;
    }
    if (!PyUnicode_CheckExact(last) || !PyUnicode_CheckExact(name) ||
        PyUnicode_GET_LENGTH(last) + PyUnicode_GET_LENGTH(name) >= KEY_CACHE_LEN)
        return join2(last, name);
    PyObject *inner = PyDict_GetItemWithError(words_cache, last); /* borrowed */
    if (inner != NULL) {
        PyObject *hit = PyDict_GetItemWithError(inner, name);
        if (hit != NULL) {
            Py_INCREF(hit);
            return hit;
        }
    }
    if (PyErr_Occurred()) return NULL;
    PyObject *r = join2(last, name);
    if (r == NULL) return NULL;
    if (words_cached >= KEY_CACHE) {
        PyDict_Clear(words_cache);
        words_cached = 0;
        inner = NULL;
    }
    if (inner == NULL) {
        inner = PyDict_New();
        if (inner == NULL || PyDict_SetItem(words_cache, last, inner) < 0) {
            Py_XDECREF(inner);
            Py_DECREF(r);
            return NULL;
        }
        Py_DECREF(inner); /* words_cache holds it */
    }
    if (PyDict_SetItem(inner, name, r) < 0) {
        Py_DECREF(r);
        return NULL;
    }
    words_cached++;
    return r;
}

/* CPython's own rule for untracking a tuple (_PyTuple_MaybeUntrack): every item is either
 * not a GC object at all (str, int, float, ...) or an exact tuple that is already untracked;
 * such a tuple can never be part of a reference cycle. The collector applies the rule itself,
 * but only when it next runs over the tuple -- a 1 MiB document has ~60 000 path and leaf
 * tuples alive at once, and every collection meanwhile would walk them all. */
static int atomic(PyObject *x) {
    return !PyObject_IS_GC(x) || (PyTuple_CheckExact(x) && !PyObject_GC_IsTracked(x));
}

/* (*path, k) */
static PyObject *extend(PyObject *path, PyObject *k) {
    Py_ssize_t n = PyTuple_GET_SIZE(path);
    PyObject *t = PyTuple_New(n + 1);
    if (t == NULL) return NULL;
    int untrack = atomic(k);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *x = PyTuple_GET_ITEM(path, i);
        Py_INCREF(x);
        PyTuple_SET_ITEM(t, i, x);
        if (untrack && !atomic(x)) untrack = 0;
    }
    Py_INCREF(k);
    PyTuple_SET_ITEM(t, n, k);
    if (untrack && PyObject_GC_IsTracked(t)) PyObject_GC_UnTrack(t);
    return t;
}

/* Leaf(path, words, text, ()) -- steals path and words and text */
static int emit(Walk *w, PyObject *path, PyObject *words, PyObject *text) {
    if (path == NULL || words == NULL || text == NULL) goto fail;
    PyObject *leaf = w->leaf->tp_alloc(w->leaf, 4);
    if (leaf == NULL) goto fail;
    PyTuple_SET_ITEM(leaf, 0, path);
    PyTuple_SET_ITEM(leaf, 1, words);
    PyTuple_SET_ITEM(leaf, 2, text);
    Py_INCREF(empty_tuple);
    PyTuple_SET_ITEM(leaf, 3, empty_tuple);
    /* A Leaf (a tuple subclass without __dict__) cannot gain references later either. */
    if (atomic(path) && atomic(words) && atomic(text) && PyObject_GC_IsTracked(leaf))
        PyObject_GC_UnTrack(leaf);
    int rc = PyList_Append(w->out, leaf);
    Py_DECREF(leaf);
    return rc;
fail:
    Py_XDECREF(path);
    Py_XDECREF(words);
    Py_XDECREF(text);
    return -1;
}

/* child.isascii() ? child : normalize(child) -- new reference */
static PyObject *leaf_text(Walk *w, PyObject *s) {
    if (PyUnicode_IS_ASCII(s)) {
        Py_INCREF(s);
        return s;
    }
    return PyObject_CallOneArg(w->normalize, s);
}

static int walk(Walk *w, PyObject *node, PyObject *path, PyObject *last, PyObject *words,
                int depth);

/* One child of a container: str / int leaf, or a nested dict / list. ``key`` is the dict key
 * (NULL for a list item, whose path part is ``index``). */
static int child(Walk *w, PyObject *c, PyObject *path, PyObject *part, PyObject *key,
                 PyObject *last, PyObject *words, int depth) {
    if (PyUnicode_CheckExact(c)) {
        if (PyUnicode_GET_LENGTH(c) == 0) return 0;
        PyObject *kw;
        if (key != NULL) {
            PyObject *name = norm(w, key);
            if (name == NULL) return -1;
            kw = words_of(last, name);
            Py_DECREF(name);
            if (kw == NULL) return -1;
        } else {
            Py_INCREF(words);
            kw = words;
        }
        PyObject *text = leaf_text(w, c);
        if (text == NULL) {
            Py_DECREF(kw);
            return -1;
        }
        return emit(w, extend(path, part), kw, text);
    }
    if (PyDict_CheckExact(c) || PyList_CheckExact(c)) {
        PyObject *p = extend(path, part);
        if (p == NULL) return -1;
        int rc;
        if (key != NULL) {
            PyObject *name = norm(w, key);
            if (name == NULL) {
                Py_DECREF(p);
                return -1;
            }
            PyObject *kw = words_of(last, name);
            if (kw == NULL) {
                Py_DECREF(name);
                Py_DECREF(p);
                return -1;
            }
            rc = walk(w, c, p, name, kw, depth + 1);
            Py_DECREF(name);
            Py_DECREF(kw);
        } else {
            rc = walk(w, c, p, last, words, depth + 1);
        }
        Py_DECREF(p);
        return rc;
    }
    if (PyLong_CheckExact(c)) {
        PyObject *kw;
        if (key != NULL) {
            PyObject *name = norm(w, key);
            if (name == NULL) return -1;
            kw = words_of(last, name);
            Py_DECREF(name);
            if (kw == NULL) return -1;
        } else {
            Py_INCREF(words);
            kw = words;
        }
        PyObject *text = PyObject_Str(c);
        if (text == NULL) {
            Py_DECREF(kw);
            return -1;
        }
        return emit(w, extend(path, part), kw, text);
    }
    if (PyDict_Check(c) || PyList_Check(c)) {
        /* a subclass (the reader's DupDict: a key given twice): the Python walk reads it */
        w->too_deep = 1;
        return -1;
    }
    return 0; /* None, bool, float, other types: no leaf */
}

static int walk(Walk *w, PyObject *node, PyObject *path, PyObject *last, PyObject *words,
                int depth) {
    if (depth >= MAX_DEPTH) {
        w->too_deep = 1;
        return -1;
    }
    if (PyDict_CheckExact(node)) {
        /* Iterate a snapshot of the items: callbacks (norm_key, normalize) cannot then
         * invalidate the iteration even if they touched the dict. */
        PyObject *items = PyDict_Items(node);
        if (items == NULL) return -1;
        Py_ssize_t n = PyList_GET_SIZE(items);
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *kv = PyList_GET_ITEM(items, i);
            PyObject *k = PyTuple_GET_ITEM(kv, 0), *c = PyTuple_GET_ITEM(kv, 1);
            if (child(w, c, path, k, k, last, words, depth) < 0) {
                Py_DECREF(items);
                return -1;
            }
        }
        Py_DECREF(items);
        return 0;
    }
    /* a list: hold a reference to each item while it is walked */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(node); i++) {
        PyObject *c = PyList_GET_ITEM(node, i);
        Py_INCREF(c);
        PyObject *idx = offset_int(i);
        if (idx == NULL) {
            Py_DECREF(c);
            return -1;
        }
        int rc = child(w, c, path, idx, NULL, last, words, depth);
        Py_DECREF(idx);
        Py_DECREF(c);
        if (rc < 0) return -1;
    }
    return 0;
}

static PyObject *py_json_leaves(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *obj, *prefix, *leaf, *norm_key, *normalize;
    if (!PyArg_ParseTuple(args, "OO!O!OO:json_leaves", &obj, &PyTuple_Type, &prefix,
                          &PyType_Type, &leaf, &norm_key, &normalize))
        return NULL;
    if (!PyType_IsSubtype((PyTypeObject *)leaf, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "leaf type must be a tuple subclass");
        return NULL;
    }
    Walk w = {PyList_New(0), (PyTypeObject *)leaf, norm_key, normalize, 0};
    if (w.out == NULL) return NULL;
    int rc = 0;
    if ((PyDict_Check(obj) && !PyDict_CheckExact(obj)) ||
        (PyList_Check(obj) && !PyList_CheckExact(obj))) {
        Py_DECREF(w.out);
        Py_RETURN_NONE; /* a subclass (DupDict): the Python walk */
    }
    if (PyDict_CheckExact(obj) || PyList_CheckExact(obj)) {
        PyObject *e = PyUnicode_New(0, 0);
        if (e == NULL) {
            Py_DECREF(w.out);
            return NULL;
        }
        rc = walk(&w, obj, prefix, e, e, 0);
        Py_DECREF(e);
    } else if (PyUnicode_CheckExact(obj) && PyUnicode_GET_LENGTH(obj) > 0) {
        PyObject *text = PyObject_CallOneArg(normalize, obj);
        PyObject *kw = PyUnicode_New(0, 0);
        Py_INCREF(prefix);
        rc = emit(&w, prefix, kw, text);
    } else if (PyLong_CheckExact(obj)) {
        PyObject *text = PyObject_Str(obj);
        PyObject *kw = PyUnicode_New(0, 0);
        Py_INCREF(prefix);
        rc = emit(&w, prefix, kw, text);
    }
    if (rc < 0) {
        Py_DECREF(w.out);
        if (w.too_deep && !PyErr_Occurred()) Py_RETURN_NONE;
        return NULL;
    }
    return w.out;
}

/* "key keywithoutspaces" for the key blob (new reference), cached per key */
static PyObject *key_blob(PyObject *key) {
    PyObject *hit = PyUnicode_CheckExact(key) ? PyDict_GetItemWithError(blob_cache, key) : NULL;
    if (hit != NULL) {
        Py_INCREF(hit);
        return hit;
    }
    if (PyErr_Occurred()) return NULL;
    PyObject *empty = PyUnicode_New(0, 0);
    if (empty == NULL) return NULL;
    PyObject *nospace = PyUnicode_Replace(key, space, empty, -1);
    Py_DECREF(empty);
    if (nospace == NULL) return NULL;
    PyObject *plain = PyUnicode_CheckExact(key) ? (Py_INCREF(key), key) : PyObject_Str(key);
    if (plain == NULL) {
        Py_DECREF(nospace);
        return NULL;
    }
    PyObject *r = join2(plain, nospace);
    Py_DECREF(plain);
    Py_DECREF(nospace);
    if (r != NULL && PyUnicode_CheckExact(key) && PyUnicode_GET_LENGTH(key) <= KEY_CACHE_LEN) {
        if (PyDict_GET_SIZE(blob_cache) >= KEY_CACHE) PyDict_Clear(blob_cache);
        if (PyDict_SetItem(blob_cache, key, r) < 0) Py_CLEAR(r);
    }
    return r;
}

/* The scan buffer's tail: text + sep + " | ".join(key_blob(k) for k in keys); returns its
 * UTF-8 bytes and sets *scanned_out to the str (both new references), NULL on error. */
static PyObject *finish_scanned(PyObject *text, PyObject *keys, PyObject *sep,
                                PyObject **scanned_out) {
    PyObject *blobs = NULL, *blob = NULL, *scanned = NULL, *bytes = NULL, *bar = NULL,
             *parts = NULL;
    *scanned_out = NULL;
    blobs = PyList_New(0);
    if (blobs == NULL) goto done;
    {
        PyObject *it = PyObject_GetIter(keys), *k;
        if (it == NULL) goto done;
        while ((k = PyIter_Next(it)) != NULL) {
            PyObject *b = key_blob(k);
            Py_DECREF(k);
            if (b == NULL || PyList_Append(blobs, b) < 0) {
                Py_XDECREF(b);
                Py_DECREF(it);
                goto done;
            }
            Py_DECREF(b);
        }
        Py_DECREF(it);
        if (PyErr_Occurred()) goto done;
    }
    bar = PyUnicode_FromString(" | ");
    if (bar == NULL) goto done;
    blob = PyUnicode_Join(bar, blobs);
    if (blob == NULL) goto done;
    parts = PyList_New(3);
    if (parts == NULL) goto done;
    Py_INCREF(text);
    PyList_SET_ITEM(parts, 0, text);
    Py_INCREF(sep);
    PyList_SET_ITEM(parts, 1, sep);
    Py_INCREF(blob);
    PyList_SET_ITEM(parts, 2, blob);
    {
        PyObject *empty = PyUnicode_New(0, 0);
        if (empty == NULL) goto done;
        scanned = PyUnicode_Join(empty, parts);
        Py_DECREF(empty);
    }
    if (scanned == NULL) goto done;
    bytes = PyUnicode_AsEncodedString(scanned, "utf-8", "surrogatepass");
    if (bytes != NULL) {
        *scanned_out = scanned;
        scanned = NULL;
    }
done:
    Py_XDECREF(blobs);
    Py_XDECREF(bar);
    Py_XDECREF(blob);
    Py_XDECREF(parts);
    Py_XDECREF(scanned);
    return bytes;
}

/* join_leaves(leaves, sep) -> (text, starts, scanned_bytes, scanned)
 * text = sep.join(leaf.text); starts = offset of each leaf in text;
 * scanned = text + sep + " | ".join(f"{k} {k.replace(' ', '')}" for k in {leaf.key ...});
 * scanned_bytes = scanned.encode("utf-8", "surrogatepass"). The key set is built like the
 * Python set comprehension (same insertion order), so it iterates in the same order. */
static PyObject *py_join_leaves(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *leaves, *sep;
    if (!PyArg_ParseTuple(args, "O!U:join_leaves", &PyList_Type, &leaves, &sep)) return NULL;
    /* A snapshot: callbacks (a str subclass's __hash__) cannot free a leaf under us. */
    PyObject *snap = PyList_AsTuple(leaves);
    if (snap == NULL) return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(snap), seplen = PyUnicode_GET_LENGTH(sep);
    PyObject *texts = PyList_New(n), *starts = PyList_New(n), *keys = PySet_New(NULL);
    PyObject *text = NULL, *scanned = NULL, *bytes = NULL, *res = NULL;
    if (texts == NULL || starts == NULL || keys == NULL) goto done;
    Py_ssize_t pos = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *leaf = PyTuple_GET_ITEM(snap, i);
        if (!PyTuple_Check(leaf) || PyTuple_GET_SIZE(leaf) < 3 ||
            !PyUnicode_Check(PyTuple_GET_ITEM(leaf, 1)) ||
            !PyUnicode_Check(PyTuple_GET_ITEM(leaf, 2))) {
            PyErr_SetString(PyExc_TypeError, "join_leaves needs Leaf tuples");
            goto done;
        }
        PyObject *key = PyTuple_GET_ITEM(leaf, 1), *t = PyTuple_GET_ITEM(leaf, 2);
        Py_INCREF(t);
        PyList_SET_ITEM(texts, i, t);
        PyObject *p = offset_int(pos);
        if (p == NULL) goto done;
        PyList_SET_ITEM(starts, i, p);
        pos += PyUnicode_GET_LENGTH(t) + seplen;
        if (PyUnicode_GET_LENGTH(key) > 0 && PySet_Add(keys, key) < 0) goto done;
    }
    text = PyUnicode_Join(sep, texts);
    if (text == NULL) goto done;
    bytes = finish_scanned(text, keys, sep, &scanned);
    if (bytes == NULL) goto done;
    res = PyTuple_Pack(4, text, starts, bytes, scanned);
done:
    Py_DECREF(snap);
    Py_XDECREF(texts);
    Py_XDECREF(starts);
    Py_XDECREF(keys);
    Py_XDECREF(text);
    Py_XDECREF(scanned);
    Py_XDECREF(bytes);
    return res;
}

#include "_rawjson.inc.c"

/* str.isalnum() of one character: ASCII letters and digits without the Unicode database */
static inline int is_alnum(Py_UCS4 c) {
    if (c < 128) return (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z');
    return Py_UNICODE_ISALNUM(c);
}

/* The masked form of ``s``: characters at ``[lo, len)`` that are alphanumeric (str.isalnum)
 * become '*', except the first ``keep_head`` and the last ``keep_tail`` alphanumerics of that
 * range (see _mask._mask_alnum, whose rules ``py_mask_alnum`` applies before calling this). */
static PyObject *star(PyObject *s, Py_ssize_t lo, Py_ssize_t keep_head, Py_ssize_t keep_tail) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    Py_ssize_t total = 0;
    for (Py_ssize_t i = lo; i < n; i++)
        if (is_alnum(PyUnicode_READ(kind, data, i))) total++;
    Py_ssize_t first = keep_head, last = total - keep_tail; /* alnum ordinals hidden: [first, last) */
    if (PyUnicode_IS_ASCII(s)) { /* ASCII stays ASCII ('*' for some): no wide buffer */
        PyObject *r = PyUnicode_New(n, 127);
        if (r == NULL) return NULL;
        const Py_UCS1 *in = PyUnicode_1BYTE_DATA(s);
        Py_UCS1 *o = PyUnicode_1BYTE_DATA(r);
        Py_ssize_t k = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_UCS1 c = in[i];
            if (i >= lo && is_alnum(c)) {
                if (k >= first && k < last) c = '*';
                k++;
            }
            o[i] = c;
        }
        return r;
    }
    Py_UCS4 *buf = PyMem_New(Py_UCS4, n > 0 ? n : 1);
    if (buf == NULL) return PyErr_NoMemory();
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (i >= lo && is_alnum(c)) {
            if (k >= first && k < last) c = '*';
            k++;
        }
        buf[i] = c;
    }
    PyObject *r = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, buf, n);
    PyMem_Free(buf);
    return r;
}

static PyObject *alnum_masked(PyObject *s, Py_ssize_t keep_tail, Py_ssize_t keep_head);

/* mask_alnum(value, keep_tail, keep_head) == _mask._mask_alnum(value, keep_tail, keep_head) */
static PyObject *py_mask_alnum(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *s;
    Py_ssize_t keep_tail, keep_head;
    if (!PyArg_ParseTuple(args, "Unn:mask_alnum", &s, &keep_tail, &keep_head)) return NULL;
    if (keep_tail < 0 || keep_head < 0) {
        PyErr_SetString(PyExc_ValueError, "keep_tail and keep_head must be >= 0");
        return NULL;
    }
    return alnum_masked(s, keep_tail, keep_head);
}

static PyObject *alnum_masked(PyObject *s, Py_ssize_t keep_tail, Py_ssize_t keep_head) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(s), total = 0;
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    for (Py_ssize_t i = 0; i < n; i++)
        if (is_alnum(PyUnicode_READ(kind, data, i))) total++;
    /* total - keep_tail < keep_tail is total < 2 * keep_tail without the signed overflow */
    if (keep_tail && total - keep_tail < keep_tail) keep_tail = 0; /* too short for a tail */
    if (keep_head >= total) keep_head = 0;
    return star(s, 0, keep_head, keep_tail);
}

/* mask_from(value, keep) == value[:keep] + "".join("*" if c.isalnum() else c for c in
 * value[keep:]) for 0 <= keep (the "prefix" mask style) */
static PyObject *py_mask_from(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *s;
    Py_ssize_t keep;
    if (!PyArg_ParseTuple(args, "Un:mask_from", &s, &keep)) return NULL;
    if (keep < 0) {
        PyErr_SetString(PyExc_ValueError, "keep must be >= 0");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    return star(s, keep < n ? keep : n, 0, 0);
}

/* preview(style, keep_prefix, limit, value) == _mask.preview(detector, value) for a detector
 * with that mask style and keep_prefix >= 0, PREVIEW_MAX = limit >= 1: the mask ("last4":
 * letters and digits starred but the last four; "email": the local part starred but its
 * first character when longer than two; "prefix" with keep_prefix: the first
 * min(keep_prefix, len // 2) characters kept; else every letter and digit starred), cut to
 * ``limit`` characters with an ellipsis (at the front for "last4"). */
static PyObject *preview_of(PyObject *style, Py_ssize_t keep_prefix, Py_ssize_t limit,
                            PyObject *s);

static PyObject *py_preview(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *style, *s;
    Py_ssize_t keep_prefix, limit;
    if (!PyArg_ParseTuple(args, "UnnU:preview", &style, &keep_prefix, &limit, &s)) return NULL;
    if (keep_prefix < 0 || limit < 1) {
        PyErr_SetString(PyExc_ValueError, "preview: keep_prefix >= 0 and limit >= 1");
        return NULL;
    }
    return preview_of(style, keep_prefix, limit, s);
}

/* py_preview's work (style a str, keep_prefix >= 0, limit >= 1, s a str) */
static PyObject *preview_of(PyObject *style, Py_ssize_t keep_prefix, Py_ssize_t limit,
                            PyObject *s) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    int last4 = PyUnicode_CompareWithASCIIString(style, "last4") == 0;
    PyObject *masked = NULL;
    if (last4) {
        masked = alnum_masked(s, 4, 0);
    } else if (PyUnicode_CompareWithASCIIString(style, "email") == 0) {
        Py_ssize_t at = n > 0 ? PyUnicode_FindChar(s, '@', 0, n, -1) : -1;
        if (at == -2) return NULL;
        if (at < 0) {
            masked = alnum_masked(s, 0, 0);
        } else { /* head + "*" * (len(local) - len(head)) + "@" + domain: same length */
            Py_ssize_t head = at > 2 ? 1 : 0;
            if (PyUnicode_IS_ASCII(s)) {
                masked = PyUnicode_New(n, 127);
                if (masked == NULL) return NULL;
                Py_UCS1 *o = PyUnicode_1BYTE_DATA(masked);
                memcpy(o, PyUnicode_1BYTE_DATA(s), (size_t)n);
                for (Py_ssize_t i = head; i < at; i++) o[i] = '*';
                goto cut;
            }
            int kind = PyUnicode_KIND(s);
            const void *data = PyUnicode_DATA(s);
            Py_UCS4 *buf = PyMem_New(Py_UCS4, n);
            if (buf == NULL) return PyErr_NoMemory();
            for (Py_ssize_t i = 0; i < n; i++)
                buf[i] = (i >= head && i < at) ? (Py_UCS4)'*' : PyUnicode_READ(kind, data, i);
            masked = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, buf, n);
            PyMem_Free(buf);
        }
    } else if (PyUnicode_CompareWithASCIIString(style, "prefix") == 0 && keep_prefix > 0) {
        Py_ssize_t keep = keep_prefix < n / 2 ? keep_prefix : n / 2;
        masked = star(s, keep, 0, 0);
    } else {
        masked = alnum_masked(s, 0, 0);
    }
cut:
    if (masked == NULL) return NULL;
    Py_ssize_t m = PyUnicode_GET_LENGTH(masked);
    if (m <= limit) return masked;
    PyObject *dots = PyUnicode_FromOrdinal(0x2026); /* "…" */
    PyObject *part = dots ? (last4 ? PyUnicode_Substring(masked, m - (limit - 1), m)
                                   : PyUnicode_Substring(masked, 0, limit - 1))
                          : NULL;
    PyObject *r = part ? (last4 ? PyUnicode_Concat(dots, part) : PyUnicode_Concat(part, dots))
                       : NULL;
    Py_XDECREF(part);
    Py_XDECREF(dots);
    Py_DECREF(masked);
    return r;
}

/* new_objects(cls, names, rows) -> [obj, ...]: for each row, an instance of ``cls`` (a class
 * with __slots__ and no __init__ side effects, e.g. a frozen slots dataclass) whose slots
 * ``names`` hold the row's values -- what ``cls(**dict(zip(names, row)))`` builds, without the
 * per-field object.__setattr__ of a frozen dataclass's __init__. Every name must be a slot
 * (member descriptor) of ``cls``; the descriptor checks types as usual. ``untrack`` (optional,
 * false): the caller vouches that no row can make a reference cycle (a frozen class whose
 * values never refer back to its instances: Finding), so the objects are left out of the
 * cyclic GC -- a 1 MiB body's thousands of findings would otherwise be walked by every
 * collection until promoted, then by the full ones. */
/* Instances are made with tp_alloc and filled through slots, skipping __new__/__init__: only
 * safe for a Python class whose __new__ is object's (a zeroed instance of a built-in type,
 * e.g. a function, would crash when used). */
static int plain_class(PyTypeObject *type, const char *who) {
    if (!(type->tp_flags & Py_TPFLAGS_HEAPTYPE) || type->tp_new != PyBaseObject_Type.tp_new) {
        PyErr_Format(PyExc_TypeError, "%s: the class must be a plain Python class", who);
        return 0;
    }
    return 1;
}

static PyObject *py_new_objects(PyObject *Py_UNUSED(self), PyObject *const *args,
                                Py_ssize_t nargs) {
    static const char fn[] = "new_objects";
    int untrack = 0;
    if (!fc_nargs(fn, nargs, 3, 4) || !fc_type(fn, 0, args[0], &PyType_Type) ||
        !fc_type(fn, 1, args[1], &PyTuple_Type) || !fc_type(fn, 2, args[2], &PyList_Type) ||
        (nargs > 3 && !fc_bool(args[3], &untrack)))
        return NULL;
    PyObject *cls = args[0], *names = args[1], *rows = args[2];
    PyTypeObject *type = (PyTypeObject *)cls;
    if (!plain_class(type, "new_objects")) return NULL;
    Py_ssize_t nf = PyTuple_GET_SIZE(names);
    PyObject *out = NULL, *descrs = PyTuple_New(nf);
    if (descrs == NULL) return NULL;
    for (Py_ssize_t j = 0; j < nf; j++) {
        PyObject *d = PyObject_GetAttr(cls, PyTuple_GET_ITEM(names, j));
        if (d == NULL) goto done;
        PyTuple_SET_ITEM(descrs, j, d);
        if (!Py_IS_TYPE(d, &PyMemberDescr_Type) || Py_TYPE(d)->tp_descr_set == NULL) {
            PyErr_SetString(PyExc_TypeError, "new_objects: every name must be a slot");
            goto done;
        }
    }
    Py_ssize_t n = PyList_GET_SIZE(rows);
    out = PyList_New(n);
    if (out == NULL) goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *row = PyList_GET_ITEM(rows, i);
        if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) != nf) {
            PyErr_SetString(PyExc_TypeError, "new_objects: each row is a tuple, one per name");
            Py_CLEAR(out);
            goto done;
        }
        PyObject *obj = type->tp_alloc(type, 0);
        if (obj == NULL) {
            Py_CLEAR(out);
            goto done;
        }
        PyList_SET_ITEM(out, i, obj);
        for (Py_ssize_t j = 0; j < nf; j++) {
            PyObject *d = PyTuple_GET_ITEM(descrs, j);
            if (Py_TYPE(d)->tp_descr_set(d, obj, PyTuple_GET_ITEM(row, j)) < 0) {
                Py_CLEAR(out);
                goto done;
            }
        }
        if (untrack && PyObject_GC_IsTracked(obj)) PyObject_GC_UnTrack(obj);
    }
done:
    Py_DECREF(descrs);
    return out;
}

/* finding_rows(hits, leaves, step, min_conf, top, limit, paths, format_path, preview) ->
 * (rows, top, types): the loop of Classifier.result -- for each hit h (a Hit: leaf, start, end,
 * confidence, det) of leaves[h.leaf], the row (det.id, det.data_class, path text,
 * h.start + shift, h.end + shift, h.confidence, preview, leaf.path) with shift = h.leaf * step,
 * the path text from ``paths`` (format_path's memo) or format_path(path), the preview by the
 * native mask when det.keep_prefix >= 0, else preview(det, value); ``top`` raised to every
 * det.data_class greater than it whose hit's confidence is at least min_conf; ``types`` the
 * frozenset of those hits' det.id. */
static PyObject *str_leaf, *str_start, *str_end, *str_confidence, *str_det, *str_id,
    *str_data_class, *str_mask, *str_keep_prefix;

/* obj.name for an instance of a plain slots class (Hit, Detector): the member descriptor
 * read directly (what generic attribute lookup does for a slot, without the MRO walk and
 * instance-dict probes); anything else takes PyObject_GetAttr. New reference. */
static PyObject *slot_get(PyObject *obj, PyObject *name) {
    PyTypeObject *t = Py_TYPE(obj);
    if (t->tp_getattro == PyObject_GenericGetAttr && t->tp_dictoffset == 0) {
        PyObject *d = _PyType_Lookup(t, name); /* borrowed */
        if (d != NULL && Py_IS_TYPE(d, &PyMemberDescr_Type))
            return PyMember_GetOne((const char *)obj, ((PyMemberDescrObject *)d)->d_member);
    }
    return PyObject_GetAttr(obj, name);
}

static PyObject *finding_row(PyObject *h, PyObject *leaves, long long step, Py_ssize_t limit,
                             PyObject *paths, PyObject *format_path, PyObject *preview,
                             PyObject **conf_out, PyObject **dc_out) {
    PyObject *row = NULL, *det = NULL, *lio = NULL, *so = NULL, *eo = NULL, *conf = NULL;
    PyObject *id = NULL, *dc = NULL, *ptext = NULL, *value = NULL, *pv = NULL, *mask = NULL;
    PyObject *kp = NULL, *s2 = NULL, *e2 = NULL;
    lio = slot_get(h, str_leaf);
    so = lio ? slot_get(h, str_start) : NULL;
    eo = so ? slot_get(h, str_end) : NULL;
    conf = eo ? slot_get(h, str_confidence) : NULL;
    det = conf ? slot_get(h, str_det) : NULL;
    if (det == NULL) goto done;
    Py_ssize_t li = PyLong_AsSsize_t(lio);
    long long s = PyLong_AsLongLong(so), e = PyLong_AsLongLong(eo);
    if (PyErr_Occurred()) goto done;
    Py_ssize_t nl = leaves_len(leaves);
    if (li < 0) li += nl; /* leaves[-1], as Python indexes */
    if (li < 0 || li >= nl) {
        PyErr_SetString(PyExc_IndexError, "finding_rows: leaf index out of range");
        goto done;
    }
    PyObject *leaf = leaves_get(leaves, li); /* borrowed */
    if (leaf == NULL) goto done;
    if (!PyTuple_Check(leaf) || PyTuple_GET_SIZE(leaf) < 3 ||
        !PyUnicode_Check(PyTuple_GET_ITEM(leaf, 2))) {
        PyErr_SetString(PyExc_TypeError, "finding_rows: leaves must be Leaf tuples");
        goto done;
    }
    PyObject *path = PyTuple_GET_ITEM(leaf, 0), *text = PyTuple_GET_ITEM(leaf, 2);
    long long shift;
    if (__builtin_mul_overflow((long long)li, step, &shift) ||
        __builtin_add_overflow(s, shift, &s) || __builtin_add_overflow(e, shift, &e)) {
        PyErr_SetString(PyExc_OverflowError, "finding_rows: offset overflow");
        goto done;
    }
    s2 = offset_int(s);
    e2 = s2 ? offset_int(e) : NULL;
    id = e2 ? slot_get(det, str_id) : NULL;
    dc = id ? slot_get(det, str_data_class) : NULL;
    if (dc == NULL) goto done;
    ptext = PyDict_GetItemWithError(paths, path); /* borrowed */
    if (ptext != NULL) Py_INCREF(ptext);
    else if (!PyErr_Occurred()) ptext = PyObject_CallOneArg(format_path, path);
    if (ptext == NULL) goto done;
    /* leaf.text[h.start:h.end] (the unshifted offsets; Python's clamping) */
    long long a = PyLong_AsLongLong(so), b = PyLong_AsLongLong(eo);
    if (a >= 0 && b >= 0) {
        Py_ssize_t tl = PyUnicode_GET_LENGTH(text);
        value = PyUnicode_Substring(text, a < tl ? (Py_ssize_t)a : tl, b < tl ? (Py_ssize_t)b : tl);
    } else {
        value = PySequence_GetSlice(text, (Py_ssize_t)a, (Py_ssize_t)b);
    }
    if (value == NULL) goto done;
    kp = slot_get(det, str_keep_prefix);
    if (kp == NULL) goto done;
    Py_ssize_t keep = PyLong_AsSsize_t(kp);
    if (keep == -1 && PyErr_Occurred()) goto done;
    if (keep >= 0) {
        mask = slot_get(det, str_mask);
        if (mask == NULL) goto done;
        if (!PyUnicode_Check(mask)) {
            PyErr_SetString(PyExc_TypeError, "finding_rows: a detector's mask is a str");
            goto done;
        }
        pv = preview_of(mask, keep, limit, value);
    } else {
        PyObject *pargs[2] = {det, value};
        pv = PyObject_Vectorcall(preview, pargs, 2, NULL);
    }
    if (pv == NULL) goto done;
    row = PyTuple_Pack(8, id, dc, ptext, s2, e2, conf, pv, path);
    /* strs, numbers, an untracked path and the detector's class (which predates the row and
     * is never handed one): no cycle, so the GC need not walk the rows of a 1 MiB body */
    if (row != NULL && atomic(id) && atomic(ptext) && atomic(pv) && atomic(path))
        PyObject_GC_UnTrack(row);
    if (row != NULL) {
        *conf_out = conf;
        *dc_out = dc;
        conf = dc = NULL; /* handed to the caller */
    }
done:
    Py_XDECREF(lio);
    Py_XDECREF(so);
    Py_XDECREF(eo);
    Py_XDECREF(conf);
    Py_XDECREF(det);
    Py_XDECREF(s2);
    Py_XDECREF(e2);
    Py_XDECREF(id);
    Py_XDECREF(dc);
    Py_XDECREF(ptext);
    Py_XDECREF(value);
    Py_XDECREF(kp);
    Py_XDECREF(mask);
    Py_XDECREF(pv);
    return row;
}

static PyObject *py_finding_rows(PyObject *Py_UNUSED(self), PyObject *const *args,
                                 Py_ssize_t nargs) {
    static const char fn[] = "finding_rows";
    long long step;
    Py_ssize_t limit;
    if (!fc_nargs(fn, nargs, 9, 9) || !fc_type(fn, 0, args[0], &PyList_Type) ||
        !fc_ll(args[2], &step) || !fc_ssize(args[5], &limit) ||
        !fc_type(fn, 6, args[6], &PyDict_Type))
        return NULL;
    PyObject *hits = args[0], *leaves = args[1], *min_conf = args[3], *top = args[4];
    PyObject *paths = args[6], *format_path = args[7], *preview = args[8];
    if (limit < 1) {
        PyErr_SetString(PyExc_ValueError, "finding_rows: limit >= 1");
        return NULL;
    }
    PyObject *hits_t = PyList_AsTuple(hits); /* callbacks cannot change what we walk */
    if (hits_t == NULL) return NULL;
    PyObject *leaves_t = leaves_snapshot(leaves);
    Py_ssize_t n = PyTuple_GET_SIZE(hits_t);
    PyObject *rows = leaves_t ? PyList_New(n) : NULL;
    PyObject *types = rows ? PySet_New(NULL) : NULL;
    Py_INCREF(top);
    if (types == NULL) goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *conf = NULL, *dc = NULL;
        PyObject *row = finding_row(PyTuple_GET_ITEM(hits_t, i), leaves_t, step, limit, paths,
                                    format_path, preview, &conf, &dc);
        if (row == NULL) goto fail;
        PyList_SET_ITEM(rows, i, row);
        int confident = PyObject_RichCompareBool(conf, min_conf, Py_GE);
        int higher = confident > 0 ? PyObject_RichCompareBool(dc, top, Py_GT) : 0;
        if (higher > 0) Py_SETREF(top, Py_NewRef(dc));
        if (confident > 0 && PySet_Add(types, PyTuple_GET_ITEM(row, 0)) < 0) higher = -1;
        Py_DECREF(conf);
        Py_DECREF(dc);
        if (confident < 0 || higher < 0) goto fail;
    }
    Py_DECREF(hits_t);
    Py_DECREF(leaves_t);
    PyObject *frozen = PyFrozenSet_New(types);
    PyObject *r = frozen ? PyTuple_Pack(3, rows, top, frozen) : NULL;
    Py_XDECREF(frozen);
    Py_DECREF(types);
    Py_DECREF(rows);
    Py_DECREF(top);
    return r;
fail:
    Py_DECREF(hits_t);
    Py_XDECREF(leaves_t);
    Py_XDECREF(rows);
    Py_XDECREF(types);
    Py_DECREF(top);
    return NULL;
}

/* ---- overlap resolution (_hits.resolve_overlaps) ------------------------------------------ */

typedef struct {
    long long leaf, start, end;
    double rank; /* confidence, less 0.5 for a generic_ rule (_hits._rank) */
    PyObject *hit; /* borrowed from the list */
} OHit;

/* (leaf, start, -rank) ascending: the key of resolve_overlaps' sort */
static int ohit_before(const OHit *a, const OHit *b) {
    if (a->leaf != b->leaf) return a->leaf < b->leaf;
    if (a->start != b->start) return a->start < b->start;
    return -a->rank < -b->rank;
}

/* stable merge sort of v[0:n] (tmp: room for n) -- list.sort is stable */
static void ohit_sort(OHit *v, OHit *tmp, Py_ssize_t n) {
    for (Py_ssize_t width = 1; width < n; width *= 2) {
        for (Py_ssize_t lo = 0; lo < n; lo += 2 * width) {
            Py_ssize_t mid = lo + width < n ? lo + width : n;
            Py_ssize_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            Py_ssize_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) tmp[k++] = ohit_before(&v[j], &v[i]) ? v[j++] : v[i++];
            while (i < mid) tmp[k++] = v[i++];
            while (j < hi) tmp[k++] = v[j++];
        }
        memcpy(v, tmp, (size_t)n * sizeof(OHit));
    }
}

static PyObject *str_generic_; /* "generic_" */

/* a Hit's fields as resolve_overlaps compares them; 0: not plain (exact ints that fit, a float
 * confidence that is not NaN, a str det.id) -- the caller then takes the Python function */
static int ohit_read(PyObject *h, OHit *o) {
    PyObject *lo = slot_get(h, str_leaf), *so = NULL, *eo = NULL, *co = NULL, *det = NULL,
             *id = NULL;
    int ok = 0;
    so = lo ? slot_get(h, str_start) : NULL;
    eo = so ? slot_get(h, str_end) : NULL;
    co = eo ? slot_get(h, str_confidence) : NULL;
    det = co ? slot_get(h, str_det) : NULL;
    id = det ? slot_get(det, str_id) : NULL;
    if (id == NULL || !PyLong_CheckExact(lo) || !PyLong_CheckExact(so) || !PyLong_CheckExact(eo) ||
        !PyFloat_CheckExact(co) || !PyUnicode_Check(id))
        goto done;
    int o1, o2, o3;
    o->leaf = PyLong_AsLongLongAndOverflow(lo, &o1);
    o->start = PyLong_AsLongLongAndOverflow(so, &o2);
    o->end = PyLong_AsLongLongAndOverflow(eo, &o3);
    if (o1 || o2 || o3 || PyErr_Occurred()) goto done;
    double conf = PyFloat_AS_DOUBLE(co);
    if (conf != conf) goto done; /* NaN: tuple comparison is not an order then */
    Py_ssize_t generic = PyUnicode_Tailmatch(id, str_generic_, 0, PY_SSIZE_T_MAX, -1);
    if (generic < 0) goto done;
    o->rank = conf - (generic ? 0.5 : 0.0);
    o->hit = h;
    ok = 1;
done:
    if (!ok) PyErr_Clear();
    Py_XDECREF(lo);
    Py_XDECREF(so);
    Py_XDECREF(eo);
    Py_XDECREF(co);
    Py_XDECREF(det);
    Py_XDECREF(id);
    return ok;
}

/* outside_uuids(hits, leaves, in_uuid) -> [hit, ...]: _engine._outside_uuids (the hits whose
 * value is not part of a UUID, in order) without a Python call for a hit whose value touches
 * neither a hex digit nor a dash on either side -- in_uuid's own first test, which answers
 * False then; every other hit (and any unusual one: offsets outside its leaf's text) is
 * decided by in_uuid(leaves[h.leaf].text, h.start, h.end) itself. */
static int hex_or_dash(Py_UCS4 c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
           c == '-';
}

static PyObject *py_outside_uuids(PyObject *Py_UNUSED(self), PyObject *const *args,
                                  Py_ssize_t nargs) {
    static const char fn[] = "outside_uuids";
    if (!fc_nargs(fn, nargs, 3, 3) || !fc_type(fn, 0, args[0], &PyList_Type)) return NULL;
    PyObject *leaves = args[1], *check = args[2];
    PyObject *snap = PyList_AsTuple(args[0]); /* the callback cannot change what we walk */
    if (snap == NULL) return NULL;
    PyObject *out = PyList_New(0);
    if (out == NULL) goto fail;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(snap); i++) {
        PyObject *h = PyTuple_GET_ITEM(snap, i);
        PyObject *lo = slot_get(h, str_leaf);
        PyObject *leaf = lo ? PyObject_GetItem(leaves, lo) : NULL;
        Py_XDECREF(lo);
        if (leaf == NULL) goto fail;
        PyObject *text = (PyTuple_Check(leaf) && PyTuple_GET_SIZE(leaf) >= 3)
                             ? Py_NewRef(PyTuple_GET_ITEM(leaf, 2))
                             : PyObject_GetAttrString(leaf, "text");
        Py_DECREF(leaf);
        PyObject *so = text ? slot_get(h, str_start) : NULL;
        PyObject *eo = so ? slot_get(h, str_end) : NULL;
        if (eo == NULL) {
            Py_XDECREF(text);
            Py_XDECREF(so);
            goto fail;
        }
        int near = 1; /* ask in_uuid unless sure it answers False */
        if (PyUnicode_CheckExact(text) && PyLong_CheckExact(so) && PyLong_CheckExact(eo)) {
            Py_ssize_t s = PyLong_AsSsize_t(so), e = PyLong_AsSsize_t(eo);
            Py_ssize_t n = PyUnicode_GET_LENGTH(text);
            if (s == -1 || e == -1) PyErr_Clear(); /* huge or -1: in_uuid decides */
            else if (s >= 0 && s <= n && e >= 0) {
                int kind = PyUnicode_KIND(text);
                const void *d = PyUnicode_DATA(text);
                near = (s > 0 && hex_or_dash(PyUnicode_READ(kind, d, s - 1))) ||
                       (e < n && hex_or_dash(PyUnicode_READ(kind, d, e)));
            }
        }
        int inside = 0;
        if (near) {
            PyObject *cargs[3] = {text, so, eo};
            PyObject *r = PyObject_Vectorcall(check, cargs, 3, NULL);
            inside = r == NULL ? -1 : PyObject_IsTrue(r);
            Py_XDECREF(r);
        }
        Py_DECREF(text);
        Py_DECREF(so);
        Py_DECREF(eo);
        if (inside < 0 || (!inside && PyList_Append(out, h) < 0)) goto fail;
    }
    Py_DECREF(snap);
    return out;
fail:
    Py_DECREF(snap);
    Py_XDECREF(out);
    return NULL;
}

/* resolve_overlaps(hits) -> kept, or None: _hits.resolve_overlaps without a Python frame per
 * hit -- ``hits`` sorted in place by (leaf, start, -rank) (stable, as list.sort), then of each
 * run of hits overlapping the last kept one in its leaf the first of the highest rank. None
 * (the list untouched) when a hit is not plain (see ohit_read): the Python function decides. */
static PyObject *py_resolve_overlaps(PyObject *Py_UNUSED(self), PyObject *hits) {
    if (!PyList_Check(hits)) {
        PyErr_SetString(PyExc_TypeError, "resolve_overlaps: hits must be a list");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(hits);
    if (n < 2) return Py_NewRef(hits);
    if ((size_t)n > PY_SSIZE_T_MAX / 2 / sizeof(OHit)) return PyErr_NoMemory();
    OHit *v = PyMem_Malloc((size_t)n * 2 * sizeof(OHit));
    if (v == NULL) return PyErr_NoMemory();
    PyObject *snapshot = PyList_AsTuple(hits); /* attribute reads cannot change what we sort */
    if (snapshot == NULL) {
        PyMem_Free(v);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!ohit_read(PyTuple_GET_ITEM(snapshot, i), &v[i])) {
            Py_DECREF(snapshot);
            PyMem_Free(v);
            Py_RETURN_NONE;
        }
    }
    if (PyList_GET_SIZE(hits) != n) { /* changed under us (cannot, for plain slots): decline */
        Py_DECREF(snapshot);
        PyMem_Free(v);
        Py_RETURN_NONE;
    }
    ohit_sort(v, v + n, n);
    /* the list in its sorted order: the same objects, so no reference changes hands */
    for (Py_ssize_t i = 0; i < n; i++) PyList_SET_ITEM(hits, i, v[i].hit);
    Py_DECREF(snapshot);
    Py_ssize_t nk = 0; /* kept hits, compacted into v[0:nk] */
    for (Py_ssize_t i = 0; i < n; i++) {
        if (nk > 0 && v[nk - 1].leaf == v[i].leaf && v[i].start < v[nk - 1].end) {
            if (v[i].rank > v[nk - 1].rank) v[nk - 1] = v[i];
            continue;
        }
        v[nk++] = v[i];
    }
    PyObject *kept = PyList_New(nk);
    if (kept != NULL)
        for (Py_ssize_t i = 0; i < nk; i++) PyList_SET_ITEM(kept, i, Py_NewRef(v[i].hit));
    PyMem_Free(v);
    return kept;
}

/* ---- candidate confirmation (_engine.Classifier._confirm_one / _confidence) ---------------- */

static int is_alnum_str(PyObject *s) { /* str.isalnum() */
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    if (n == 0) return 0;
    int kind = PyUnicode_KIND(s);
    const void *d = PyUnicode_DATA(s);
    for (Py_ssize_t i = 0; i < n; i++)
        if (!is_alnum(PyUnicode_READ(kind, d, i))) return 0;
    return 1;
}

static int is_digit_str(PyObject *s) { /* str.isdigit() */
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    if (n == 0) return 0;
    int kind = PyUnicode_KIND(s);
    const void *d = PyUnicode_DATA(s);
    for (Py_ssize_t i = 0; i < n; i++)
        if (!Py_UNICODE_ISDIGIT(PyUnicode_READ(kind, d, i))) return 0;
    return 1;
}

static Py_ssize_t count_alnum(PyObject *s) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(s), k = 0;
    int kind = PyUnicode_KIND(s);
    const void *d = PyUnicode_DATA(s);
    for (Py_ssize_t i = 0; i < n; i++)
        if (is_alnum(PyUnicode_READ(kind, d, i))) k++;
    return k;
}

static int is_numeric_str(PyObject *s) { /* _NUMERIC.fullmatch: [0-9 .\-/]+ */
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    if (n == 0) return 0;
    int kind = PyUnicode_KIND(s);
    const void *d = PyUnicode_DATA(s);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, d, i);
        if (!((c >= '0' && c <= '9') || c == ' ' || c == '.' || c == '-' || c == '/')) return 0;
    }
    return 1;
}

/* The Python list ``starts`` (ints, ascending): bisect_right(starts, x). -1 on error. */
static Py_ssize_t bisect_right_ll(PyObject *list, long long x) {
    Py_ssize_t lo = 0, hi = PyList_GET_SIZE(list);
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        long long v = PyLong_AsLongLong(PyList_GET_ITEM(list, mid));
        if (v == -1 && PyErr_Occurred()) return -1;
        if (x < v) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

/* bisect_right over a list of exact ints (anything else: TypeError, -1). Reading an exact
 * int runs no Python code, so the list cannot change while this searches; the caller checks
 * its length again after every callback. */
static Py_ssize_t bisect_right_ints(PyObject *list, long long x) {
    Py_ssize_t lo = 0, hi = PyList_GET_SIZE(list);
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        PyObject *o = PyList_GET_ITEM(list, mid);
        if (!PyLong_CheckExact(o)) {
            PyErr_SetString(PyExc_TypeError, "starts must hold ints");
            return -1;
        }
        long long v = PyLong_AsLongLong(o);
        if (v == -1 && PyErr_Occurred()) return -1;
        if (x < v) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

/* Detector spec: the per-detector constants of one confirmation (built once per Classifier). */
enum {
    SP_GROUP, SP_NEEDS_CTX, SP_BARE_CTX, SP_BASE, SP_SEP_BONUS, SP_SHORT_LEN, SP_SECRET,
    SP_VALIDATOR, SP_CTX_SEARCH, SP_KEY_HITS, SP_KEY_HIT, SP_DET, SP_N
};
/* Engine spec: (floor, allow, allow_hash, canonical, allow_digest, looks_like_other_id, Hit,
 * key_cache, key_cache_len) */
enum { EN_FLOOR, EN_ALLOW, EN_ALLOW_HASH, EN_CANONICAL, EN_DIGEST, EN_OTHER_ID, EN_HIT,
       EN_KEY_CACHE, EN_KEY_CACHE_LEN, EN_N };

typedef struct {
    long group;
    int needs_ctx, bare_ctx, secret;
    double base, sep_bonus;
    long short_len;
    PyObject *validator, *ctx_search, *key_hits, *key_hit, *det;
    double floor;
    PyObject *allow, *allow_hash, *canonical, *digest, *other_id, *hit_type;
    Py_ssize_t key_cache, key_cache_len;
} Spec;

static int read_spec(PyObject *sp, PyObject *en, Spec *o) {
    if (!PyTuple_Check(sp) || PyTuple_GET_SIZE(sp) != SP_N || !PyTuple_Check(en) ||
        PyTuple_GET_SIZE(en) != EN_N) {
        PyErr_SetString(PyExc_TypeError, "confirm: bad detector or engine spec");
        return -1;
    }
#define IT(t, i) PyTuple_GET_ITEM(t, i)
    o->group = PyLong_AsLong(IT(sp, SP_GROUP));
    o->needs_ctx = PyObject_IsTrue(IT(sp, SP_NEEDS_CTX));
    o->bare_ctx = PyObject_IsTrue(IT(sp, SP_BARE_CTX));
    o->base = PyFloat_AsDouble(IT(sp, SP_BASE));
    o->sep_bonus = PyFloat_AsDouble(IT(sp, SP_SEP_BONUS));
    o->short_len = PyLong_AsLong(IT(sp, SP_SHORT_LEN));
    o->secret = PyObject_IsTrue(IT(sp, SP_SECRET));
    o->validator = IT(sp, SP_VALIDATOR) == Py_None ? NULL : IT(sp, SP_VALIDATOR);
    o->ctx_search = IT(sp, SP_CTX_SEARCH) == Py_None ? NULL : IT(sp, SP_CTX_SEARCH);
    o->key_hits = IT(sp, SP_KEY_HITS);
    o->key_hit = IT(sp, SP_KEY_HIT);
    o->det = IT(sp, SP_DET);
    o->floor = PyFloat_AsDouble(IT(en, EN_FLOOR));
    o->allow = IT(en, EN_ALLOW);
    o->allow_hash = IT(en, EN_ALLOW_HASH);
    o->canonical = IT(en, EN_CANONICAL);
    o->digest = IT(en, EN_DIGEST);
    o->other_id = IT(en, EN_OTHER_ID);
    o->hit_type = IT(en, EN_HIT);
    o->key_cache = PyLong_AsSsize_t(IT(en, EN_KEY_CACHE));
    o->key_cache_len = PyLong_AsSsize_t(IT(en, EN_KEY_CACHE_LEN));
#undef IT
    if (PyErr_Occurred()) return -1;
    if (o->needs_ctx < 0 || o->bare_ctx < 0 || o->secret < 0) return -1;
    if (!PyDict_CheckExact(o->key_hits) || !PyAnySet_Check(o->allow) ||
        !PyAnySet_Check(o->allow_hash) || !PyType_Check(o->hit_type)) {
        PyErr_SetString(PyExc_TypeError, "confirm: bad spec member types");
        return -1;
    }
    return 0;
}

/* key_hits cache lookup, filled via key_hit(key) on a miss. 1/0, -1 on error. */
static int key_hit_of(Spec *sp, PyObject *key) {
    PyObject *cached = PyDict_GetItemWithError(sp->key_hits, key);
    if (cached != NULL) return PyObject_IsTrue(cached);
    if (PyErr_Occurred()) return -1;
    PyObject *r = PyObject_CallOneArg(sp->key_hit, key);
    if (r == NULL) return -1;
    int rc = 0;
    if (PyUnicode_GET_LENGTH(key) <= sp->key_cache_len) { /* _engine._remember */
        if (PyDict_GET_SIZE(sp->key_hits) >= sp->key_cache) PyDict_Clear(sp->key_hits);
        rc = PyDict_SetItem(sp->key_hits, key, r);
    }
    int t = rc < 0 ? -1 : PyObject_IsTrue(r);
    Py_DECREF(r);
    return t;
}

/* _confidence(c, leaf, start, value); sets *out. -1 on error. */
static int confidence(Spec *sp, PyObject *leaf, Py_ssize_t start, PyObject *value, double *out) {
    PyObject *key = PyTuple_GET_ITEM(leaf, 1), *ltext = PyTuple_GET_ITEM(leaf, 2);
    int key_hit = 0, word_hit = 0;
    if (PyUnicode_GET_LENGTH(key) > 0) {
        key_hit = key_hit_of(sp, key);
        if (key_hit < 0) return -1;
    }
    if (!key_hit && sp->ctx_search != NULL) {
        Py_ssize_t lo = start - 48 > 0 ? start - 48 : 0;
        Py_ssize_t n = PyUnicode_GET_LENGTH(ltext);
        Py_ssize_t a = lo < n ? lo : n, b = start < n ? start : n;
        PyObject *window = PyUnicode_Substring(ltext, a, b < a ? a : b);
        if (window == NULL) return -1;
        PyObject *m = PyObject_CallOneArg(sp->ctx_search, window);
        Py_DECREF(window);
        if (m == NULL) return -1;
        word_hit = m != Py_None;
        Py_DECREF(m);
    }
    int alnum = -1; /* value.isalnum(), computed once when needed */
    if (!(key_hit || word_hit)) {
        if (sp->needs_ctx) {
            *out = 0.0;
            return 0;
        }
        if (sp->bare_ctx) {
            alnum = is_alnum_str(value);
            if (alnum) {
                *out = 0.0;
                return 0;
            }
        }
    }
    double conf = sp->base + (key_hit ? 0.5 : word_hit ? 0.35 : 0.0);
    if (sp->sep_bonus != 0.0) {
        if (alnum < 0) alnum = is_alnum_str(value);
        if (!alnum) conf += sp->sep_bonus;
    }
    if (sp->short_len != 0) {
        if (alnum < 0) alnum = is_alnum_str(value);
        Py_ssize_t k = alnum ? PyUnicode_GET_LENGTH(value) : count_alnum(value);
        if (k <= sp->short_len) conf -= 0.3;
    }
    if (!(key_hit || word_hit) && !sp->secret && is_numeric_str(value)) {
        PyObject *so = offset_int(start);
        if (so == NULL) return -1;
        PyObject *oargs[3] = {key, ltext, so};
        PyObject *r = PyObject_Vectorcall(sp->other_id, oargs, 3, NULL);
        Py_DECREF(so);
        if (r == NULL) return -1;
        int t = PyObject_IsTrue(r);
        Py_DECREF(r);
        if (t < 0) return -1;
        if (t) conf -= is_digit_str(value) ? 0.5 : 0.2;
    }
    *out = conf < 1.0 ? conf : 1.0;
    return 0;
}

/* inside_taken(taken.get(li), s, e, conf) */
static int inside_taken(PyObject *taken, PyObject *li, long long s, long long e, double conf) {
    PyObject *spans = PyDict_GetItemWithError(taken, li);
    if (spans == NULL) return PyErr_Occurred() ? -1 : 0;
    if (!PyTuple_Check(spans) || PyTuple_GET_SIZE(spans) != 2 ||
        !PyList_Check(PyTuple_GET_ITEM(spans, 0)) || !PyList_Check(PyTuple_GET_ITEM(spans, 1))) {
        PyErr_SetString(PyExc_TypeError, "confirm: bad taken spans");
        return -1;
    }
    PyObject *starts = PyTuple_GET_ITEM(spans, 0), *rest = PyTuple_GET_ITEM(spans, 1);
    if (PyList_GET_SIZE(starts) == 0) return 0;
    Py_ssize_t i = bisect_right_ll(starts, s);
    if (i < 0) return -1;
    Py_ssize_t stop = i - 5 > -1 ? i - 5 : -1;
    for (Py_ssize_t j = i - 1; j > stop; j--) {
        if (j >= PyList_GET_SIZE(rest)) continue;
        PyObject *ek = PyList_GET_ITEM(rest, j);
        if (!PyTuple_Check(ek) || PyTuple_GET_SIZE(ek) != 2) {
            PyErr_SetString(PyExc_TypeError, "confirm: bad taken span");
            return -1;
        }
        long long ee = PyLong_AsLongLong(PyTuple_GET_ITEM(ek, 0));
        double kk = PyFloat_AsDouble(PyTuple_GET_ITEM(ek, 1));
        if (PyErr_Occurred()) return -1;
        if (e <= ee && conf <= kk) return 1;
    }
    return 0;
}

/* take(taken, li, s, e, conf) */
static int take(PyObject *taken, PyObject *li, long long s, long long e, double conf) {
    PyObject *spans = PyDict_GetItemWithError(taken, li);
    if (spans == NULL) {
        if (PyErr_Occurred()) return -1;
        PyObject *a = PyList_New(0), *b = PyList_New(0);
        spans = (a && b) ? PyTuple_Pack(2, a, b) : NULL;
        Py_XDECREF(a);
        Py_XDECREF(b);
        if (spans == NULL) return -1;
        /* The two lists only ever hold ints and (int, float) pairs (below): no cycle, so the
         * GC need not walk them nor their pair (a 1 MiB body has thousands, alive through
         * the confirmation, promoted by its collections into the full ones). */
        PyObject_GC_UnTrack(a);
        PyObject_GC_UnTrack(b);
        PyObject_GC_UnTrack(spans);
        int rc = PyDict_SetItem(taken, li, spans);
        Py_DECREF(spans);
        if (rc < 0) return -1;
    }
    PyObject *starts = PyTuple_GET_ITEM(spans, 0), *rest = PyTuple_GET_ITEM(spans, 1);
    Py_ssize_t i = bisect_right_ll(starts, s);
    if (i < 0) return -1;
    PyObject *sv = offset_int(s);
    PyObject *eo = offset_int(e), *co = eo ? PyFloat_FromDouble(conf) : NULL;
    PyObject *ek = co ? PyTuple_Pack(2, eo, co) : NULL;
    if (ek != NULL) PyObject_GC_UnTrack(ek);
    Py_XDECREF(eo);
    Py_XDECREF(co);
    int rc = (sv && ek && PyList_Insert(starts, i, sv) == 0 && PyList_Insert(rest, i, ek) == 0)
                 ? 0 : -1;
    Py_XDECREF(sv);
    Py_XDECREF(ek);
    return rc;
}

/* a Hit(leaf, start, end, confidence, det) without its dataclass __init__ */
static PyObject *hit_descrs = NULL; /* (Hit type, (descr, ...)) cached for the last Hit type seen */

static PyObject *new_hit(PyObject *type, Py_ssize_t li, long long s, long long e, double conf,
                         PyObject *det) {
    static const char *names[] = {"leaf", "start", "end", "confidence", "det"};
    if (hit_descrs == NULL || PyTuple_GET_ITEM(hit_descrs, 0) != type) {
        if (!PyType_Check(type) || !plain_class((PyTypeObject *)type, "confirm")) return NULL;
        PyObject *ds = PyTuple_New(5);
        if (ds == NULL) return NULL;
        for (int j = 0; j < 5; j++) {
            PyObject *d = PyObject_GetAttrString(type, names[j]);
            if (d == NULL) {
                Py_DECREF(ds);
                return NULL;
            }
            PyTuple_SET_ITEM(ds, j, d);
            if (!Py_IS_TYPE(d, &PyMemberDescr_Type)) {
                Py_DECREF(ds);
                PyErr_SetString(PyExc_TypeError, "confirm: Hit fields must be slots");
                return NULL;
            }
        }
        PyObject *pair = PyTuple_Pack(2, type, ds);
        Py_DECREF(ds);
        if (pair == NULL) return NULL;
        Py_XSETREF(hit_descrs, pair);
    }
    PyObject *ds = PyTuple_GET_ITEM(hit_descrs, 1);
    Py_INCREF(ds); /* hit_descrs may be replaced meanwhile (another Hit type) */
    PyObject *vals[5] = {offset_int(li), offset_int(s), offset_int(e),
                         PyFloat_FromDouble(conf), det};
    Py_INCREF(det);
    PyTypeObject *t = (PyTypeObject *)type;
    PyObject *obj = (vals[0] && vals[1] && vals[2] && vals[3]) ? t->tp_alloc(t, 0) : NULL;
    for (int j = 0; j < 5 && obj != NULL; j++) {
        PyObject *d = PyTuple_GET_ITEM(ds, j);
        if (Py_TYPE(d)->tp_descr_set(d, obj, vals[j]) < 0) Py_CLEAR(obj);
    }
    for (int j = 0; j < 5; j++) Py_XDECREF(vals[j]);
    Py_DECREF(ds);
    /* Ints, a float and its detector (built once per Classifier, never refers to a hit): a
     * hit cannot be part of a reference cycle, so the cyclic GC need not track it. A 1 MiB
     * body's thousands of hits otherwise set off collections that walk them, and, promoted,
     * full collections of the whole heap. */
    if (obj != NULL && PyObject_GC_IsTracked(obj)) PyObject_GC_UnTrack(obj);
    return obj;
}

/* confirm(spec, engine, leaves, text, starts, matches, out, bare_ok, taken): the body of
 * _confirm_one for one detector -- every match confirmed (context, overlap with a better span,
 * validator, allow-list) becomes a Hit appended to ``out`` and a span in ``taken``. */
/* canonical() of _mask.py (allow-list form) for an ASCII str, without the Python call: with
 * an "@", stripped (str.isspace's ASCII set) and lower-cased; else its letters and digits
 * upper-cased, or the value itself when it has none. Other strings go to ``fallback`` (the
 * Python canonical). New reference. */
static int ascii_space(Py_UCS1 c) { return c == ' ' || (c >= 9 && c <= 13) || (c >= 28 && c <= 31); }

static PyObject *canonical_of(PyObject *fallback, PyObject *value) {
    if (!PyUnicode_CheckExact(value) || !PyUnicode_IS_ASCII(value))
        return PyObject_CallOneArg(fallback, value);
    Py_ssize_t n = PyUnicode_GET_LENGTH(value);
    const Py_UCS1 *d = PyUnicode_1BYTE_DATA(value);
    if (n > 0 && memchr(d, '@', (size_t)n) != NULL) {
        Py_ssize_t lo = 0, hi = n;
        while (lo < hi && ascii_space(d[lo])) lo++;
        while (hi > lo && ascii_space(d[hi - 1])) hi--;
        PyObject *r = PyUnicode_New(hi - lo, 127);
        if (r == NULL) return NULL;
        Py_UCS1 *o = PyUnicode_1BYTE_DATA(r);
        for (Py_ssize_t i = lo; i < hi; i++)
            o[i - lo] = (d[i] >= 'A' && d[i] <= 'Z') ? (Py_UCS1)(d[i] + 32) : d[i];
        return r;
    }
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if ((d[i] >= '0' && d[i] <= '9') || ((d[i] | 32) >= 'a' && (d[i] | 32) <= 'z')) k++;
    if (k == 0) {
        Py_INCREF(value);
        return value;
    }
    PyObject *r = PyUnicode_New(k, 127);
    if (r == NULL) return NULL;
    Py_UCS1 *o = PyUnicode_1BYTE_DATA(r);
    Py_ssize_t j = 0;
    for (Py_ssize_t i = 0; i < n && j < k; i++) {
        Py_UCS1 c = d[i];
        if (c >= '0' && c <= '9') o[j++] = c;
        else if ((c | 32) >= 'a' && (c | 32) <= 'z') o[j++] = (Py_UCS1)(c & ~32);
    }
    return r;
}

static PyObject *py_canonical(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *fallback, *value;
    if (!PyArg_ParseTuple(args, "OU:canonical", &fallback, &value)) return NULL;
    return canonical_of(fallback, value);
}

static PyObject *py_confirm(PyObject *Py_UNUSED(self), PyObject *const *args,
                            Py_ssize_t nargs) {
    static const char fn[] = "confirm";
    int bare_ok;
    if (!fc_nargs(fn, nargs, 9, 9) || !fc_type(fn, 0, args[0], &PyTuple_Type) ||
        !fc_type(fn, 1, args[1], &PyTuple_Type) || !fc_str(fn, 3, args[3]) ||
        !fc_type(fn, 4, args[4], &PyList_Type) || !fc_type(fn, 6, args[6], &PyList_Type) ||
        !fc_bool(args[7], &bare_ok) || !fc_type(fn, 8, args[8], &PyDict_Type))
        return NULL;
    PyObject *sp_t = args[0], *en_t = args[1], *leaves = args[2], *text = args[3];
    PyObject *starts = args[4], *matches = args[5], *out = args[6], *taken = args[8];
    Spec sp;
    if (read_spec(sp_t, en_t, &sp) < 0) return NULL;
    /* Snapshots: the Python callbacks (validators, context search) cannot change what we
     * index or free a leaf under us (a RawDoc cannot change at all). */
    PyObject *leaves_t = leaves_snapshot(leaves);
    if (leaves_t == NULL) return NULL;
    if (PyList_GET_SIZE(starts) != leaves_len(leaves_t) || PyList_GET_SIZE(starts) == 0) {
        Py_DECREF(leaves_t);
        PyErr_SetString(PyExc_ValueError, "confirm: one start per leaf");
        return NULL;
    }
    /* ``starts`` is not copied (a 1 MiB body has tens of thousands of leaves, and every
     * detector's call would copy them all): it is held, searched without running Python code,
     * and its length checked again after the callbacks of each match. */
    Py_ssize_t nstarts = PyList_GET_SIZE(starts);
    Py_INCREF(starts);
    PyObject *starts_t = starts;
    PyObject *group = PyLong_FromLong(sp.group);
    PyObject *it = (group && leaves_t) ? PyObject_GetIter(matches) : NULL;
    if (it == NULL) {
        Py_XDECREF(group);
        Py_XDECREF(leaves_t);
        Py_DECREF(starts_t);
        return NULL;
    }
    leaves = leaves_t;
    int allow_any = PySet_GET_SIZE(sp.allow) > 0 || PySet_GET_SIZE(sp.allow_hash) > 0;
    PyObject *m;
    while ((m = PyIter_Next(it)) != NULL) {
        PyObject *span;
        if (PyTuple_CheckExact(m)) { /* a (start, end) pair (email_spans) is its own span */
            span = sp.group == 0 ? m : NULL;
            if (span == NULL) PyErr_SetString(PyExc_TypeError, "confirm: a span pair with a group");
            else Py_INCREF(span);
        } else {
            span = call_span(m, group);
        }
        Py_DECREF(m);
        if (span == NULL) goto fail;
        long long s = -1, e = -1;
        if (PyTuple_Check(span) && PyTuple_GET_SIZE(span) == 2) {
            s = PyLong_AsLongLong(PyTuple_GET_ITEM(span, 0));
            e = PyLong_AsLongLong(PyTuple_GET_ITEM(span, 1));
        } else {
            PyErr_SetString(PyExc_TypeError, "confirm: span() must give (start, end)");
        }
        Py_DECREF(span);
        if (PyErr_Occurred()) goto fail;
        if (s < 0 || s == e) continue;
        Py_ssize_t tlen = PyUnicode_GET_LENGTH(text);
        /* text[s:e] as Python slices it (clamped) */
        Py_ssize_t a = s < tlen ? (Py_ssize_t)s : tlen;
        Py_ssize_t b = e < tlen ? (Py_ssize_t)e : tlen;
        if (b < a) b = a;
        PyObject *value = PyUnicode_Substring(text, a, b);
        if (value == NULL) goto fail;
        if (!bare_ok && sp.bare_ctx && is_alnum_str(value)) {
            Py_DECREF(value);
            continue;
        }
        if (PyList_GET_SIZE(starts) != nstarts) {
            Py_DECREF(value);
            PyErr_SetString(PyExc_ValueError, "confirm: starts changed during the call");
            goto fail;
        }
        Py_ssize_t li = bisect_right_ints(starts, s) - 1;
        if (li < -1 || PyErr_Occurred()) {
            Py_DECREF(value);
            goto fail;
        }
        if (li < 0) li += leaves_len(leaves); /* leaves[-1], as Python indexes */
        PyObject *leaf = leaves_get(leaves, li);
        if (leaf == NULL) {
            Py_DECREF(value);
            goto fail;
        }
        if (!PyTuple_Check(leaf) || PyTuple_GET_SIZE(leaf) < 3 ||
            !PyUnicode_Check(PyTuple_GET_ITEM(leaf, 1)) ||
            !PyUnicode_Check(PyTuple_GET_ITEM(leaf, 2))) {
            Py_DECREF(value);
            PyErr_SetString(PyExc_TypeError, "confirm: leaves must be Leaf tuples");
            goto fail;
        }
        PyObject *base_o = PyList_GET_ITEM(starts, li);
        long long base = PyLong_CheckExact(base_o) ? PyLong_AsLongLong(base_o) : -1;
        if (!PyLong_CheckExact(base_o))
            PyErr_SetString(PyExc_TypeError, "starts must hold ints");
        if (base == -1 && PyErr_Occurred()) {
            Py_DECREF(value);
            goto fail;
        }
        if (e > base + PyUnicode_GET_LENGTH(PyTuple_GET_ITEM(leaf, 2))) {
            Py_DECREF(value);
            continue; /* crossed a leaf separator */
        }
        double conf;
        if (confidence(&sp, leaf, (Py_ssize_t)(s - base), value, &conf) < 0) {
            Py_DECREF(value);
            goto fail;
        }
        if (conf < sp.floor) {
            Py_DECREF(value);
            continue;
        }
        PyObject *lio = offset_int(li);
        if (lio == NULL) {
            Py_DECREF(value);
            goto fail;
        }
        int in = inside_taken(taken, lio, s, e, conf);
        if (in != 0) {
            Py_DECREF(value);
            Py_DECREF(lio);
            if (in < 0) goto fail;
            continue;
        }
        if (sp.validator != NULL) {
            PyObject *r = PyObject_CallOneArg(sp.validator, value);
            int ok = r == NULL ? -1 : PyObject_IsTrue(r);
            Py_XDECREF(r);
            if (ok <= 0) {
                Py_DECREF(value);
                Py_DECREF(lio);
                if (ok < 0) goto fail;
                continue;
            }
        }
        if (allow_any) {
            PyObject *cv = canonical_of(sp.canonical, value);
            int listed = cv == NULL ? -1 : PySet_Contains(sp.allow, cv);
            if (listed == 0 && PySet_GET_SIZE(sp.allow_hash) > 0) {
                PyObject *dg = PyObject_CallOneArg(sp.digest, cv);
                listed = dg == NULL ? -1 : PySet_Contains(sp.allow_hash, dg);
                Py_XDECREF(dg);
            }
            Py_XDECREF(cv);
            if (listed != 0) {
                Py_DECREF(value);
                Py_DECREF(lio);
                if (listed < 0) goto fail;
                continue;
            }
        }
        Py_DECREF(value);
        PyObject *hit = new_hit(sp.hit_type, li, s - base, e - base, conf, sp.det);
        int rc = hit == NULL ? -1 : PyList_Append(out, hit);
        Py_XDECREF(hit);
        if (rc < 0 || take(taken, lio, s, e, conf) < 0) {
            Py_DECREF(lio);
            goto fail;
        }
        Py_DECREF(lio);
    }
    if (PyErr_Occurred()) goto fail;
    Py_DECREF(it);
    Py_DECREF(group);
    Py_DECREF(leaves_t);
    Py_DECREF(starts_t);
    Py_RETURN_NONE;
fail:
    Py_DECREF(it);
    Py_DECREF(group);
    Py_DECREF(leaves_t);
    Py_DECREF(starts_t);
    return NULL;
}

/* A re.Match holds its pattern, its string and a tuple of ints, none of which can refer
 * back to it: it cannot be in a reference cycle, so a match kept in a result list need not
 * be GC-tracked (a 1 MiB body's lists of them were what its collections promoted into full
 * ones). Any other object (an RE2 wrapper's match, say) is left as it is. */
static void untrack_match(PyObject *m) {
    if (strcmp(Py_TYPE(m)->tp_name, "re.Match") == 0 && PyObject_GC_IsTracked(m))
        PyObject_GC_UnTrack(m);
}

/* matches_at(match, text, offsets) -> [m, ...]: ``match(text, p)`` for each offset p below
 * len(text) where it matches (_matches_at for a detector without a looser prefilter pattern) */
static PyObject *py_matches_at(PyObject *Py_UNUSED(self), PyObject *const *args,
                               Py_ssize_t nargs) {
    static const char fn[] = "matches_at";
    if (!fc_nargs(fn, nargs, 3, 3) || !fc_str(fn, 1, args[1]) ||
        !fc_type(fn, 2, args[2], &PyList_Type))
        return NULL;
    PyObject *match = args[0], *text = args[1], *offsets = args[2];
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    PyObject *out = PyList_New(0);
    if (out == NULL) return NULL;
    for (Py_ssize_t j = 0; j < PyList_GET_SIZE(offsets); j++) {
        Py_ssize_t p = PyLong_AsSsize_t(PyList_GET_ITEM(offsets, j));
        if (p == -1 && PyErr_Occurred()) goto fail;
        if (p >= n) continue;
        PyObject *m = call_on(match, text, p);
        if (m == NULL) goto fail;
        if (m != Py_None) untrack_match(m);
        int rc = m == Py_None ? 0 : PyList_Append(out, m);
        Py_DECREF(m);
        if (rc < 0) goto fail;
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* (start, end) of a match object's whole match. -1 on error. */
static int match_span(PyObject *m, Py_ssize_t *a, Py_ssize_t *b);

/* matches_back(match, text, offsets, back, chars) -> [m, ...]: _matches_at for a detector
 * whose prefilter is a looser pattern with ``start_chars``: from each offset p (ascending),
 * step back over at most ``back`` characters in ``chars``, then the first start k <= p where
 * match(text, k) ends after p; offsets inside the previous match are skipped. */
static PyObject *py_matches_back(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *match, *text, *offsets, *chars;
    Py_ssize_t back;
    if (!PyArg_ParseTuple(args, "OUO!nU:matches_back", &match, &text, &PyList_Type, &offsets,
                          &back, &chars))
        return NULL;
    if (PyUnicode_GET_LENGTH(chars) == 0) {
        PyErr_SetString(PyExc_ValueError, "matches_back: chars must not be empty");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    PyObject *out = PyList_New(0);
    if (out == NULL) return NULL;
    Py_ssize_t last_end = -1;
    for (Py_ssize_t j = 0; j < PyList_GET_SIZE(offsets); j++) {
        Py_ssize_t p = PyLong_AsSsize_t(PyList_GET_ITEM(offsets, j));
        if (p == -1 && PyErr_Occurred()) goto fail;
        if (p < last_end) continue;
        Py_ssize_t lo = p;
        while (lo > 0 && p - lo < back) {
            if (lo - 1 >= n) { /* text[lo - 1] past the end, as Python would say */
                PyErr_SetString(PyExc_IndexError, "string index out of range");
                goto fail;
            }
            Py_UCS4 c = PyUnicode_READ(kind, data, lo - 1);
            if (PyUnicode_FindChar(chars, c, 0, PyUnicode_GET_LENGTH(chars), 1) < 0) {
                if (PyErr_Occurred()) goto fail;
                break;
            }
            lo--;
        }
        for (Py_ssize_t k = lo; k <= p; k++) {
            PyObject *m = call_on(match, text, k);
            if (m == NULL) goto fail;
            if (m == Py_None) {
                Py_DECREF(m);
                continue;
            }
            Py_ssize_t a, b;
            if (match_span(m, &a, &b) < 0) {
                Py_DECREF(m);
                goto fail;
            }
            if (b > p) {
                last_end = b;
                untrack_match(m);
                int rc = PyList_Append(out, m);
                Py_DECREF(m);
                if (rc < 0) goto fail;
                break;
            }
            Py_DECREF(m);
        }
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* ---- the built-in email pattern without Python's re ---------------------------------------
 * EMAIL_PATTERN of _pii.py, compiled with re.ASCII:
 *   \b[A-Za-z0-9._%+\-]{1,64}@(?:[A-Za-z0-9\-]{1,63}\.){1,8}[A-Za-z]{2,24}\b
 * Its match at k (re.match(text, k)) is decided without backtracking: no class holds the byte
 * that ends it ('@' ends the local part, '.' a label, a non-letter the last label), so each
 * repeat can only stop at the end of its run. The local part is the run of local characters
 * from k (1..64 of them, then '@'); the labels are the runs of label characters each ended by
 * '.' (1..63 of them, at most 8 taken, as many as possible first); the match ends after the
 * last-label run (2..24 letters, no word character after it) of the latest label it can end
 * on: that is the order re tries them in. \b reads the character before k as re does (pos is
 * not the string's beginning). */
static int email_local(Py_UCS4 c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

static int email_label(Py_UCS4 c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

static int email_alpha(Py_UCS4 c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static int ascii_word(Py_UCS4 c) { return email_alpha(c) || (c >= '0' && c <= '9') || c == '_'; }

/* The end of the domain part that starts at q (just after the '@'), or -1: the labels and the
 * last label of the pattern, read as re would. */
static Py_ssize_t email_domain(int kind, const void *d, Py_ssize_t n, Py_ssize_t q) {
    Py_ssize_t at[9]; /* at[j]: where the (j+1)-th label may start; at[0] = q */
    int m = 0;
    at[0] = q;
    while (m < 8) {
        Py_ssize_t i = at[m];
        while (i < n && i - at[m] <= 63 && email_label(PyUnicode_READ(kind, d, i))) i++;
        Py_ssize_t len = i - at[m];
        if (len < 1 || len > 63 || i >= n || PyUnicode_READ(kind, d, i) != '.') break;
        at[++m] = i + 1;
    }
    for (int j = m; j >= 1; j--) {
        Py_ssize_t i = at[j];
        while (i < n && i - at[j] <= 24 && email_alpha(PyUnicode_READ(kind, d, i))) i++;
        Py_ssize_t len = i - at[j];
        if (len < 2 || len > 24) continue;
        if (i < n && ascii_word(PyUnicode_READ(kind, d, i))) continue;
        return i;
    }
    return -1;
}

/* re.match(EMAIL_PATTERN, text, k).end(), or -1 (no match). *memo_at / *memo_end remember the
 * domain's end for the last '@' looked at (the starts tried for one offset share it). */
static Py_ssize_t email_match_at(int kind, const void *d, Py_ssize_t n, Py_ssize_t k,
                                 Py_ssize_t *memo_at, Py_ssize_t *memo_end) {
    if (k < 0 || k >= n) return -1;
    int before = k > 0 && ascii_word(PyUnicode_READ(kind, d, k - 1));
    if (before == ascii_word(PyUnicode_READ(kind, d, k))) return -1; /* \b */
    Py_ssize_t i = k;
    while (i < n && i - k <= 64 && email_local(PyUnicode_READ(kind, d, i))) i++;
    if (i == k || i - k > 64 || i >= n || PyUnicode_READ(kind, d, i) != '@') return -1;
    if (*memo_at != i) {
        *memo_at = i;
        *memo_end = email_domain(kind, d, n, i + 1);
    }
    return *memo_end;
}

/* email_spans(text, offsets, back) -> [(start, end), ...]: the spans of what
 * matches_back(re.compile(EMAIL_PATTERN, re.ASCII).match, text, offsets, back, EMAIL_START)
 * returns (EMAIL_START, the characters stepped back over, being the local part's class), in
 * the same order, without a match object per start tried. */
static PyObject *py_email_spans(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *text, *offsets;
    Py_ssize_t back;
    if (!PyArg_ParseTuple(args, "UO!n:email_spans", &text, &PyList_Type, &offsets, &back))
        return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    PyObject *out = PyList_New(0);
    if (out == NULL) return NULL;
    Py_ssize_t last_end = -1, memo_at = -1, memo_end = -1;
    for (Py_ssize_t j = 0; j < PyList_GET_SIZE(offsets); j++) {
        Py_ssize_t p = PyLong_AsSsize_t(PyList_GET_ITEM(offsets, j));
        if (p == -1 && PyErr_Occurred()) goto fail;
        if (p < last_end) continue;
        Py_ssize_t lo = p;
        while (lo > 0 && p - lo < back) {
            if (lo - 1 >= n) { /* text[lo - 1] past the end, as Python would say */
                PyErr_SetString(PyExc_IndexError, "string index out of range");
                goto fail;
            }
            if (!email_local(PyUnicode_READ(kind, data, lo - 1))) break;
            lo--;
        }
        for (Py_ssize_t k = lo; k <= p; k++) {
            Py_ssize_t at = k < 0 ? 0 : k; /* re.match reads a negative pos as 0 */
            Py_ssize_t e = email_match_at(kind, data, n, at, &memo_at, &memo_end);
            if (e > p) {
                last_end = e;
                PyObject *so = offset_int(at), *eo = so ? offset_int(e) : NULL;
                PyObject *span = eo ? PyTuple_Pack(2, so, eo) : NULL;
                Py_XDECREF(so);
                Py_XDECREF(eo);
                if (span != NULL) PyObject_GC_UnTrack(span); /* two ints */
                int rc = span == NULL ? -1 : PyList_Append(out, span);
                Py_XDECREF(span);
                if (rc < 0) goto fail;
                break;
            }
        }
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

static int match_span(PyObject *m, Py_ssize_t *a, Py_ssize_t *b) {
    PyObject *span = call_span(m, NULL);
    if (span == NULL) return -1;
    if (!PyTuple_Check(span) || PyTuple_GET_SIZE(span) != 2) {
        Py_DECREF(span);
        PyErr_SetString(PyExc_TypeError, "span() must give (start, end)");
        return -1;
    }
    *a = PyLong_AsSsize_t(PyTuple_GET_ITEM(span, 0));
    *b = PyLong_AsSsize_t(PyTuple_GET_ITEM(span, 1));
    Py_DECREF(span);
    return PyErr_Occurred() ? -1 : 0;
}

/* A window probe (Detector.window_probe): up to 8 sequences of up to 8 ASCII character
 * classes, one of which every match of the detector's pattern contains. A window without any
 * holds no match, so it is not searched (the same answer as a search that finds nothing). */
#define PROBE_SEQS 8
#define PROBE_LEN 8
typedef struct {
    int n;
    int len[PROBE_SEQS];
    uint64_t cls[PROBE_SEQS][PROBE_LEN][2]; /* ASCII bitmaps */
    char first[128];                        /* in some sequence's first class */
} Probe;

static int read_probe(PyObject *o, Probe *pr) {
    memset(pr, 0, sizeof(*pr));
    if (!PyTuple_Check(o) || PyTuple_GET_SIZE(o) < 1 || PyTuple_GET_SIZE(o) > PROBE_SEQS)
        goto bad;
    pr->n = (int)PyTuple_GET_SIZE(o);
    for (int s = 0; s < pr->n; s++) {
        PyObject *seq = PyTuple_GET_ITEM(o, s);
        if (!PyTuple_Check(seq) || PyTuple_GET_SIZE(seq) < 1 || PyTuple_GET_SIZE(seq) > PROBE_LEN)
            goto bad;
        pr->len[s] = (int)PyTuple_GET_SIZE(seq);
        for (int k = 0; k < pr->len[s]; k++) {
            PyObject *c = PyTuple_GET_ITEM(seq, k);
            if (!PyUnicode_Check(c) || PyUnicode_GET_LENGTH(c) < 1) goto bad;
            for (Py_ssize_t j = 0; j < PyUnicode_GET_LENGTH(c); j++) {
                Py_UCS4 ch = PyUnicode_READ_CHAR(c, j);
                if (ch >= 128) goto bad;
                pr->cls[s][k][ch >> 6] |= (uint64_t)1 << (ch & 63);
                if (k == 0) pr->first[ch] = 1;
            }
        }
    }
    return 0;
bad:
    PyErr_SetString(PyExc_ValueError,
                    "window probe: 1-8 tuples of 1-8 non-empty strings of ASCII characters");
    return -1;
}

/* Does one of the probe's sequences start at text[i] and end by ``end``? */
static int probe_at(const Probe *pr, int kind, const void *data, Py_ssize_t i, Py_ssize_t end) {
    for (int s = 0; s < pr->n; s++) {
        int len = pr->len[s], k = 0;
        if (len > end - i) continue;
        for (; k < len; k++) {
            Py_UCS4 ch = PyUnicode_READ(kind, data, i + k);
            if (ch >= 128 || !((pr->cls[s][k][ch >> 6] >> (ch & 63)) & 1)) break;
        }
        if (k == len) return 1;
    }
    return 0;
}

/* Does text[lo:end] (clamped as re's pos/endpos are) hold one of the probe's sequences? */
static int probe_hit(const Probe *pr, PyObject *text, Py_ssize_t lo, Py_ssize_t end) {
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (lo < 0) lo = 0;
    if (end > n) end = n;
    if (kind == PyUnicode_1BYTE_KIND) { /* most text: only a sequence's first class looked up */
        const Py_UCS1 *d = (const Py_UCS1 *)data;
        for (Py_ssize_t i = lo; i < end; i++)
            if (d[i] < 128 && pr->first[d[i]] && probe_at(pr, kind, data, i, end)) return 1;
        return 0;
    }
    for (Py_ssize_t i = lo; i < end; i++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        if (ch < 128 && pr->first[ch] && probe_at(pr, kind, data, i, end)) return 1;
    }
    return 0;
}

/* window_probe(text, lo, end, probe) -> bool: probe_hit, for the tests. */
static PyObject *py_window_probe(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *text, *po;
    Py_ssize_t lo, end;
    if (!PyArg_ParseTuple(args, "UnnO!:window_probe", &text, &lo, &end, &PyTuple_Type, &po))
        return NULL;
    Probe pr;
    if (read_probe(po, &pr) < 0) return NULL;
    return PyBool_FromLong(probe_hit(&pr, text, lo, end));
}

/* context_matches(spec, engine, finditer, leaves, text, starts, at) -> [m, ...]
 * _engine.Classifier._context_matches: the matches of a context-required detector only where
 * they can count -- a leaf whose key names the type whole, elsewhere from each context word
 * (``at``: ascending str offsets) up to 48 characters on; leaves in order, no match twice. */
static PyObject *py_context_matches(PyObject *Py_UNUSED(self), PyObject *const *args,
                                    Py_ssize_t nargs) {
    static const char fn[] = "context_matches";
    if (!fc_nargs(fn, nargs, 7, 9) || !fc_type(fn, 0, args[0], &PyTuple_Type) ||
        !fc_type(fn, 1, args[1], &PyTuple_Type) || !fc_str(fn, 4, args[4]) ||
        !fc_type(fn, 5, args[5], &PyList_Type) || !fc_type(fn, 6, args[6], &PyList_Type))
        return NULL;
    PyObject *sp_t = args[0], *en_t = args[1], *finditer = args[2], *leaves = args[3];
    PyObject *text = args[4], *starts = args[5], *at = args[6];
    PyObject *search = nargs > 7 ? args[7] : Py_None, *probe_o = nargs > 8 ? args[8] : Py_None;
    if (search == Py_None) search = NULL;
    Probe probe;
    int use_probe = probe_o != Py_None;
    if (use_probe && read_probe(probe_o, &probe) < 0) return NULL;
    Spec sp;
    if (read_spec(sp_t, en_t, &sp) < 0) return NULL;
    PyObject *snap = leaves_snapshot(leaves); /* the key-name callbacks cannot change it */
    if (snap == NULL) return NULL;
    RawDoc *raw = Py_IS_TYPE(snap, &RawDocType) ? (RawDoc *)snap : NULL;
    Py_ssize_t nl = leaves_len(snap), na = PyList_GET_SIZE(at);
    if (nl == 0 || PyList_GET_SIZE(starts) != nl) {
        Py_DECREF(snap);
        PyErr_SetString(PyExc_ValueError, "context_matches: one start per leaf");
        return NULL;
    }
    PyObject *out = NULL, *far = NULL;
    char *whole = PyMem_Calloc(nl, 1);
    Py_ssize_t *lbase = PyMem_New(Py_ssize_t, nl), *lend = PyMem_New(Py_ssize_t, nl);
    Py_ssize_t *pl = PyMem_New(Py_ssize_t, na + 1), *pp = PyMem_New(Py_ssize_t, na + 1);
    if (!whole || !lbase || !lend || !pl || !pp) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t li = 0; li < nl; li++) {
        Py_ssize_t tlen;
        if (raw != NULL) { /* the lengths and keys of a RawDoc's leaves, without building them */
            tlen = raw->leaves[li].len;
        } else {
            PyObject *leaf = PyTuple_GET_ITEM(snap, li);
            if (!PyTuple_Check(leaf) || PyTuple_GET_SIZE(leaf) < 3 ||
                !PyUnicode_Check(PyTuple_GET_ITEM(leaf, 1)) ||
                !PyUnicode_Check(PyTuple_GET_ITEM(leaf, 2))) {
                PyErr_SetString(PyExc_TypeError, "context_matches: leaves must be Leaf tuples");
                goto done;
            }
            tlen = PyUnicode_GET_LENGTH(PyTuple_GET_ITEM(leaf, 2));
        }
        lbase[li] = PyLong_AsSsize_t(PyList_GET_ITEM(starts, li));
        if (lbase[li] == -1 && PyErr_Occurred()) goto done;
        lend[li] = lbase[li] + tlen;
    }
    /* Only now the key-name callbacks (Python): every start was read above, so a callback
     * that changes ``starts`` cannot move what this loop indexes. */
    /* The key words of a page's records repeat (the same objects, from the key caches): the
     * last verdicts are remembered by identity within this call, in 128 sets of two picked by
     * the key's str hash (a CRM record has a dozen or two keys; 64 direct-mapped slots picked
     * by address collided, differently with every heap layout). A key not hashed yet (or
     * not an exact str) just asks key_hit_of, whose dict lookup hashes it. */
    PyObject *seen_key[128][2];
    char seen_hit[128][2];
    memset(seen_key, 0, sizeof seen_key);
    for (Py_ssize_t li = 0; li < nl; li++) {
        PyObject *key = raw != NULL ? raw->leaves[li].key
                                    : PyTuple_GET_ITEM(PyTuple_GET_ITEM(snap, li), 1);
        if (PyUnicode_GET_LENGTH(key) > 0) {
            Py_hash_t h = PyUnicode_CheckExact(key) ? ((PyASCIIObject *)key)->hash : -1;
            size_t set = ((size_t)h ^ ((size_t)h >> 17)) & 127;
            if (h != -1) {
                if (seen_key[set][0] == key) {
                    whole[li] = seen_hit[set][0];
                    continue;
                }
                if (seen_key[set][1] == key) {
                    whole[li] = seen_hit[set][1];
                    continue;
                }
            }
            int hit = key_hit_of(&sp, key);
            if (hit < 0) goto done;
            whole[li] = (char)hit;
            if (h != -1) { /* the snapshot holds every key while this runs */
                seen_key[set][1] = seen_key[set][0];
                seen_hit[set][1] = seen_hit[set][0];
                seen_key[set][0] = key;
                seen_hit[set][0] = (char)hit;
            }
        }
    }
    /* context word offsets, each with its leaf (ascending, so each leaf's run is contiguous).
     * An offset below 0 (never from the prefilter, whose offsets map to >= 0, but a caller
     * may pass one) lands, as in Python, in the bucket of leaves[-1] -- index -1, which sorts
     * before every real leaf. */
    Py_ssize_t np = 0, n = lend[nl - 1], k = 0, prev = PY_SSIZE_T_MIN;
    for (Py_ssize_t j = 0; j < na; j++) {
        Py_ssize_t p = PyLong_AsSsize_t(PyList_GET_ITEM(at, j));
        if (p == -1 && PyErr_Occurred()) goto done;
        if (p < prev) {
            PyErr_SetString(PyExc_ValueError, "context_matches: offsets must be ascending");
            goto done;
        }
        prev = p;
        if (p >= n) break; /* the key names after the last leaf */
        if (p < 0) {
            pl[np] = -1;
            pp[np] = p;
            np++;
            continue;
        }
        while (k + 1 < nl && lbase[k + 1] <= p) k++;
        if (p >= lend[k]) continue; /* in a separator */
        pl[np] = k;
        pp[np] = p;
        np++;
    }
    out = PyList_New(0);
    if (out == NULL) goto done;
    Py_ssize_t q = 0; /* next entry of pl/pp */
    for (Py_ssize_t li = -1; li < nl; li++) {
        Py_ssize_t run_end = q;
        while (run_end < np && pl[run_end] == li) run_end++;
        Py_ssize_t leaf_i = li < 0 ? nl - 1 : li;
        Py_ssize_t base = lbase[leaf_i], end = lend[leaf_i];
        if (li >= 0 && whole[li]) {
            q = run_end;
            if (use_probe && !probe_hit(&probe, text, base, end)) continue; /* no match */
            PyObject *iter = call_onn(finditer, text, base, end);
            PyObject *it = iter ? PyObject_GetIter(iter) : NULL;
            Py_XDECREF(iter);
            if (it == NULL) goto fail;
            PyObject *m;
            while ((m = PyIter_Next(it)) != NULL) {
                untrack_match(m);
                int rc = PyList_Append(out, m);
                Py_DECREF(m);
                if (rc < 0) break;
            }
            Py_DECREF(it);
            if (PyErr_Occurred()) goto fail;
            continue;
        }
        /* As _engine._context_matches: ``far`` is the match that ended the last search (the
         * leftmost match at or after ``cur``, beyond that word's reach); a later word that
         * cannot reach it needs no search, one that can takes it without searching again.
         * Linear in the leaf (it was quadratic with many context words before one value). */
        Py_ssize_t cur = base, fa = 0, fb = 0;
        Py_CLEAR(far);
        for (; q < run_end; q++) {
            Py_ssize_t p = pp[q];
            if (p + 48 < cur) continue;
            Py_ssize_t lo = cur > p ? cur : p;
            if (far != NULL && fa >= lo) {
                if (fa > p + 48) continue; /* still out of this word's reach */
                cur = fb > fa ? fb : fb + 1;
                untrack_match(far);
                int rc = PyList_Append(out, far);
                Py_CLEAR(far);
                if (rc < 0) goto fail;
                lo = fb > fa ? fb : fa + 1;
            }
            Py_CLEAR(far);
            if (use_probe && !probe_hit(&probe, text, lo, end)) {
                q = run_end; /* as a search that finds nothing: no match from lo in this leaf */
                break;
            }
            /* The matches from ``lo`` on, as finditer(text, lo, end) gives them. With
             * ``search`` (a Python re pattern's): one search per match, each from the end of
             * the last (what finditer does after a non-empty match; most windows hold no
             * match, and a search costs less than an iterator); after an empty match at a,
             * finditer(text, a, end) takes over, its first match (that same empty one)
             * skipped, so the iterator's rule for what follows an empty match applies. */
            PyObject *it = NULL;
            Py_ssize_t pos = lo, skip_at = -1;
            int broke = 0, use_search = search != NULL;
            for (;;) {
                PyObject *m;
                if (use_search) {
                    m = call_onn(search, text, pos, end);
                    if (m == NULL) break;
                    if (m == Py_None) {
                        Py_DECREF(m);
                        break;
                    }
                } else {
                    if (it == NULL) {
                        PyObject *iter = call_onn(finditer, text, pos, end);
                        it = iter ? PyObject_GetIter(iter) : NULL;
                        Py_XDECREF(iter);
                        if (it == NULL) break;
                    }
                    m = PyIter_Next(it);
                    if (m == NULL) break;
                }
                Py_ssize_t a, b;
                if (match_span(m, &a, &b) < 0) {
                    Py_DECREF(m);
                    break;
                }
                if (skip_at >= 0) {
                    Py_ssize_t at_ = skip_at;
                    skip_at = -1;
                    if (a == at_ && b == at_) { /* the empty match already taken */
                        Py_DECREF(m);
                        continue;
                    }
                }
                if (a > p + 48) {
                    far = m; /* keeps the reference */
                    fa = a;
                    fb = b;
                    broke = 1;
                    break;
                }
                cur = b > a ? b : b + 1;
                untrack_match(m);
                int rc = PyList_Append(out, m);
                Py_DECREF(m);
                if (rc < 0) break;
                if (use_search) {
                    if (b == a) { /* empty: the iterator from here on */
                        use_search = 0;
                        pos = a;
                        skip_at = a;
                    } else {
                        pos = b;
                    }
                }
            }
            Py_XDECREF(it);
            if (PyErr_Occurred()) goto fail;
            if (!broke) { /* no further match anywhere in this leaf */
                q = run_end;
                break;
            }
        }
        Py_CLEAR(far);
        q = run_end;
    }
    goto done;
fail:
    Py_CLEAR(out);
done:
    Py_XDECREF(far);
    Py_DECREF(snap);
    PyMem_Free(whole);
    PyMem_Free(lbase);
    PyMem_Free(lend);
    PyMem_Free(pl);
    PyMem_Free(pp);
    return out;
}

/* ---- validators (_validators.py), each exactly like its Python twin --------------------- */

#define READ(s, i) PyUnicode_READ(PyUnicode_KIND(s), PyUnicode_DATA(s), (i))

/* luhn_ok(num): the Luhn sum over ord(ch) - 48 of every character, like the Python loop */
static int luhn(PyObject *s) {
    long long total = 0;
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    for (Py_ssize_t i = 0; i < n; i++) {
        long long d = (long long)READ(s, n - 1 - i) - 48;
        if (i % 2 == 1) {
            d *= 2;
            if (d > 9) d -= 9;
        }
        total += d;
    }
    return total % 10 == 0;
}

static PyObject *py_luhn_ok(PyObject *Py_UNUSED(self), PyObject *arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "luhn_ok needs a str");
        return NULL;
    }
    return PyBool_FromLong(luhn(arg));
}

/* digits(value): its ASCII digits, in order (_validators.digits: ``[^0-9]+`` removed) */
static PyObject *py_digits(PyObject *Py_UNUSED(self), PyObject *arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "digits needs a str");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg), k = 0;
    int kind = PyUnicode_KIND(arg);
    const void *data = PyUnicode_DATA(arg);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        k += c >= '0' && c <= '9';
    }
    PyObject *r = PyUnicode_New(k, 127);
    if (r == NULL) return NULL;
    Py_UCS1 *o = PyUnicode_1BYTE_DATA(r);
    Py_ssize_t j = 0;
    for (Py_ssize_t i = 0; i < n && j < k; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c >= '0' && c <= '9') o[j++] = (Py_UCS1)c;
    }
    return r;
}

/* consistent_separators(value): at most one distinct non-alphanumeric character */
static int one_separator(PyObject *s) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    int seen = 0;
    Py_UCS4 sep = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = READ(s, i);
        if (Py_UNICODE_ISALNUM(c)) continue;
        if (!seen) {
            seen = 1;
            sep = c;
        } else if (c != sep) {
            return 0;
        }
    }
    return 1;
}

static PyObject *py_consistent_separators(PyObject *Py_UNUSED(self), PyObject *arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "consistent_separators needs a str");
        return NULL;
    }
    return PyBool_FromLong(one_separator(arg));
}

static long prefix_num(const char *d, int k) {
    long v = 0;
    for (int i = 0; i < k; i++) v = v * 10 + (d[i] - '0');
    return v;
}

/* payment_card(value): digits(value) is 13..19 ASCII digits, one kind of separator, not all
 * the same digit, an issuer prefix/length (_card_brand_ok) and the Luhn check */
static PyObject *py_payment_card(PyObject *Py_UNUSED(self), PyObject *arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "payment_card needs a str");
        return NULL;
    }
    char d[20];
    int n = 0;
    Py_ssize_t len = PyUnicode_GET_LENGTH(arg);
    for (Py_ssize_t i = 0; i < len; i++) {
        Py_UCS4 c = READ(arg, i);
        if (c >= '0' && c <= '9') {
            if (n == 19) Py_RETURN_FALSE; /* more than 19 digits */
            d[n++] = (char)c;
        }
    }
    if (n < 13 || !one_separator(arg)) Py_RETURN_FALSE;
    int same = 1;
    for (int i = 1; i < n; i++)
        if (d[i] != d[0]) same = 0;
    if (same) Py_RETURN_FALSE;
    long p2 = prefix_num(d, 2), p3 = prefix_num(d, 3), p4 = prefix_num(d, 4),
         p6 = prefix_num(d, 6);
    int brand;
    if (d[0] == '4') brand = n == 13 || n == 16 || n == 19;
    else if ((51 <= p2 && p2 <= 55) || (2221 <= p4 && p4 <= 2720)) brand = n == 16;
    else if (p2 == 34 || p2 == 37) brand = n == 15;
    else if (p4 == 6011 || (644 <= p3 && p3 <= 649) || p2 == 65 ||
             (622126 <= p6 && p6 <= 622925))
        brand = 16 <= n && n <= 19;
    else if (3528 <= p4 && p4 <= 3589) brand = 16 <= n && n <= 19;
    else if ((300 <= p3 && p3 <= 305) || p2 == 36 || p2 == 38 || p2 == 39)
        brand = 14 <= n && n <= 19;
    else if (p2 == 62) brand = 16 <= n && n <= 19;
    else brand = 0;
    if (!brand) Py_RETURN_FALSE;
    long long total = 0;
    for (int i = 0; i < n; i++) {
        int v = d[n - 1 - i] - '0';
        if (i % 2 == 1) {
            v *= 2;
            if (v > 9) v -= 9;
        }
        total += v;
    }
    return PyBool_FromLong(total % 10 == 0);
}

/* mod97(s) == int("".join(str(int(c, 36)) for c in s)) % 97; ValueError where int() fails */
static PyObject *py_mod97(PyObject *Py_UNUSED(self), PyObject *arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "mod97 needs a str");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg);
    if (n == 0) {
        PyErr_SetString(PyExc_ValueError, "mod97 of an empty string");
        return NULL;
    }
    long r = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = READ(arg, i);
        long v;
        if (c >= 'a' && c <= 'z') v = (long)(c - 'a') + 10;
        else if (c >= 'A' && c <= 'Z') v = (long)(c - 'A') + 10;
        else if ((v = Py_UNICODE_TODECIMAL(c)) < 0) {
            PyErr_SetString(PyExc_ValueError, "mod97: not a base-36 digit");
            return NULL;
        }
        r = v < 10 ? (r * 10 + v) % 97 : (r * 100 + v) % 97;
    }
    return PyLong_FromLong(r);
}

/* email(value): local part and domain labels shaped like an address (_validators.email) */
static PyObject *py_email(PyObject *Py_UNUSED(self), PyObject *arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "email needs a str");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg);
    Py_ssize_t at = PyUnicode_FindChar(arg, '@', 0, n, -1);
    if (at == -2) return NULL;
    if (at <= 0) Py_RETURN_FALSE; /* no '@', or an empty local part */
    if (READ(arg, 0) == '.' || READ(arg, at - 1) == '.' || at > 64) Py_RETURN_FALSE;
    for (Py_ssize_t i = 1; i < at; i++)
        if (READ(arg, i) == '.' && READ(arg, i - 1) == '.') Py_RETURN_FALSE;
    /* domain = arg[at+1:], labels = domain.split(".") */
    Py_ssize_t lstart = at + 1, nlabels = 0, last_start = lstart;
    for (Py_ssize_t i = at + 1; i <= n; i++) {
        if (i < n && READ(arg, i) != '.') continue;
        /* label [lstart, i) */
        if (i == lstart) Py_RETURN_FALSE; /* empty label */
        if (READ(arg, lstart) == '-' || READ(arg, i - 1) == '-') Py_RETURN_FALSE;
        nlabels++;
        last_start = lstart;
        lstart = i + 1;
    }
    if (nlabels < 2) Py_RETURN_FALSE;
    for (Py_ssize_t i = last_start; i < n; i++)
        if (!Py_UNICODE_ISALPHA(READ(arg, i))) Py_RETURN_FALSE;
    Py_RETURN_TRUE;
}

#undef READ

/* hs_collect(id, start, end, flags, found): the prefilter's Hyperscan match handler in C,
 * ``found.setdefault(id, set()).add(start)`` without a Python frame per match. Returns None
 * (a true value would stop the scan). */
static PyObject *py_hs_collect(PyObject *Py_UNUSED(self), PyObject *const *args,
                               Py_ssize_t nargs) {
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "hs_collect takes (id, start, end, flags, found)");
        return NULL;
    }
    PyObject *id = args[0], *start = args[1], *found = args[4];
    if (!PyLong_CheckExact(id) || !PyLong_CheckExact(start) || !PyDict_CheckExact(found)) {
        PyErr_SetString(PyExc_TypeError, "hs_collect: int id and start, dict found");
        return NULL;
    }
    PyObject *set = PyDict_GetItemWithError(found, id); /* borrowed */
    if (set == NULL) {
        if (PyErr_Occurred()) return NULL;
        PyObject *fresh = PySet_New(NULL);
        if (fresh == NULL) return NULL;
        int rc = PyDict_SetItem(found, id, fresh);
        Py_DECREF(fresh);
        if (rc < 0) return NULL;
        set = fresh; /* the dict holds it; nothing ran in between that could drop it */
    } else if (!PySet_CheckExact(set)) {
        PyErr_SetString(PyExc_TypeError, "hs_collect: found holds sets");
        return NULL;
    }
    if (PySet_Add(set, start) < 0) return NULL;
    Py_RETURN_NONE;
}

/* anchor_starts(data, byte, back, match, found, id, limit) -> bool: for each occurrence i
 * of ``byte`` in ``data`` with i >= back, ``i - back`` is added to found[id] (a set, created
 * on the first) when ``match(data, i - back)`` is not None -- the loop of
 * HyperscanPrefilter.candidates for a pattern found from its anchor byte, without a Python
 * frame per occurrence. Stops and returns False at the (limit + 1)-th occurrence (the caller
 * then scans instead; what was added is exact, a subset of what the scan adds); else True.
 * ``match`` None: the built-in prefilter of the anchor's pattern is checked here (email_ or
 * phone_prefilter_at, the same answers as re.match). */
/* re.match(EMAIL_PREFILTER, data, s) is not None for the bytes pattern
 * [A-Za-z0-9._%+\-]@[A-Za-z0-9\-]{1,63}\.[A-Za-z0-9] (ASCII): a local character at s, '@',
 * a run of 1..63 label characters ended by '.' (no label character is a '.', so the repeat
 * can only stop at the run's end), then a letter or digit. */
static int email_prefilter_at(const unsigned char *d, Py_ssize_t n, Py_ssize_t s) {
    if (s < 0 || s + 1 >= n || !email_local(d[s]) || d[s + 1] != '@') return 0;
    Py_ssize_t i = s + 2;
    while (i < n && i - (s + 2) <= 63 && email_label(d[i])) i++;
    Py_ssize_t run = i - (s + 2);
    if (run < 1 || run > 63 || i + 1 >= n || d[i] != '.') return 0;
    unsigned char c = d[i + 1];
    return (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z');
}

/* Positions reachable from the set ``from`` (bit k: offset s + k) by ``lo``..``hi`` ASCII
 * digits. */
static uint64_t phone_digits(const unsigned char *d, Py_ssize_t n, Py_ssize_t s, uint64_t from,
                             int lo, int hi) {
    uint64_t out = 0;
    while (from) {
        int k = __builtin_ctzll(from);
        from &= from - 1;
        for (int c = 1; c <= hi && s + k + c <= n && k + c < 64; c++) {
            unsigned char ch = d[s + k + c - 1];
            if (ch < '0' || ch > '9') break;
            if (c >= lo) out |= 1ULL << (k + c);
        }
    }
    return out;
}

/* The positions one byte past those of ``from`` where that byte is ``a``, ``b`` or ``c``. */
static uint64_t phone_step(const unsigned char *d, Py_ssize_t n, Py_ssize_t s, uint64_t from,
                           unsigned char a, unsigned char b, unsigned char c) {
    uint64_t out = 0;
    while (from) {
        int k = __builtin_ctzll(from);
        from &= from - 1;
        if (s + k < n && k + 1 < 64 && (d[s + k] == a || d[s + k] == b || d[s + k] == c))
            out |= 1ULL << (k + 1);
    }
    return out;
}

/* re.match(PHONE_PREFILTER, data, s) is not None for the bytes pattern (ASCII)
 * \+\d{1,3}[ .\-]?(?:\(\d{1,4}\)[ .\-]?)?\d{1,4}(?:[ .\-]?\d{2,5}){1,4}\b -- is some prefix
 * of data[s:] in the pattern's language (no look-arounds or back-references: backtracking
 * finds a match exactly when one exists)? The sets of offsets (from s) each piece can end at
 * are bit masks: a match is at most 1 + 3 + 1 + 7 + 4 + 4 * 6 = 40 bytes long. */
static int phone_prefilter_at(const unsigned char *d, Py_ssize_t n, Py_ssize_t s) {
    if (s < 0 || s >= n || d[s] != '+') return 0;
    uint64_t x = phone_digits(d, n, s, 1ULL << 1, 1, 3);
    x |= phone_step(d, n, s, x, ' ', '.', '-');
    { /* (?:\(\d{1,4}\)[ .\-]?)? */
        uint64_t g = phone_step(d, n, s, x, '(', '(', '(');
        g = phone_digits(d, n, s, g, 1, 4);
        g = phone_step(d, n, s, g, ')', ')', ')');
        x |= g | phone_step(d, n, s, g, ' ', '.', '-');
    }
    x = phone_digits(d, n, s, x, 1, 4);
    uint64_t ends = 0;
    for (int r = 0; r < 4 && x; r++) { /* (?:[ .\-]?\d{2,5}){1,4} */
        x = phone_digits(d, n, s, x | phone_step(d, n, s, x, ' ', '.', '-'), 2, 5);
        ends |= x;
    }
    while (ends) { /* \b: a digit ends the match, so no word character may follow */
        int k = __builtin_ctzll(ends);
        ends &= ends - 1;
        if (s + k >= n) return 1;
        unsigned char c = d[s + k];
        if (!((c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z') || c == '_'))
            return 1;
    }
    return 0;
}

static PyObject *py_anchor_starts(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *data, *match, *found, *id;
    int byte;
    Py_ssize_t back, limit;
    if (!PyArg_ParseTuple(args, "O!inOO!On:anchor_starts", &PyBytes_Type, &data, &byte, &back,
                          &match, &PyDict_Type, &found, &id, &limit))
        return NULL;
    if (byte < 0 || byte > 255 || back < 0 || limit < 0) {
        PyErr_SetString(PyExc_ValueError, "anchor_starts: byte 0..255, back and limit >= 0");
        return NULL;
    }
    /* no match function: a built-in check, chosen by the anchor */
    int email = byte == '@' && back == 1, phone = byte == '+' && back == 0;
    if (match == Py_None && !email && !phone) {
        PyErr_SetString(PyExc_ValueError, "anchor_starts: no match function is the email check "
                                          "('@', back 1) or the phone check ('+', back 0)");
        return NULL;
    }
    const char *d = PyBytes_AS_STRING(data);
    Py_ssize_t n = PyBytes_GET_SIZE(data), seen = 0;
    Py_ssize_t i = back; /* an occurrence before ``back`` cannot start a match */
    while (i < n) {
        const char *hit = memchr(d + i, byte, (size_t)(n - i));
        if (hit == NULL) break;
        if (++seen > limit) Py_RETURN_FALSE;
        i = hit - d;
        int ok = 0;
        if (match == Py_None) { /* EMAIL_PREFILTER or PHONE_PREFILTER, checked here */
            ok = email ? email_prefilter_at((const unsigned char *)d, n, i - back)
                       : phone_prefilter_at((const unsigned char *)d, n, i - back);
            if (!ok) {
                i++;
                continue;
            }
        }
        PyObject *start = offset_int(i - back);
        if (start == NULL) return NULL;
        if (match != Py_None) {
            PyObject *cargs[2] = {data, start};
            PyObject *m = PyObject_Vectorcall(match, cargs, 2, NULL);
            if (m == NULL) {
                Py_DECREF(start);
                return NULL;
            }
            ok = m != Py_None;
            Py_DECREF(m);
        }
        if (ok) {
            PyObject *set = PyDict_GetItemWithError(found, id); /* borrowed */
            if (set == NULL) {
                if (PyErr_Occurred() || (set = PySet_New(NULL)) == NULL) {
                    Py_DECREF(start);
                    return NULL;
                }
                int rc = PyDict_SetItem(found, id, set);
                Py_DECREF(set); /* the dict holds it */
                if (rc < 0) {
                    Py_DECREF(start);
                    return NULL;
                }
            } else if (!PySet_CheckExact(set)) {
                Py_DECREF(start);
                PyErr_SetString(PyExc_TypeError, "anchor_starts: found holds sets");
                return NULL;
            }
            if (PySet_Add(set, start) < 0) {
                Py_DECREF(start);
                return NULL;
            }
        }
        Py_DECREF(start);
        i++;
    }
    Py_RETURN_TRUE;
}

/* card_starts(data, found, id) -> None: what a Hyperscan scan (start of match leftmost) of the
 * built-in card pattern CARD_PATTERN, \b(?:\d[ \-]?){12,18}\d\b, adds to found[id] -- for
 * every end of a match, the leftmost start of a match ending there -- without the database.
 * A match ending at e (a digit before e, no word character at e) is a run of 13..19 digits
 * ending at e - 1, each digit before the last followed by at most one ' ' or '-'; it can start
 * at such a digit with no word character (ASCII [0-9A-Za-z_], as Hyperscan's \b reads bytes)
 * before it. Walking back from e over the run gives the leftmost. */
static int hs_word(unsigned char c) {
    return (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z') || c == '_';
}

static PyObject *py_card_starts(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *data, *found, *id;
    if (!PyArg_ParseTuple(args, "O!O!O:card_starts", &PyBytes_Type, &data, &PyDict_Type, &found,
                          &id))
        return NULL;
    const unsigned char *t = (const unsigned char *)PyBytes_AS_STRING(data);
    Py_ssize_t n = PyBytes_GET_SIZE(data);
    PyObject *set = NULL; /* borrowed from found once made */
    Py_ssize_t e = 0;
#ifdef __SSE2__
    /* The ends worth a look (a digit with no word byte after it) found 16 at a time: most of
     * a body is neither, and the byte loop below cost ~15 instructions a byte for it. The
     * same ends, in the same order, as that loop (which does the rest and the tail). */
    unsigned int ends = 0;
    Py_ssize_t block = 0;
    const __m128i below0 = _mm_set1_epi8('0' - 1), above9 = _mm_set1_epi8('9' + 1),
                  belowa = _mm_set1_epi8('a' - 1), abovez = _mm_set1_epi8('z' + 1),
                  lower = _mm_set1_epi8(32), under = _mm_set1_epi8('_');
#endif
    for (;;) {
#ifdef __SSE2__
        /* next end from the current block's mask, else the next block with one */
        while (ends == 0 && block + 17 <= n) {
            __m128i v = _mm_loadu_si128((const __m128i *)(t + block));
            __m128i w = _mm_loadu_si128((const __m128i *)(t + block + 1));
            __m128i dv = _mm_and_si128(_mm_cmpgt_epi8(v, below0), _mm_cmplt_epi8(v, above9));
            __m128i dw = _mm_and_si128(_mm_cmpgt_epi8(w, below0), _mm_cmplt_epi8(w, above9));
            __m128i lw = _mm_or_si128(w, lower);
            __m128i aw = _mm_and_si128(_mm_cmpgt_epi8(lw, belowa), _mm_cmplt_epi8(lw, abovez));
            __m128i ww = _mm_or_si128(_mm_or_si128(dw, aw), _mm_cmpeq_epi8(w, under));
            ends = (unsigned int)_mm_movemask_epi8(_mm_andnot_si128(ww, dv));
            block += 16;
        }
        if (ends != 0) {
            e = block - 16 + __builtin_ctz(ends) + 1; /* the digit at e - 1 */
            ends &= ends - 1;
        } else {
            if (e < block) e = block; /* the tail, byte by byte */
            if (++e > n) break;
            if (!(t[e - 1] >= '0' && t[e - 1] <= '9')) continue;
            if (e < n && hs_word(t[e])) continue; /* no \b after the last digit */
        }
#else
        if (++e > n) break;
        if (!(t[e - 1] >= '0' && t[e - 1] <= '9')) continue;
        if (e < n && hs_word(t[e])) continue; /* no \b after the last digit */
#endif
        Py_ssize_t p = e - 1, best = -1;
        int count = 1;
        for (;;) {
            if (count >= 13 && (p == 0 || !hs_word(t[p - 1]))) best = p;
            if (count == 19 || p == 0) break;
            if (t[p - 1] >= '0' && t[p - 1] <= '9') p -= 1;
            else if (p >= 2 && (t[p - 1] == ' ' || t[p - 1] == '-') && t[p - 2] >= '0' &&
                     t[p - 2] <= '9')
                p -= 2;
            else break;
            count++;
        }
        if (best < 0) continue;
        if (set == NULL) {
            set = PyDict_GetItemWithError(found, id);
            if (set == NULL) {
                if (PyErr_Occurred() || (set = PySet_New(NULL)) == NULL) return NULL;
                int rc = PyDict_SetItem(found, id, set);
                Py_DECREF(set); /* the dict holds it */
                if (rc < 0) return NULL;
            } else if (!PySet_CheckExact(set)) {
                PyErr_SetString(PyExc_TypeError, "card_starts: found holds sets");
                return NULL;
            }
        }
        PyObject *so = offset_int(best);
        int rc = so == NULL ? -1 : PySet_Add(set, so);
        Py_XDECREF(so);
        if (rc < 0) return NULL;
    }
    Py_RETURN_NONE;
}

/* How many bytes of x have their top bit set (x holds only top bits): no popcount call (the
 * extension is built for any x86-64, where __builtin_popcountll is a libgcc loop). */
static inline int top_bits(uint64_t x) {
    return (int)(((x >> 7) * 0x0101010101010101ULL) >> 56);
}

static int cmp_ll(const void *a, const void *b);

/* sort ascending: insertion sort for the few offsets a page has, qsort beyond */
static void sort_ll(long long *a, Py_ssize_t n) {
    if (n > 32) {
        qsort(a, (size_t)n, sizeof(long long), cmp_ll);
        return;
    }
    for (Py_ssize_t i = 1; i < n; i++) {
        long long v = a[i];
        Py_ssize_t j = i;
        while (j > 0 && a[j - 1] > v) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
    }
}

static int cmp_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* char_candidates(scanned, cands) -> {id: sorted str offsets}: for every prefilter id the
 * list ``sorted(map(to_char, offsets))`` of _confirm_leaves, all ids mapped in one pass over
 * ``scanned`` (None: the buffer is ASCII, offsets are already str offsets). */
static PyObject *py_char_candidates(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *scanned, *cands, *utf8 = Py_None;
    if (!PyArg_ParseTuple(args, "OO!|O:char_candidates", &scanned, &PyDict_Type, &cands, &utf8))
        return NULL;
    if (scanned != Py_None && !PyUnicode_Check(scanned)) {
        PyErr_SetString(PyExc_TypeError, "char_candidates: scanned is a str or None");
        return NULL;
    }
    if (utf8 != Py_None && (!PyBytes_Check(utf8) || scanned == Py_None)) {
        PyErr_SetString(PyExc_TypeError, "char_candidates: utf8 is the bytes of scanned");
        return NULL;
    }
    /* every offset of every id, then the sorted distinct ones and their str offsets */
    Py_ssize_t total = 0, pos = 0;
    PyObject *key, *val;
    while (PyDict_Next(cands, &pos, &key, &val)) {
        if (!PyAnySet_Check(val)) {
            PyErr_SetString(PyExc_TypeError, "char_candidates: values must be sets");
            return NULL;
        }
        total += PySet_GET_SIZE(val);
    }
    PyObject *out = PyDict_New();
    long long *all = PyMem_New(long long, total + 1), *uniq = PyMem_New(long long, total + 1);
    long long *mapped = PyMem_New(long long, total + 1);
    if (out == NULL || !all || !uniq || !mapped) {
        if (out != NULL) PyErr_NoMemory();
        goto fail;
    }
    Py_ssize_t k = 0;
    pos = 0;
    while (PyDict_Next(cands, &pos, &key, &val)) {
        PyObject *it = PyObject_GetIter(val), *item;
        if (it == NULL) goto fail;
        while ((item = PyIter_Next(it)) != NULL) {
            long long o = PyLong_AsLongLong(item);
            Py_DECREF(item);
            if ((o == -1 && PyErr_Occurred()) || k >= total) { /* the sets cannot grow */
                Py_DECREF(it);
                if (!PyErr_Occurred())
                    PyErr_SetString(PyExc_RuntimeError, "char_candidates: sets changed");
                goto fail;
            }
            all[k++] = o;
        }
        Py_DECREF(it);
        if (PyErr_Occurred()) goto fail;
    }
    memcpy(uniq, all, (size_t)k * sizeof(long long));
    sort_ll(uniq, k);
    Py_ssize_t nu = 0;
    for (Py_ssize_t i = 0; i < k; i++)
        if (nu == 0 || uniq[nu - 1] != uniq[i]) uniq[nu++] = uniq[i];
    if (scanned == Py_None) {
        memcpy(mapped, uniq, (size_t)nu * sizeof(long long));
    } else if (utf8 != Py_None && PyUnicode_KIND(scanned) != PyUnicode_1BYTE_KIND) {
        /* From the UTF-8 bytes (wide text): a byte offset o maps to o less the continuation
         * bytes before it, less one more when o itself is one (inside a character: the
         * character's index); past the end, o less all of them -- byte_to_char's answers,
         * counted eight bytes at a time. */
        const unsigned char *u = (const unsigned char *)PyBytes_AS_STRING(utf8);
        Py_ssize_t nb = PyBytes_GET_SIZE(utf8), i = 0;
        long long cont = 0; /* continuation bytes in u[0:i] */
        for (Py_ssize_t j = 0; j < nu; j++) {
            long long o = uniq[j];
            if (o < 0) {
                mapped[j] = o;
                continue;
            }
            Py_ssize_t stop = o < nb ? (Py_ssize_t)o : nb;
            while (i + 8 <= stop) {
                uint64_t x;
                memcpy(&x, u + i, 8);
                cont += top_bits(x & ~(x << 1) & 0x8080808080808080ULL);
                i += 8;
            }
            while (i < stop) cont += (u[i++] & 0xC0) == 0x80;
            mapped[j] = o - cont - (o < nb && (u[o] & 0xC0) == 0x80);
        }
    } else {
        Py_ssize_t n = PyUnicode_GET_LENGTH(scanned), i = 0;
        int kind = PyUnicode_KIND(scanned);
        const void *data = PyUnicode_DATA(scanned);
        long long b = 0, extra = 0;
        for (Py_ssize_t j = 0; j < nu; j++) {
            if (kind == PyUnicode_1BYTE_KIND) { /* Latin-1 text: one or two UTF-8 bytes */
                const Py_UCS1 *d1 = (const Py_UCS1 *)data;
                /* eight characters at a time while even eight two-byte ones stay below the
                 * offset (each is one byte, plus one per character >= 0x80) */
                while (i + 8 <= n && b + 16 <= uniq[j]) {
                    uint64_t x;
                    memcpy(&x, d1 + i, 8);
                    int wide = top_bits(x & 0x8080808080808080ULL);
                    extra += wide;
                    b += 8 + wide;
                    i += 8;
                }
                while (i < n && b < uniq[j]) {
                    int w = 1 + (d1[i] >= 0x80);
                    extra += w - 1;
                    b += w;
                    i++;
                }
            }
            while (i < n && b < uniq[j]) {
                Py_UCS4 c = PyUnicode_READ(kind, data, i);
                int w = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
                extra += w - 1;
                b += w;
                i++;
            }
            /* b > uniq[j] >= 0: the offset lies inside character i - 1, which it maps to
             * (as _hits.byte_to_char); offsets below 0 stay as they are */
            if (uniq[j] >= 0 && b > uniq[j]) mapped[j] = (long long)i - 1;
            else mapped[j] = uniq[j] - extra;
        }
    }
    /* per id: its offsets sorted, each replaced by its mapped value (duplicates kept) */
    k = 0;
    pos = 0;
    while (PyDict_Next(cands, &pos, &key, &val)) {
        Py_ssize_t m = PySet_GET_SIZE(val);
        if (k + m > total) m = total - k;
        for (Py_ssize_t i = 0; i < m; i++) {
            long long o = all[k + i];
            Py_ssize_t lo = 0, hi = nu; /* o is in uniq: find it */
            while (lo < hi) {
                Py_ssize_t mid = lo + (hi - lo) / 2;
                if (uniq[mid] < o) lo = mid + 1;
                else hi = mid;
            }
            all[k + i] = mapped[lo];
        }
        /* sorted after mapping (the set's order is arbitrary; the mapping is monotonic) */
        sort_ll(all + k, m);
        PyObject *lst = PyList_New(m);
        if (lst == NULL) goto fail;
        for (Py_ssize_t i = 0; i < m; i++) {
            PyObject *v = offset_int(all[k + i]);
            if (v == NULL) {
                Py_DECREF(lst);
                goto fail;
            }
            PyList_SET_ITEM(lst, i, v);
        }
        k += m;
        int rc = PyDict_SetItem(out, key, lst);
        Py_DECREF(lst);
        if (rc < 0) goto fail;
    }
    PyMem_Free(all);
    PyMem_Free(uniq);
    PyMem_Free(mapped);
    return out;
fail:
    Py_XDECREF(out);
    PyMem_Free(all);
    PyMem_Free(uniq);
    PyMem_Free(mapped);
    return NULL;
}

#include "_phone.inc.c"

static PyMethodDef methods[] = {
    {"json_leaves", py_json_leaves, METH_VARARGS,
     "json_leaves(obj, prefix, leaf_type, norm_key, normalize) -> list | None"},
    {"join_leaves", py_join_leaves, METH_VARARGS,
     "join_leaves(leaves, sep) -> (text, starts, scanned_bytes, scanned)"},
    {"mask_alnum", py_mask_alnum, METH_VARARGS,
     "mask_alnum(value, keep_tail, keep_head) -> value with alphanumerics starred"},
    {"mask_from", py_mask_from, METH_VARARGS,
     "mask_from(value, keep) -> value[:keep] + the rest with alphanumerics starred"},
    {"new_objects", (PyCFunction)(void (*)(void))py_new_objects, METH_FASTCALL,
     "new_objects(cls, slot_names, rows) -> list of cls instances with those slots set"},
    {"matches_at", (PyCFunction)(void (*)(void))py_matches_at, METH_FASTCALL,
     "matches_at(match, text, offsets) -> [match(text, p) for p in offsets if it matches]"},
    {"matches_back", py_matches_back, METH_VARARGS,
     "matches_back(match, text, offsets, back, chars) -> [match, ...]"},
    {"email_spans", py_email_spans, METH_VARARGS,
     "email_spans(text, offsets, back) -> [(start, end), ...]: matches_back of the built-in "
     "email pattern, without re"},
    {"context_matches", (PyCFunction)(void (*)(void))py_context_matches, METH_FASTCALL,
     "context_matches(spec, engine, finditer, leaves, text, starts, at[, search[, probe]]) -> "
     "[match, ...]"},
    {"window_probe", py_window_probe, METH_VARARGS,
     "window_probe(text, lo, end, probe) -> bool: text[lo:end] holds one of probe's sequences"},
    {"finding_rows", (PyCFunction)(void (*)(void))py_finding_rows, METH_FASTCALL,
     "finding_rows(hits, leaves, step, min_conf, top, limit, paths, format_path, preview) -> "
     "(rows, top, types): Classifier.result's rows, class and confident types"},
    {"outside_uuids", (PyCFunction)(void (*)(void))py_outside_uuids, METH_FASTCALL,
     "outside_uuids(hits, leaves, in_uuid) -> the hits in_uuid does not put inside a UUID"},
    {"resolve_overlaps", py_resolve_overlaps, METH_O,
     "resolve_overlaps(hits) -> kept hits, or None (not plain: the Python function decides)"},
    {"confirm", (PyCFunction)(void (*)(void))py_confirm, METH_FASTCALL,
     "confirm(spec, engine, leaves, text, starts, matches, out, bare_ok, taken) -> None"},
    {"luhn_ok", py_luhn_ok, METH_O, "luhn_ok(num) -> bool"},
    {"preview", py_preview, METH_VARARGS,
     "preview(style, keep_prefix, limit, value) -> the masked preview (_mask.preview)"},
    {"digits", py_digits, METH_O, "digits(value) -> its ASCII digits"},
    {"consistent_separators", py_consistent_separators, METH_O,
     "consistent_separators(value) -> bool"},
    {"payment_card", py_payment_card, METH_O, "payment_card(value) -> bool"},
    {"mod97", py_mod97, METH_O, "mod97(s) -> int"},
    {"email", py_email, METH_O, "email(value) -> bool"},
    {"canonical", py_canonical, METH_VARARGS,
     "canonical(fallback, value) -> _mask.canonical(value) (fallback for non-ASCII)"},
    {"anchor_starts", py_anchor_starts, METH_VARARGS,
     "anchor_starts(data, byte, back, match, found, id, limit) -> bool: found[id] gets each "
     "start i - back of an occurrence i of byte where match(data, i - back) is not None "
     "(match None: the built-in email ('@', back 1) or phone ('+', back 0) prefilter, checked "
     "natively); "
     "False (stopped) past limit occurrences"},
    {"card_starts", py_card_starts, METH_VARARGS,
     "card_starts(data, found, id) -> None: found[id] gets the starts a Hyperscan scan of the "
     "built-in card pattern (leftmost start of match) reports"},
    {"hs_collect", (PyCFunction)(void (*)(void))py_hs_collect, METH_FASTCALL,
     "hs_collect(id, start, end, flags, found) -> None: found.setdefault(id, set()).add(start)"},
    {"phone", py_phone, METH_O,
     "phone(value) -> bool: _validators.phone (international numbers decided natively, the rest "
     "by the registered Python validator)"},
    {"phone_decided", py_phone_decided, METH_O,
     "phone_decided(value) -> bool | None: the native answer alone (None: Python decides)"},
    {"phone_plans_decide", py_phone_plans_decide, METH_VARARGS,
     "phone_plans_decide(main, single, plans | None, nsn) -> bool | None (tests)"},
    {"phone_setup", py_phone_setup, METH_VARARGS,
     "phone_setup(fallback, compile, codes) -> None: the Python validator, the pattern compiler "
     "(_phone_dfa) and the calling codes (1000 bytes)"},
    {"phone_plan", py_phone_plan, METH_VARARGS,
     "phone_plan(leading, prefix, general, general_lengths, types) -> a region's plan"},
    {"phone_main", py_phone_main, METH_VARARGS,
     "phone_main(cc, width, regions, plan | None) -> None: cc's first region's plan"},
    {"phone_candidates", py_phone_candidates, METH_VARARGS,
     "phone_candidates(cc, length, plans) -> None: the plans that decide cc numbers of length"},
    {"json_raw", py_json_raw, METH_VARARGS,
     "json_raw(body, sep, leaf_type, norm_key, normalize) -> (RawDoc, text, starts, "
     "scanned_bytes, scanned) | None"},
    {"char_candidates", py_char_candidates, METH_VARARGS,
     "char_candidates(scanned | None, {id: {byte offsets}}[, utf8]) -> {id: sorted str offsets} "
     "(utf8: scanned's UTF-8 bytes, read instead of a wide str)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "ringfence.classify._native",
    "Native hot path of the classification engine (csrc/classify/_native.c).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void) {
    norm_cache = PyDict_New();
    blob_cache = PyDict_New();
    words_cache = PyDict_New();
    empty_tuple = PyTuple_New(0);
    key_ref = Py_BuildValue("(i)", -1);
    if (key_ref != NULL && PyObject_GC_IsTracked(key_ref)) PyObject_GC_UnTrack(key_ref);
    space = PyUnicode_FromString(" ");
    str_span = PyUnicode_InternFromString("span");
    str_leaf = PyUnicode_InternFromString("leaf");
    str_start = PyUnicode_InternFromString("start");
    str_end = PyUnicode_InternFromString("end");
    str_confidence = PyUnicode_InternFromString("confidence");
    str_det = PyUnicode_InternFromString("det");
    str_id = PyUnicode_InternFromString("id");
    str_generic_ = PyUnicode_InternFromString("generic_");
    str_data_class = PyUnicode_InternFromString("data_class");
    str_mask = PyUnicode_InternFromString("mask");
    str_keep_prefix = PyUnicode_InternFromString("keep_prefix");
    if (!str_leaf || !str_start || !str_end || !str_confidence || !str_det || !str_id ||
        !str_generic_ ||
        !str_data_class || !str_mask || !str_keep_prefix)
        return NULL;
    if (norm_cache == NULL || blob_cache == NULL || words_cache == NULL || empty_tuple == NULL ||
        key_ref == NULL || space == NULL || str_span == NULL)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    init_str_stop();
    if (PyType_Ready(&RawDocType) < 0 ||
        PyModule_AddObjectRef(m, "RawDoc", (PyObject *)&RawDocType) < 0 ||
        PyModule_AddIntConstant(m, "MAX_DEPTH", MAX_DEPTH) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
