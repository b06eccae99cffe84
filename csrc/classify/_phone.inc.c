/*
 * phone: the native twin of _validators.phone for plain international numbers (included by
 * _native.c).
 *
 * _phone.international_valid decides a "+" number from phonenumbers' metadata: the calling
 * code, the national prefix (present: ask phonenumbers), the region whose leading digits or
 * plan fit, and a full match of the general and the type descriptions. This walks the same
 * steps on the same metadata, with each pattern as a table over the digits 0-9
 * (_phone_dfa.compile_dfa, built on first use like re.compile) instead of a re call, and
 * without a Python frame per number. Anything else — another shape, a non-ASCII value, a
 * calling code or a (code, length) whose plans Python has not registered yet, a national
 * prefix that matches, a pattern without a table — is answered by calling the Python
 * validator itself (phone_setup's fallback), so the answer is always phone(value)'s.
 * Only metadata is kept (plans, tables); never a value.
 */

#define PHONE_DEAD 0xFFFF
#define PHONE_FINAL 1
#define PHONE_FINAL_AT_END 2
#define PHONE_MAX_NSN 17
#define PHONE_UNBUILT 0
#define PHONE_BUILT 1
#define PHONE_NO_TABLE 2

typedef struct {
    PyObject *pattern;  /* str (owned), or NULL: no such pattern */
    int state;          /* PHONE_UNBUILT / PHONE_BUILT / PHONE_NO_TABLE */
    Py_ssize_t n;       /* states */
    uint8_t *flags;     /* n */
    uint16_t *next;     /* n * 10 */
    int has_lengths;    /* the description lists possible lengths */
    uint32_t lengths;   /* bit L: length L listed */
} PhoneTable;

typedef struct {
    PhoneTable leading, prefix, general;
    int has_general;   /* a general description with a pattern (else valid() is False) */
    Py_ssize_t ntypes;
    PhoneTable *types;
} PhonePlan;

typedef struct {
    int width;          /* digits of the calling code */
    int single;         /* one region */
    PyObject *main;     /* capsule of the first region's plan, or None (ask phonenumbers) */
    PyObject *cands[PHONE_MAX_NSN + 1]; /* tuple of plan capsules per length, or NULL */
} PhoneCode;

static PyObject *phone_fallback;  /* _validators.phone */
static PyObject *phone_compile;   /* pattern -> table bytes | None */
static uint8_t phone_is_code[1000];
static PhoneCode *phone_codes[1000];

static void phone_table_clear(PhoneTable *t) {
    Py_CLEAR(t->pattern);
    PyMem_Free(t->flags);
    PyMem_Free(t->next);
    t->flags = NULL;
    t->next = NULL;
}

static void phone_plan_free(PyObject *capsule) {
    PhonePlan *p = PyCapsule_GetPointer(capsule, "ringfence.phone_plan");
    if (p == NULL) return;
    phone_table_clear(&p->leading);
    phone_table_clear(&p->prefix);
    phone_table_clear(&p->general);
    for (Py_ssize_t i = 0; i < p->ntypes; i++) phone_table_clear(&p->types[i]);
    PyMem_Free(p->types);
    PyMem_Free(p);
}

/* Read a table built by _phone_dfa.compile_dfa; 0 (no table) when it is not well formed. */
static int phone_table_load(PhoneTable *t, PyObject *blob) {
    if (!PyBytes_Check(blob)) return 0;
    const uint8_t *b = (const uint8_t *)PyBytes_AS_STRING(blob);
    Py_ssize_t size = PyBytes_GET_SIZE(blob);
    if (size < 2) return 0;
    Py_ssize_t n = b[0] | (b[1] << 8);
    if (n < 1 || size != 2 + n + 20 * n) return 0;
    uint8_t *flags = PyMem_Malloc((size_t)n);
    uint16_t *next = PyMem_Malloc((size_t)n * 10 * sizeof(uint16_t));
    if (flags == NULL || next == NULL) {
        PyMem_Free(flags);
        PyMem_Free(next);
        return 0;
    }
    memcpy(flags, b + 2, (size_t)n);
    const uint8_t *tr = b + 2 + n;
    for (Py_ssize_t i = 0; i < 10 * n; i++) {
        uint16_t v = (uint16_t)(tr[2 * i] | (tr[2 * i + 1] << 8));
        if (v != PHONE_DEAD && v >= n) {
            PyMem_Free(flags);
            PyMem_Free(next);
            return 0;
        }
        next[i] = v;
    }
    t->n = n;
    t->flags = flags;
    t->next = next;
    return 1;
}

