/*
 * ringfence.classify._native: the per-leaf bookkeeping of the classification engine in C.
 *
 * Small functions, each a drop-in for a piece of pure Python in _extract.py / _engine.py that
 * it must decide exactly like (tests/classify/test_native.py proves it on the corpora and on
 * generated input):
 *   json_leaves  - the JSON leaf walk (field paths, key words, text) of _leaves_recursive;
 *   join_leaves  - the scan buffer of _confirm_leaves (leaves joined by SEP, key names after);
 *   char_offsets - UTF-8 byte offsets of the prefilter to str offsets (_hits.byte_to_char);
 *   leaves_by_key - leaf indices grouped by key words (for context-required detectors);
 *   mask_alnum / mask_from - the format-preserving masks of _mask.py (previews, redaction);
 *   new_objects   - findings built without a frozen dataclass's per-field __setattr__.
 * Only Python objects are handled (never raw pointers into caller memory), every length is
 * checked, and any failure propagates as a Python exception. Values are never logged or kept
 * beyond the call: the only cache holds normalised key names.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define MAX_DEPTH 900     /* containers nested deeper: the caller falls back to the Python walk */
#define KEY_CACHE 8192    /* distinct key names remembered (like norm_key's lru_cache) */

static PyObject *norm_cache;   /* raw key -> normalised words */
static PyObject *blob_cache;   /* key words -> "words wordswithoutspaces" */
static PyObject *empty_tuple;
static PyObject *space;

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
    if (PyUnicode_CheckExact(k)) {
        if (PyDict_GET_SIZE(norm_cache) >= KEY_CACHE) PyDict_Clear(norm_cache);
        if (PyDict_SetItem(norm_cache, k, r) < 0) {
            Py_DECREF(r);
            return NULL;
        }
    }
    return r;
}

/* words of a child: "last name" or "name" when last is empty */
static PyObject *words_of(PyObject *last, PyObject *name) {
    if (PyUnicode_GET_LENGTH(last) == 0) {
        Py_INCREF(name);
        return name;
    }
    return join2(last, name);
}

/* (*path, k) */
static PyObject *extend(PyObject *path, PyObject *k) {
    Py_ssize_t n = PyTuple_GET_SIZE(path);
    PyObject *t = PyTuple_New(n + 1);
    if (t == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *x = PyTuple_GET_ITEM(path, i);
        Py_INCREF(x);
        PyTuple_SET_ITEM(t, i, x);
    }
    Py_INCREF(k);
    PyTuple_SET_ITEM(t, n, k);
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
        PyObject *idx = PyLong_FromSsize_t(i);
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
    if (r != NULL && PyUnicode_CheckExact(key)) {
        if (PyDict_GET_SIZE(blob_cache) >= KEY_CACHE) PyDict_Clear(blob_cache);
        if (PyDict_SetItem(blob_cache, key, r) < 0) Py_CLEAR(r);
    }
    return r;
}

/* join_leaves(leaves, sep) -> (text, starts, scanned_bytes, scanned)
 * text = sep.join(leaf.text); starts = offset of each leaf in text;
 * scanned = text + sep + " | ".join(f"{k} {k.replace(' ', '')}" for k in {leaf.key ...});
 * scanned_bytes = scanned.encode("utf-8", "surrogatepass"). The key set is built like the
 * Python set comprehension (same insertion order), so it iterates in the same order. */
