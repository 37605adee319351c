/* The limits ledger's request path in C (api/govern/ledger.py, api/govern/limits.py).

`Lock`: the lock kept in the ledger file, a robust process-shared pthread mutex (Linux: glibc, musl), else
`flock` on the file. `Gate`: one client's entry in the ledger, let in (`admit`) and settled (`settle`) each in one
call under that lock: the same figures the Python code worked out, in a hundred-odd instructions where the
interpreter, ctypes and memoryview took some 30,000 cycles a request (docs/perf.md). What a refusal says, the
budget's calendar and the log stay in Python (api/govern/limits.py), which reads the codes below.

The GIL is held throughout, as by the Python it replaces: the lock is only ever held for a few numbers' change.
`flock` is the exception: it lets go of the GIL while it waits (another thread may hold it). */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>

#ifdef __linux__
#define HAVE_ROBUST 1
#else
#define HAVE_ROBUST 0
#endif

/* An entry's numbers, by index: the one declaration of them (the module's constants of the same names). */
enum { RPM_CLOCK, TPM_CLOCK, PERIOD, SPENT, UNPRICED, IN_FLIGHT = 6, ENTRY_NUMBERS };
/* What `admit` and `settle` answer (`RECOVERED` added to any of them). */
enum { ADMITTED, BUDGET, CONCURRENT, TPM, RPM, OUT_OF_PERIOD, UNPRICED_ANSWER, RECOVERED = 16 };
#define MINUTE 60.0
#define TPM_FULL (MINUTE - 1e-9)

/* --- Lock ---------------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    Py_buffer memory;          /* the file's memory, kept exported while the lock is open */
    pthread_mutex_t *mutex;    /* NULL: `flock` on fd */
    int fd;
    int open;
} LockObject;

static int
lock_take(LockObject *self)
{
#if HAVE_ROBUST
    if (self->mutex) {
        int code = pthread_mutex_lock(self->mutex);
        if (code == EOWNERDEAD)
            pthread_mutex_consistent(self->mutex);
        return code;
    }
#endif
    int failed;
    Py_BEGIN_ALLOW_THREADS
    failed = flock(self->fd, LOCK_EX);
    Py_END_ALLOW_THREADS
    return failed ? errno : 0;
}

static void
lock_give(LockObject *self)
{
    if (self->mutex)
        pthread_mutex_unlock(self->mutex);
    else
        flock(self->fd, LOCK_UN);
}

static PyObject *
closed_error(void)
{
    PyErr_SetString(PyExc_ValueError, "the lock's file is closed");
    return NULL;
}

/* The lock taken: 0, or the code of the dead holder (EOWNERDEAD: held now, consistent) to hand to Python.
   -1 with an exception set when it cannot be taken. */
static int
lock_enter(LockObject *self)
{
    if (!self->open) {
        closed_error();
        return -1;
    }
    int code = lock_take(self);
    if (code && code != EOWNERDEAD) {
        errno = code;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    return code;
}

/* Where the mutex at `at` of `memory` is, `memory` exported as `view` (to release); NULL with an exception set. */
static pthread_mutex_t *
mutex_in(PyObject *memory, Py_ssize_t at, Py_buffer *view)
{
    if (PyObject_GetBuffer(memory, view, PyBUF_WRITABLE) < 0)
        return NULL;
    if (at < 0 || at + (Py_ssize_t)sizeof(pthread_mutex_t) > view->len) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_ValueError, "the mutex lies outside the memory");
        return NULL;
    }
    return (pthread_mutex_t *)((char *)view->buf + at);
}

static int
Lock_init(LockObject *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"memory", "at", "fd", "robust", NULL};
    PyObject *memory;
    Py_ssize_t at;
    int fd, robust;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "Onip", keywords, &memory, &at, &fd, &robust))
        return -1;
    if (self->open) {
        PyErr_SetString(PyExc_RuntimeError, "the lock is made once");
        return -1;
    }
    pthread_mutex_t *mutex = mutex_in(memory, at, &self->memory);
    if (mutex == NULL)
        return -1;
    self->mutex = robust && HAVE_ROBUST ? mutex : NULL;
    self->fd = fd;
    self->open = 1;
    return 0;
}

static PyObject *
Lock_take(LockObject *self, PyObject *unused)
{
    int code = lock_enter(self);
    return code < 0 ? NULL : PyLong_FromLong(code);
}

static PyObject *
Lock_release(LockObject *self, PyObject *unused)
{
    if (!self->open)
        return closed_error();
    lock_give(self);
    Py_RETURN_NONE;
}

static PyObject *
Lock_close(LockObject *self, PyObject *unused)
{
    if (self->open) {
        self->open = 0;
        PyBuffer_Release(&self->memory);
    }
    Py_RETURN_NONE;
}