/* The table of t, built on first use; 0 when there is none (the caller asks Python). */
static int phone_table_ready(PhoneTable *t) {
    if (t->state == PHONE_BUILT) return 1;
    if (t->state == PHONE_NO_TABLE || t->pattern == NULL || phone_compile == NULL) return 0;
    PyObject *blob = PyObject_CallOneArg(phone_compile, t->pattern);
    /* The compiler is Python: another thread may have built this table meanwhile (its
     * arrays are in use only while it holds the GIL, so they stay; ours is dropped). */
    if (t->state != PHONE_UNBUILT) {
        Py_XDECREF(blob);
        PyErr_Clear();
        return t->state == PHONE_BUILT;
    }
    if (blob == NULL) {
        PyErr_Clear(); /* not fatal: the Python validator answers instead */
        t->state = PHONE_NO_TABLE;
        return 0;
    }
    int ok = phone_table_load(t, blob);
    Py_DECREF(blob);
    t->state = ok ? PHONE_BUILT : PHONE_NO_TABLE;
    return ok;
}

/* re.fullmatch on the digit values d[0..n) (0-9 each): 1 match, 0 none */
static int phone_full(const PhoneTable *t, const uint8_t *d, Py_ssize_t n) {
    Py_ssize_t st = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        st = t->next[st * 10 + d[i]];
        if (st == PHONE_DEAD) return 0;
    }
    return (t->flags[st] & (PHONE_FINAL | PHONE_FINAL_AT_END)) != 0;
}

/* re.match (a match at the start, of any length) on d[0..n) */
static int phone_prefix(const PhoneTable *t, const uint8_t *d, Py_ssize_t n) {
    Py_ssize_t st = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (t->flags[st] & PHONE_FINAL) return 1;
        st = t->next[st * 10 + d[i]];
        if (st == PHONE_DEAD) return 0;
    }
    return (t->flags[st] & (PHONE_FINAL | PHONE_FINAL_AT_END)) != 0;
}

/* _Plan.valid(nsn): 1 valid, 0 not, -1 a table is missing (ask Python) */
static int phone_valid(PhonePlan *p, const uint8_t *d, Py_ssize_t n) {
    if (!p->has_general) return 0;
    PhoneTable *g = &p->general;
    if (g->has_lengths && (n >= 32 || !((g->lengths >> n) & 1))) return 0;
    if (!phone_table_ready(g)) return -1;
    if (!phone_full(g, d, n)) return 0;
    for (Py_ssize_t i = 0; i < p->ntypes; i++) {
        PhoneTable *t = &p->types[i];
        if (t->has_lengths && (n >= 32 || !((t->lengths >> n) & 1))) continue;
        if (!phone_table_ready(t)) return -1;
        if (phone_full(t, d, n)) return 1;
    }
    return 0;
}

/* plan.leading.match(nsn): 1, 0, or -1 (no table) */
static int phone_leading(PhonePlan *p, const uint8_t *d, Py_ssize_t n) {
    if (!phone_table_ready(&p->leading)) return -1;
    return phone_prefix(&p->leading, d, n);
}