static PyObject *py_join_leaves(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *leaves, *sep;
    if (!PyArg_ParseTuple(args, "O!U:join_leaves", &PyList_Type, &leaves, &sep)) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(leaves), seplen = PyUnicode_GET_LENGTH(sep);
    PyObject *texts = PyList_New(n), *starts = PyList_New(n), *keys = PySet_New(NULL);
    PyObject *text = NULL, *blobs = NULL, *blob = NULL, *scanned = NULL, *bytes = NULL;
    PyObject *bar = NULL, *parts = NULL, *res = NULL;
    if (texts == NULL || starts == NULL || keys == NULL) goto done;
    Py_ssize_t pos = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *leaf = PyList_GET_ITEM(leaves, i);
        if (!PyTuple_Check(leaf) || PyTuple_GET_SIZE(leaf) < 3 ||
            !PyUnicode_Check(PyTuple_GET_ITEM(leaf, 1)) ||
            !PyUnicode_Check(PyTuple_GET_ITEM(leaf, 2))) {
            PyErr_SetString(PyExc_TypeError, "join_leaves needs Leaf tuples");
            goto done;
        }
        PyObject *key = PyTuple_GET_ITEM(leaf, 1), *t = PyTuple_GET_ITEM(leaf, 2);
        Py_INCREF(t);
        PyList_SET_ITEM(texts, i, t);
        PyObject *p = PyLong_FromSsize_t(pos);
        if (p == NULL) goto done;
        PyList_SET_ITEM(starts, i, p);
        pos += PyUnicode_GET_LENGTH(t) + seplen;
        if (PyUnicode_GET_LENGTH(key) > 0 && PySet_Add(keys, key) < 0) goto done;
    }
    text = PyUnicode_Join(sep, texts);
    if (text == NULL) goto done;
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
    if (bytes == NULL) goto done;
    res = PyTuple_Pack(4, text, starts, bytes, scanned);
done:
    Py_XDECREF(texts);
    Py_XDECREF(starts);
    Py_XDECREF(keys);
    Py_XDECREF(text);
    Py_XDECREF(blobs);
    Py_XDECREF(bar);
    Py_XDECREF(blob);
    Py_XDECREF(parts);
    Py_XDECREF(scanned);
    Py_XDECREF(bytes);
    return res;
}

/* char_offsets(s, offsets) -> list: each UTF-8 (surrogatepass) byte offset of ``s`` as a str
 * offset, like _hits.byte_to_char: offset minus the extra bytes of the non-ASCII characters
 * that start before it. ``offsets`` must be ascending. */
static PyObject *py_char_offsets(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *s, *offsets;
    if (!PyArg_ParseTuple(args, "UO!:char_offsets", &s, &PyList_Type, &offsets)) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(offsets), len = PyUnicode_GET_LENGTH(s);
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    PyObject *out = PyList_New(n);
    if (out == NULL) return NULL;
    Py_ssize_t i = 0;      /* next character */
    long long b = 0;       /* its byte offset */
    long long extra = 0;   /* extra bytes of the characters before it */
    long long prev = 0;
    for (Py_ssize_t j = 0; j < n; j++) {
        long long o = PyLong_AsLongLong(PyList_GET_ITEM(offsets, j));
        if (o == -1 && PyErr_Occurred()) goto fail;
        if (j > 0 && o < prev) {
            PyErr_SetString(PyExc_ValueError, "offsets must be ascending");
            goto fail;
        }
        prev = o;
        while (i < len && b < o) {
            Py_UCS4 c = PyUnicode_READ(kind, data, i);
            int w = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
            extra += w - 1;
            b += w;
            i++;
        }
        PyObject *v = PyLong_FromLongLong(o - extra);
        if (v == NULL) goto fail;
        PyList_SET_ITEM(out, j, v);
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* leaves_by_key(leaves) -> {key: [leaf index, ...]} for the leaves with a non-empty key, in
 * leaf order (the dict built by _confirm_leaves for context-required detectors). */
static PyObject *py_leaves_by_key(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *leaves;
    if (!PyArg_ParseTuple(args, "O!:leaves_by_key", &PyList_Type, &leaves)) return NULL;
    PyObject *out = PyDict_New();
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(leaves); i++) {
        PyObject *leaf = PyList_GET_ITEM(leaves, i);
        if (!PyTuple_Check(leaf) || PyTuple_GET_SIZE(leaf) < 2 ||
            !PyUnicode_Check(PyTuple_GET_ITEM(leaf, 1))) {
            PyErr_SetString(PyExc_TypeError, "leaves_by_key needs Leaf tuples");
            goto fail;
        }
        PyObject *key = PyTuple_GET_ITEM(leaf, 1);
        if (PyUnicode_GET_LENGTH(key) == 0) continue;
        PyObject *idx = PyLong_FromSsize_t(i);
        if (idx == NULL) goto fail;
        PyObject *lst = PyDict_GetItemWithError(out, key); /* borrowed */
        if (lst == NULL) {
            if (PyErr_Occurred()) {
                Py_DECREF(idx);
                goto fail;
            }
            lst = PyList_New(1);
            if (lst == NULL) {
                Py_DECREF(idx);
                goto fail;
            }
            PyList_SET_ITEM(lst, 0, idx);
            int rc = PyDict_SetItem(out, key, lst);
            Py_DECREF(lst);
            if (rc < 0) goto fail;
        } else {
            int rc = PyList_Append(lst, idx);
            Py_DECREF(idx);
            if (rc < 0) goto fail;
        }
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
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
        if (Py_UNICODE_ISALNUM(PyUnicode_READ(kind, data, i))) total++;
    Py_ssize_t first = keep_head, last = total - keep_tail; /* alnum ordinals hidden: [first, last) */
    Py_UCS4 *buf = PyMem_New(Py_UCS4, n > 0 ? n : 1);
    if (buf == NULL) return PyErr_NoMemory();
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (i >= lo && Py_UNICODE_ISALNUM(c)) {
            if (k >= first && k < last) c = '*';
            k++;
        }
        buf[i] = c;
    }
    PyObject *r = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, buf, n);
    PyMem_Free(buf);
    return r;
}

