/*
 * biogate._native — CPython binding of the sharpness kernels.
 *
 * Takes any object exporting the buffer protocol (numpy arrays, memoryviews,
 * bytearrays) without copying it, validates dtype/shape/strides/ROI against the
 * layout ("gray", "nv12", "yuyv"), then runs the kernel with the GIL released.
 * Every rejection is a ValueError/TypeError that says what was wrong.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <limits.h>

#include "sharpness_kernels.h"

enum metric { M_LAPLACIAN, M_BRENNER, M_TENENGRAD };

/* Resolve the Y plane of `view` for `layout`, then crop it to roi and decimate by step. */
static int make_plane(const Py_buffer *view, const char *layout, PyObject *roi, Py_ssize_t step, bg_plane *out)
{
    if (view->itemsize != 1 || (view->format && strcmp(view->format, "B") != 0 && strcmp(view->format, "=B") != 0 &&
                                strcmp(view->format, "<B") != 0 && strcmp(view->format, "|B") != 0)) {
        PyErr_Format(PyExc_ValueError, "image must be uint8 (buffer format 'B'), got format '%s' itemsize %zd",
                     view->format ? view->format : "B", view->itemsize);
        return -1;
    }
    Py_ssize_t h, w, rs, ps;
    const Py_ssize_t *shape = view->shape, *strides = view->strides;
    if (strcmp(layout, "gray") == 0) {
        if (!(view->ndim == 2 || (view->ndim == 3 && shape[2] == 1))) {
            PyErr_Format(PyExc_ValueError, "layout 'gray' needs a 2-D (h, w) image, got %d dimensions", view->ndim);
            return -1;
        }
        h = shape[0], w = shape[1], rs = strides[0], ps = strides[1];
    } else if (strcmp(layout, "nv12") == 0) {
        if (view->ndim != 2 || shape[0] % 3 != 0) {
            PyErr_Format(PyExc_ValueError,
                         "layout 'nv12' needs a 2-D (h*3/2, w) buffer with a row count divisible by 3, got %d-D %zd rows",
                         view->ndim, view->ndim >= 1 ? shape[0] : 0);
            return -1;
        }
        h = shape[0] / 3 * 2, w = shape[1], rs = strides[0], ps = strides[1];
        if (w % 2 != 0 || h % 2 != 0) {
            PyErr_Format(PyExc_ValueError, "layout 'nv12' needs even width and height, got %zdx%zd", w, h);
            return -1;
        }
    } else if (strcmp(layout, "yuyv") == 0) {
        if (view->ndim == 3 && shape[2] == 2) {
            h = shape[0], w = shape[1], rs = strides[0], ps = strides[1];
        } else if (view->ndim == 2 && shape[1] % 4 == 0) {
            h = shape[0], w = shape[1] / 2, rs = strides[0], ps = 2 * strides[1];
        } else {
            PyErr_SetString(PyExc_ValueError,
                            "layout 'yuyv' needs (h, w, 2) or packed (h, 2*w) bytes with w even");
            return -1;
        }
    } else {
        PyErr_Format(PyExc_ValueError, "unknown layout '%s'; valid: gray, nv12, yuyv", layout);
        return -1;
    }
    if (h < 1 || w < 1) {
        PyErr_Format(PyExc_ValueError, "image is empty (%zdx%zd)", w, h);
        return -1;
    }
    if (rs <= 0 || ps <= 0) {
        PyErr_Format(PyExc_ValueError, "image strides must be positive, got row %zd pixel %zd", rs, ps);
        return -1;
    }
    if (h > INT_MAX / 2 || w > INT_MAX / 2) {
        PyErr_SetString(PyExc_ValueError, "image is too large");
        return -1;
    }
    Py_ssize_t x0 = 0, y0 = 0, rw = w, rh = h;
    if (roi != NULL && roi != Py_None) {
        if (!PyArg_ParseTuple(roi, "nnnn;roi must be a tuple (x, y, w, h) of ints", &x0, &y0, &rw, &rh))
            return -1;
        if (x0 < 0 || y0 < 0 || rw < 1 || rh < 1 || x0 > w - rw || y0 > h - rh) {
            PyErr_Format(PyExc_ValueError, "roi (%zd, %zd, %zd, %zd) is empty or outside the %zdx%zd image", x0, y0,
                         rw, rh, w, h);
            return -1;
        }
    }
    if (step < 1 || step > 1 << 16) {
        PyErr_Format(PyExc_ValueError, "step must be a positive integer, got %zd", step);
        return -1;
    }
    out->base = (const uint8_t *)view->buf + y0 * rs + x0 * ps;
    out->row_stride = rs * step;
    out->px_stride = ps * step;
    out->width = (int)((rw + step - 1) / step);
    out->height = (int)((rh + step - 1) / step);
    return 0;
}