/* international_valid's decision for nsn under calling code c: 1, 0, or -1 (ask Python) */
static int phone_decide(PhoneCode *c, const uint8_t *d, Py_ssize_t n) {
    if (c->main == NULL || c->main == Py_None) return -1;
    PhonePlan *main = PyCapsule_GetPointer(c->main, "ringfence.phone_plan");
    if (main == NULL) {
        PyErr_Clear();
        return -1;
    }
    if (main->prefix.pattern != NULL) {
        if (!phone_table_ready(&main->prefix)) return -1;
        if (phone_prefix(&main->prefix, d, n)) return -1; /* a national prefix: phonenumbers */
    }
    if (n > PHONE_MAX_NSN) return 0;
    if (c->single) return phone_valid(main, d, n);
    PyObject *plans = c->cands[n];
    if (plans == NULL) {
        /* the first region alone, as international_valid tries it before the others */
        if (main->leading.pattern != NULL) {
            int m = phone_leading(main, d, n);
            if (m != 0) return m < 0 ? -1 : phone_valid(main, d, n);
        } else {
            int v = phone_valid(main, d, n);
            if (v != 0) return v;
        }
        return -1; /* the other regions: Python (it registers them for the next number) */
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(plans); i++) {
        PhonePlan *p = PyCapsule_GetPointer(PyTuple_GET_ITEM(plans, i), "ringfence.phone_plan");
        if (p == NULL) {
            PyErr_Clear();
            return -1;
        }
        if (p->leading.pattern != NULL) {
            int m = phone_leading(p, d, n);
            if (m < 0) return -1;
            if (m) return phone_valid(p, d, n);
        } else {
            int v = phone_valid(p, d, n);
            if (v != 0) return v;
        }
    }
    return 0;
}

/* phone(value): 1 / 0 decided here, -1 for the Python validator */
static int phone_native(PyObject *value) {
    if (!PyUnicode_IS_ASCII(value)) return -1;
    Py_ssize_t len = PyUnicode_GET_LENGTH(value);
    if (len < 3 || len > 64) return -1; /* longer: international_valid leaves it to phonenumbers */
    const char *s = (const char *)PyUnicode_1BYTE_DATA(value);
    /* "+" first and a digit last: strip() changes nothing and the value is of _SHAPE when
     * every character between is a digit or one of " .-()" and the second is a digit */
    if (s[0] != '+' || s[1] < '0' || s[1] > '9' || s[len - 1] < '0' || s[len - 1] > '9')
        return -1;
    uint8_t d[64];
    Py_ssize_t nd = 0;
    for (Py_ssize_t i = 1; i < len; i++) {
        char ch = s[i];
        if (ch >= '0' && ch <= '9')
            d[nd++] = (uint8_t)(ch - '0');
        else if (ch != ' ' && ch != '.' && ch != '-' && ch != '(' && ch != ')')
            return -1;
    }
    /* phone(): 7 to 15 digits, not all the same */
    if (nd < 7 || nd > 15) return 0;
    Py_ssize_t same = 1;
    while (same < nd && d[same] == d[0]) same++;
    if (same == nd) return 0;
    /* international_valid: no calling code starts with 0; the first 1 to 3 digits that are one */
    if (d[0] == 0) return 0;
    int cc = d[0], width = 1;
    if (!phone_is_code[cc]) {
        cc = cc * 10 + d[1];
        width = 2;
        if (!phone_is_code[cc]) {
            cc = cc * 10 + d[2];
            width = 3;
            if (!phone_is_code[cc]) return 0;
        }
    }
    PhoneCode *c = phone_codes[cc];
    if (c == NULL || c->width != width) return -1; /* not registered yet */
    return phone_decide(c, d + width, nd - width);
}

static PyObject *py_phone(PyObject *Py_UNUSED(self), PyObject *arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "phone needs a str");
        return NULL;
    }
    int r = phone_fallback != NULL ? phone_native(arg) : -1;
    if (r >= 0) return PyBool_FromLong(r);
    if (phone_fallback == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "phone_setup was not called");
        return NULL;
    }
    return PyObject_CallOneArg(phone_fallback, arg);
}

/* phone_setup(fallback, compile, codes): codes is 1000 bytes, 1 where the index is a calling
 * code (COUNTRY_CODE_TO_REGION_CODE, 1..999) */
static PyObject *py_phone_setup(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *fallback, *compile, *codes;
    if (!PyArg_ParseTuple(args, "OOO!:phone_setup", &fallback, &compile, &PyBytes_Type, &codes))
        return NULL;
    if (PyBytes_GET_SIZE(codes) != 1000) {
        PyErr_SetString(PyExc_ValueError, "codes must be 1000 bytes");
        return NULL;
    }
    memcpy(phone_is_code, PyBytes_AS_STRING(codes), 1000);
    phone_is_code[0] = 0;
    Py_INCREF(fallback);
    Py_XSETREF(phone_fallback, fallback);
    Py_INCREF(compile);
    Py_XSETREF(phone_compile, compile);
    Py_RETURN_NONE;
}