static void
Lock_dealloc(LockObject *self)
{
    if (self->open)
        PyBuffer_Release(&self->memory);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Lock_methods[] = {
    {"take", (PyCFunction)Lock_take, METH_NOARGS,
     "Take the lock: 0, or EOWNERDEAD when its holder died holding it (it is ours then, made consistent)."},
    {"release", (PyCFunction)Lock_release, METH_NOARGS, "Let go of the lock."},
    {"close", (PyCFunction)Lock_close, METH_NOARGS,
     "Let go of the file's memory (it can be unmapped then); the lock and its gates raise ValueError from then on."},
    {NULL}
};

static PyTypeObject LockType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "api.govern._gate.Lock",
    .tp_doc = PyDoc_STR("Lock(memory, at, fd, robust): the robust mutex at `at` of `memory` (robust, where the "
                        "platform has one), else flock on `fd`. Not re-entrant."),
    .tp_basicsize = sizeof(LockObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Lock_init,
    .tp_dealloc = (destructor)Lock_dealloc,
    .tp_methods = Lock_methods,
};

static PyObject *
initialise_mutex(PyObject *module, PyObject *args)
{
    PyObject *memory;
    Py_ssize_t at;
    if (!PyArg_ParseTuple(args, "On", &memory, &at))
        return NULL;
#if HAVE_ROBUST
    Py_buffer view;
    pthread_mutex_t *mutex = mutex_in(memory, at, &view);
    if (mutex == NULL)
        return NULL;
    pthread_mutexattr_t attributes;
    int code = pthread_mutexattr_init(&attributes);
    if (!code)
        code = pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
    if (!code)
        code = pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
    if (!code) {
        memset(mutex, 0, sizeof(*mutex));
        code = pthread_mutex_init(mutex, &attributes);
    }
    pthread_mutexattr_destroy(&attributes);
    PyBuffer_Release(&view);
    if (code) {
        errno = code;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
#endif
    Py_RETURN_NONE;
}

/* --- Gate ---------------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    LockObject *lock;
    double *values;            /* the client's entry: ENTRY_NUMBERS numbers */
    uint32_t *seat;            /* this worker's count of the entry's requests in flight */
    double rpm_interval, rpm_full, tpm_interval, concurrent, budget;
    int has_budget, budget_in_tokens;
    double period_starts, period_ends;   /* the budget's period the entry is in (`enter_period`) */
} GateObject;

static int
Gate_init(GateObject *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"lock", "values_at", "seat_at", "rpm", "tpm", "max_concurrent", "budget",
                               "budget_in_tokens", NULL};
    LockObject *lock;
    Py_ssize_t values_at, seat_at;
    long long rpm, tpm, concurrent;
    int in_tokens;
    PyObject *budget;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!nnLLLOp", keywords, &LockType, &lock, &values_at, &seat_at,
                                     &rpm, &tpm, &concurrent, &budget, &in_tokens))
        return -1;
    if (!lock->open) {
        closed_error();
        return -1;
    }
    if (values_at < 0 || values_at % sizeof(double)
            || values_at + (Py_ssize_t)(ENTRY_NUMBERS * sizeof(double)) > lock->memory.len
            || seat_at < 0 || seat_at % sizeof(uint32_t) || seat_at + (Py_ssize_t)sizeof(uint32_t) > lock->memory.len) {
        PyErr_SetString(PyExc_ValueError, "the entry or its seat lies outside the memory");
        return -1;
    }
    if (rpm < 0 || tpm < 0 || concurrent < 0) {
        PyErr_SetString(PyExc_ValueError, "limits are not negative");
        return -1;
    }
    self->has_budget = budget != Py_None;
    if (self->has_budget && (self->budget = PyFloat_AsDouble(budget)) == -1.0 && PyErr_Occurred())
        return -1;
    Py_XSETREF(self->lock, (LockObject *)Py_NewRef(lock));
    self->values = (double *)((char *)lock->memory.buf + values_at);
    self->seat = (uint32_t *)((char *)lock->memory.buf + seat_at);
    self->rpm_interval = rpm ? MINUTE / (double)rpm : 0.0;
    self->rpm_full = MINUTE - self->rpm_interval + 1e-9;  /* the rpm-th request of the minute is in */
    self->tpm_interval = tpm ? MINUTE / (double)tpm : 0.0;
    self->concurrent = (double)concurrent;
    self->budget_in_tokens = in_tokens;
    self->period_starts = self->period_ends = 0.0;
    return 0;
}

/* Whether a METH_FASTCALL method was given `wanted` arguments (else a TypeError saying `usage`). */
static int
given(Py_ssize_t count, Py_ssize_t wanted, const char *usage)
{
    if (count == wanted)
        return 1;
    PyErr_Format(PyExc_TypeError, "%s takes %zd arguments (%zd given)", usage, wanted, count);
    return 0;
}