/* mask_alnum(value, keep_tail, keep_head) == _mask._mask_alnum(value, keep_tail, keep_head) */
static PyObject *py_mask_alnum(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *s;
    Py_ssize_t keep_tail, keep_head;
    if (!PyArg_ParseTuple(args, "Unn:mask_alnum", &s, &keep_tail, &keep_head)) return NULL;
    if (keep_tail < 0 || keep_head < 0) {
        PyErr_SetString(PyExc_ValueError, "keep_tail and keep_head must be >= 0");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(s), total = 0;
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    for (Py_ssize_t i = 0; i < n; i++)
        if (Py_UNICODE_ISALNUM(PyUnicode_READ(kind, data, i))) total++;
    if (keep_tail && total < 2 * keep_tail) keep_tail = 0; /* too short to show a tail */
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

/* new_objects(cls, names, rows) -> [obj, ...]: for each row, an instance of ``cls`` (a class
 * with __slots__ and no __init__ side effects, e.g. a frozen slots dataclass) whose slots
 * ``names`` hold the row's values -- what ``cls(**dict(zip(names, row)))`` builds, without the
 * per-field object.__setattr__ of a frozen dataclass's __init__. Every name must be a slot
 * (member descriptor) of ``cls``; the descriptor checks types as usual. */
static PyObject *py_new_objects(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *cls, *names, *rows;
    if (!PyArg_ParseTuple(args, "O!O!O!:new_objects", &PyType_Type, &cls, &PyTuple_Type, &names,
                          &PyList_Type, &rows))
        return NULL;
    PyTypeObject *type = (PyTypeObject *)cls;
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
    }
done:
    Py_DECREF(descrs);
    return out;
}

static PyMethodDef methods[] = {
    {"json_leaves", py_json_leaves, METH_VARARGS,
     "json_leaves(obj, prefix, leaf_type, norm_key, normalize) -> list | None"},
    {"join_leaves", py_join_leaves, METH_VARARGS,
     "join_leaves(leaves, sep) -> (text, starts, scanned_bytes, scanned)"},
    {"leaves_by_key", py_leaves_by_key, METH_VARARGS,
     "leaves_by_key(leaves) -> {key: [leaf index, ...]}"},
    {"mask_alnum", py_mask_alnum, METH_VARARGS,
     "mask_alnum(value, keep_tail, keep_head) -> value with alphanumerics starred"},
    {"mask_from", py_mask_from, METH_VARARGS,
     "mask_from(value, keep) -> value[:keep] + the rest with alphanumerics starred"},
    {"new_objects", py_new_objects, METH_VARARGS,
     "new_objects(cls, slot_names, rows) -> list of cls instances with those slots set"},
    {"char_offsets", py_char_offsets, METH_VARARGS,
     "char_offsets(s, ascending_byte_offsets) -> list of str offsets"},
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
    empty_tuple = PyTuple_New(0);
    space = PyUnicode_FromString(" ");
    if (norm_cache == NULL || blob_cache == NULL || empty_tuple == NULL || space == NULL)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddIntConstant(m, "MAX_DEPTH", MAX_DEPTH) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