/* One description: pattern (str or None) and its possible lengths (a tuple of ints). */
static int phone_table_init(PhoneTable *t, PyObject *pattern, PyObject *lengths) {
    memset(t, 0, sizeof(*t));
    if (pattern != Py_None) {
        if (!PyUnicode_Check(pattern)) {
            PyErr_SetString(PyExc_TypeError, "a pattern must be a str or None");
            return -1;
        }
        Py_INCREF(pattern);
        t->pattern = pattern;
    }
    if (lengths == NULL) return 0;
    if (!PyTuple_Check(lengths)) {
        PyErr_SetString(PyExc_TypeError, "lengths must be a tuple");
        return -1;
    }
    t->has_lengths = PyTuple_GET_SIZE(lengths) > 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(lengths); i++) {
        long v = PyLong_AsLong(PyTuple_GET_ITEM(lengths, i));
        if (v == -1 && PyErr_Occurred()) return -1;
        if (v >= 0 && v < 32) t->lengths |= (uint32_t)1 << v;
    }
    return 0;
}

/* phone_plan(leading, prefix, general, general_lengths, types) -> plan capsule; patterns are
 * str or None, types a tuple of (pattern, lengths) — _Plan's own, in its order */
static PyObject *py_phone_plan(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *leading, *prefix, *general, *glengths, *types;
    if (!PyArg_ParseTuple(args, "OOOO!O!:phone_plan", &leading, &prefix, &general, &PyTuple_Type,
                          &glengths, &PyTuple_Type, &types))
        return NULL;
    PhonePlan *p = PyMem_Calloc(1, sizeof(PhonePlan));
    if (p == NULL) return PyErr_NoMemory();
    Py_ssize_t nt = PyTuple_GET_SIZE(types);
    p->types = PyMem_Calloc(nt ? (size_t)nt : 1, sizeof(PhoneTable));
    PyObject *cap = NULL;
    if (p->types == NULL) {
        PyMem_Free(p);
        return PyErr_NoMemory();
    }
    cap = PyCapsule_New(p, "ringfence.phone_plan", phone_plan_free);
    if (cap == NULL) {
        PyMem_Free(p->types);
        PyMem_Free(p);
        return NULL;
    }
    /* from here the capsule frees whatever was set */
    if (phone_table_init(&p->leading, leading, NULL) < 0 ||
        phone_table_init(&p->prefix, prefix, NULL) < 0 ||
        phone_table_init(&p->general, general, glengths) < 0)
        goto fail;
    p->has_general = general != Py_None;
    for (Py_ssize_t i = 0; i < nt; i++) {
        PyObject *it = PyTuple_GET_ITEM(types, i);
        if (!PyTuple_Check(it) || PyTuple_GET_SIZE(it) != 2 ||
            PyTuple_GET_ITEM(it, 0) == Py_None) {
            PyErr_SetString(PyExc_TypeError, "a type is (pattern, lengths)");
            goto fail;
        }
        p->ntypes = i + 1;
        if (phone_table_init(&p->types[i], PyTuple_GET_ITEM(it, 0), PyTuple_GET_ITEM(it, 1)) <
            0)
            goto fail;
    }
    return cap;
fail:
    Py_DECREF(cap);
    return NULL;
}