/* `number` as a double in `*out`: 0, or -1 with an exception set. */
static inline int
as_double(PyObject *number, double *out)
{
    *out = PyFloat_AsDouble(number);
    return *out == -1.0 && PyErr_Occurred() ? -1 : 0;
}

/* What a gate's call answers: `outcome`, told whether the lock was taken from a dead holder (`code`). */
static inline PyObject *
answer(long outcome, int code)
{
    return PyLong_FromLong(outcome | (code ? RECOVERED : 0));
}

static inline int
in_period(GateObject *self, double now)
{
    return !self->has_budget || (self->period_starts <= now && now < self->period_ends);
}

/* For a call at `now`: the lock taken, 1 (`*code`: 0, or EOWNERDEAD); else 0 with what to answer in `*early`:
   OUT_OF_PERIOD when the budget's period is not entered (nothing taken), NULL with an exception set. */
static int
gate_enter(GateObject *self, double now, int *code, PyObject **early)
{
    if (!in_period(self, now)) {
        *early = PyLong_FromLong(OUT_OF_PERIOD);
        return 0;
    }
    if ((*code = lock_enter(self->lock)) < 0) {
        *early = NULL;
        return 0;
    }
    return 1;
}

static PyObject *
Gate_admit(GateObject *self, PyObject *argument)
{
    double now;
    if (as_double(argument, &now) < 0)
        return NULL;
    int code;
    PyObject *early;
    if (!gate_enter(self, now, &code, &early))
        return early;
    double *values = self->values;
    long outcome = ADMITTED;
    /* budget first: waiting for the others would not help */
    if (self->has_budget && self->budget <= values[SPENT])
        outcome = BUDGET;
    else if (self->concurrent && values[IN_FLIGHT] >= self->concurrent)
        outcome = CONCURRENT;
    else if (self->tpm_interval && values[TPM_CLOCK] - now >= TPM_FULL)
        outcome = TPM;
    else if (self->rpm_interval && values[RPM_CLOCK] - now > self->rpm_full)
        outcome = RPM;
    else {
        if (self->rpm_interval)
            values[RPM_CLOCK] = (values[RPM_CLOCK] > now ? values[RPM_CLOCK] : now) + self->rpm_interval;
        if (self->concurrent) {
            *self->seat += 1;
            values[IN_FLIGHT] += 1.0;
        }
    }
    lock_give(self->lock);
    return answer(outcome, code);
}

static PyObject *
Gate_settle(GateObject *self, PyObject *const *args, Py_ssize_t count)
{
    double now, cost = 0.0;
    long long tokens;
    int priced = count == 3 && args[2] != Py_None;
    if (!given(count, 3, "settle(now, tokens, cost)") || as_double(args[0], &now) < 0
            || ((tokens = PyLong_AsLongLong(args[1])) == -1 && PyErr_Occurred())
            || (priced && as_double(args[2], &cost) < 0))
        return NULL;
    int code;
    PyObject *early;
    if (!gate_enter(self, now, &code, &early))
        return early;
    double *values = self->values;
    long outcome = ADMITTED;
    if (self->tpm_interval && tokens)
        values[TPM_CLOCK] = (values[TPM_CLOCK] > now ? values[TPM_CLOCK] : now) + tokens * self->tpm_interval;
    if (self->has_budget) {
        if (self->budget_in_tokens)
            values[SPENT] += (double)tokens;
        else if (priced)
            values[SPENT] += cost;
        else if (tokens) {
            values[UNPRICED] += 1.0;
            outcome = UNPRICED_ANSWER;
        }
    }
    if (self->concurrent && *self->seat) {  /* none held: the worker's row was released, and its places with it */
        *self->seat -= 1;
        double in_flight = values[IN_FLIGHT] - 1.0;
        values[IN_FLIGHT] = in_flight > 0.0 ? in_flight : 0.0;
    }
    lock_give(self->lock);
    return answer(outcome, code);
}

static PyObject *
Gate_enter_period(GateObject *self, PyObject *const *args, Py_ssize_t count)
{
    double starts, ends;
    if (!given(count, 2, "enter_period(starts, ends)") || as_double(args[0], &starts) < 0
            || as_double(args[1], &ends) < 0)
        return NULL;
    int code = lock_enter(self->lock);
    if (code < 0)
        return NULL;
    double *values = self->values;
    if (values[PERIOD] != starts) {  /* a new period starts from nothing */
        values[PERIOD] = starts;
        values[SPENT] = values[UNPRICED] = 0.0;
    }
    lock_give(self->lock);
    self->period_starts = starts;
    self->period_ends = ends;
    return answer(0, code);
}