static PyObject *score(PyObject *args, PyObject *kwargs, enum metric metric)
{
    static char *kwlist[] = {"image", "roi", "step", "layout", "threshold", NULL};
    PyObject *image, *roi = Py_None;
    Py_ssize_t step = 1;
    const char *layout = "gray";
    double threshold = 0.0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$Onsd", kwlist, &image, &roi, &step, &layout, &threshold))
        return NULL;
    if (metric != M_TENENGRAD && threshold != 0.0) {
        PyErr_SetString(PyExc_TypeError, "threshold applies to tenengrad only");
        return NULL;
    }
    if (!(threshold >= 0.0 && threshold < 65536.0)) {
        PyErr_Format(PyExc_ValueError, "threshold must be in [0, 65536), got %g", threshold);
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(image, &view, PyBUF_RECORDS_RO) != 0)
        return NULL;
    bg_plane plane;
    if (make_plane(&view, layout, roi, step, &plane) != 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    bg_moments m = {0, 0, 0};
    double value = 0.0;
    /* The buffer stays exported (and so alive and unresizable) while the GIL is released. */
    Py_BEGIN_ALLOW_THREADS
    switch (metric) {
    case M_LAPLACIAN:
        bg_laplacian_moments(&plane, &m);
        value = bg_variance(&m);
        break;
    case M_BRENNER:
        bg_brenner_moments(&plane, &m);
        value = m.count ? (double)m.sumsq / (double)m.count : 0.0;
        break;
    case M_TENENGRAD: {
        const double t2 = threshold * threshold;
        bg_tenengrad_moments(&plane, (uint32_t)(t2 >= 4294967295.0 ? 4294967295.0 : t2), &m);
        value = m.count ? (double)m.sumsq / (double)m.count : 0.0;
        break;
    }
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return PyFloat_FromDouble(value);
}

static PyObject *py_laplacian_var(PyObject *self, PyObject *args, PyObject *kwargs)
{
    (void)self;
    return score(args, kwargs, M_LAPLACIAN);
}

static PyObject *py_brenner(PyObject *self, PyObject *args, PyObject *kwargs)
{
    (void)self;
    return score(args, kwargs, M_BRENNER);
}

static PyObject *py_tenengrad(PyObject *self, PyObject *args, PyObject *kwargs)
{
    (void)self;
    return score(args, kwargs, M_TENENGRAD);
}

static PyObject *py_simd_path(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyUnicode_FromString(bg_simd_path());
}

#define SCORE_ARGS "(image, *, roi=None, step=1, layout='gray'"

static PyMethodDef methods[] = {
    {"laplacian_var", (PyCFunction)(void (*)(void))py_laplacian_var, METH_VARARGS | METH_KEYWORDS,
     "laplacian_var" SCORE_ARGS ") -> float\n\nVariance of the 3x3 Laplacian (OpenCV ksize=1, BORDER_REFLECT_101);\n"
     "equals cv2.Laplacian(gray, cv2.CV_64F).var() on the cropped, decimated image."},
    {"brenner", (PyCFunction)(void (*)(void))py_brenner, METH_VARARGS | METH_KEYWORDS,
     "brenner" SCORE_ARGS ") -> float\n\nMean of (I[y, x+2] - I[y, x])**2 over the valid columns."},
    {"tenengrad", (PyCFunction)(void (*)(void))py_tenengrad, METH_VARARGS | METH_KEYWORDS,
     "tenengrad" SCORE_ARGS ", threshold=0.0) -> float\n\nMean of Gx**2 + Gy**2 (3x3 Sobel, BORDER_REFLECT_101),\n"
     "counting only pixels whose gradient magnitude exceeds threshold."},
    {"simd_path", py_simd_path, METH_NOARGS, "simd_path() -> str\n\nVector code path the kernels run on this CPU."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "biogate._native",
    "C kernels for frame sharpness (Laplacian variance, Brenner, Tenengrad); GIL released.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void)
{
    return PyModule_Create(&module);
}