static PhoneCode *phone_code_at(long cc, long width) {
    if (cc < 1 || cc > 999 || width < 1 || width > 3) {
        PyErr_SetString(PyExc_ValueError, "calling code out of range");
        return NULL;
    }
    PhoneCode *c = phone_codes[cc];
    if (c == NULL) {
        c = PyMem_Calloc(1, sizeof(PhoneCode));
        if (c == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        c->width = (int)width;
        phone_codes[cc] = c;
    }
    return c;
}

/* phone_main(cc, width, regions, plan | None): the plan of cc's first region */
static PyObject *py_phone_main(PyObject *Py_UNUSED(self), PyObject *args) {
    long cc, width, regions;
    PyObject *plan;
    if (!PyArg_ParseTuple(args, "lllO:phone_main", &cc, &width, &regions, &plan)) return NULL;
    if (plan != Py_None && !PyCapsule_IsValid(plan, "ringfence.phone_plan")) {
        PyErr_SetString(PyExc_TypeError, "a plan capsule or None");
        return NULL;
    }
    PhoneCode *c = phone_code_at(cc, width);
    if (c == NULL) return NULL;
    c->width = (int)width;
    c->single = regions == 1;
    Py_INCREF(plan);
    Py_XSETREF(c->main, plan);
    Py_RETURN_NONE;
}

/* phone_candidates(cc, length, plans): _CANDIDATE_PLANS[(cc, length)] */
static PyObject *py_phone_candidates(PyObject *Py_UNUSED(self), PyObject *args) {
    long cc, length;
    PyObject *plans;
    if (!PyArg_ParseTuple(args, "llO!:phone_candidates", &cc, &length, &PyTuple_Type, &plans))
        return NULL;
    if (length < 0 || length > PHONE_MAX_NSN) Py_RETURN_NONE; /* never asked for */
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(plans); i++)
        if (!PyCapsule_IsValid(PyTuple_GET_ITEM(plans, i), "ringfence.phone_plan")) {
            PyErr_SetString(PyExc_TypeError, "plans must be plan capsules");
            return NULL;
        }
    PhoneCode *c = phone_codes[cc < 1 || cc > 999 ? 0 : cc];
    if (c == NULL || c->main == NULL) {
        PyErr_SetString(PyExc_ValueError, "phone_main first");
        return NULL;
    }
    Py_INCREF(plans);
    Py_XSETREF(c->cands[length], plans);
    Py_RETURN_NONE;
}

/* phone_decided(value) -> bool | None: the native answer alone (None: the Python validator
 * would be asked). Tests use it to see which numbers the tables decide. */
static PyObject *py_phone_decided(PyObject *Py_UNUSED(self), PyObject *arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "phone_decided needs a str");
        return NULL;
    }
    int r = phone_native(arg);
    if (r < 0) Py_RETURN_NONE;
    return PyBool_FromLong(r);
}

/* phone_plans_decide(main, single, plans | None, nsn) -> bool | None: international_valid's
 * decision after the calling code, for plans given directly (tests hold it to the Python
 * loop on made-up plans: lengths, leading digits, national prefixes the metadata does not
 * exercise). nsn is a digit string. */
static PyObject *py_phone_plans_decide(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *main, *plans, *nsn;
    int single;
    if (!PyArg_ParseTuple(args, "OpOU:phone_plans_decide", &main, &single, &plans, &nsn))
        return NULL;
    if (!PyCapsule_IsValid(main, "ringfence.phone_plan") ||
        (plans != Py_None && !PyTuple_Check(plans))) {
        PyErr_SetString(PyExc_TypeError, "a plan capsule and a tuple of them or None");
        return NULL;
    }
    if (plans != Py_None)
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(plans); i++)
            if (!PyCapsule_IsValid(PyTuple_GET_ITEM(plans, i), "ringfence.phone_plan")) {
                PyErr_SetString(PyExc_TypeError, "plans must be plan capsules");
                return NULL;
            }
    Py_ssize_t n = PyUnicode_GET_LENGTH(nsn);
    if (!PyUnicode_IS_ASCII(nsn) || n > 64) {
        PyErr_SetString(PyExc_ValueError, "nsn must be at most 64 ASCII digits");
        return NULL;
    }
    uint8_t d[64];
    const char *s = (const char *)PyUnicode_1BYTE_DATA(nsn);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            PyErr_SetString(PyExc_ValueError, "nsn must be digits");
            return NULL;
        }
        d[i] = (uint8_t)(s[i] - '0');
    }
    PhoneCode c;
    memset(&c, 0, sizeof(c));
    c.single = single;
    c.main = main;
    if (plans != Py_None && n <= PHONE_MAX_NSN) c.cands[n] = plans;
    int r = phone_decide(&c, d, n);
    if (r < 0) Py_RETURN_NONE;
    return PyBool_FromLong(r);
}