static PyObject *
Gate_values(GateObject *self, PyObject *unused)
{
    double copy[ENTRY_NUMBERS];
    int code = lock_enter(self->lock);
    if (code < 0)
        return NULL;
    memcpy(copy, self->values, sizeof(copy));
    lock_give(self->lock);
    PyObject *numbers = PyList_New(ENTRY_NUMBERS);
    if (numbers == NULL)
        return NULL;
    for (int i = 0; i < ENTRY_NUMBERS; i++) {
        PyObject *number = PyFloat_FromDouble(copy[i]);
        if (number == NULL) {
            Py_DECREF(numbers);
            return NULL;
        }
        PyList_SET_ITEM(numbers, i, number);
    }
    return numbers;
}

static void
Gate_dealloc(GateObject *self)
{
    Py_XDECREF(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Gate_methods[] = {
    {"admit", (PyCFunction)Gate_admit, METH_O,
     "admit(now): let a request in (ADMITTED) counting it, or say the limit that refuses it (nothing counted); "
     "OUT_OF_PERIOD (nothing done) when the budget's period is not entered; plus RECOVERED when the lock's holder "
     "had died."},
    {"settle", (PyCFunction)(void (*)(void))Gate_settle, METH_FASTCALL,
     "settle(now, tokens, cost): an answer's tokens and cost (None: no price) counted and its place in flight given "
     "back: ADMITTED, UNPRICED_ANSWER (a USD budget's tokens without a price), or OUT_OF_PERIOD (nothing done); "
     "plus RECOVERED."},
    {"enter_period", (PyCFunction)(void (*)(void))Gate_enter_period, METH_FASTCALL,
     "enter_period(starts, ends): the entry put in the budget's period [starts, ends) (a new one starts from "
     "nothing); 0 or RECOVERED."},
    {"values", (PyCFunction)Gate_values, METH_NOARGS, "A copy of the entry's numbers, read under the lock."},
    {NULL}
};

static PyTypeObject GateType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "api.govern._gate.Gate",
    .tp_doc = PyDoc_STR("Gate(lock, values_at, seat_at, rpm, tpm, max_concurrent, budget, budget_in_tokens): a "
                        "client's entry at byte `values_at` of the lock's memory, this worker's count of its "
                        "requests in flight at byte `seat_at`, and its limits (0 or None: none)."),
    .tp_basicsize = sizeof(GateObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Gate_init,
    .tp_dealloc = (destructor)Gate_dealloc,
    .tp_methods = Gate_methods,
};

/* --- the module ---------------------------------------------------------------------------------- */

static PyMethodDef module_functions[] = {
    {"initialise_mutex", initialise_mutex, METH_VARARGS,
     "initialise_mutex(memory, at): a robust, process-shared mutex made anew, unlocked, at `at` of `memory` "
     "(nothing where there is none)."},
    {NULL}
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "api.govern._gate",
    "The limits ledger's lock and a client's admit and settle, in C (api/govern/_gate.c).", -1, module_functions,
};

PyMODINIT_FUNC
PyInit__gate(void)
{
    if (PyType_Ready(&LockType) < 0 || PyType_Ready(&GateType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "Lock", (PyObject *)&LockType) < 0
            || PyModule_AddObjectRef(m, "Gate", (PyObject *)&GateType) < 0
            || PyModule_AddIntConstant(m, "ROBUST", HAVE_ROBUST) < 0
            || PyModule_AddIntConstant(m, "RPM_CLOCK", RPM_CLOCK) < 0
            || PyModule_AddIntConstant(m, "TPM_CLOCK", TPM_CLOCK) < 0
            || PyModule_AddIntConstant(m, "PERIOD", PERIOD) < 0
            || PyModule_AddIntConstant(m, "SPENT", SPENT) < 0
            || PyModule_AddIntConstant(m, "UNPRICED", UNPRICED) < 0
            || PyModule_AddIntConstant(m, "IN_FLIGHT", IN_FLIGHT) < 0
            || PyModule_AddIntConstant(m, "ADMITTED", ADMITTED) < 0
            || PyModule_AddIntConstant(m, "BUDGET", BUDGET) < 0
            || PyModule_AddIntConstant(m, "CONCURRENT", CONCURRENT) < 0
            || PyModule_AddIntConstant(m, "TPM", TPM) < 0
            || PyModule_AddIntConstant(m, "RPM", RPM) < 0
            || PyModule_AddIntConstant(m, "OUT_OF_PERIOD", OUT_OF_PERIOD) < 0
            || PyModule_AddIntConstant(m, "UNPRICED_ANSWER", UNPRICED_ANSWER) < 0
            || PyModule_AddIntConstant(m, "RECOVERED", RECOVERED) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
