/* dezero-c: a minimal reverse-mode autograd framework. Include this one header. */
#ifndef DEZERO_H
#define DEZERO_H

#include "dezero/error.h"
#include "dezero/array.h"
#include "dezero/device.h"
#include "dezero/rng.h"
#include "dezero/config.h"
#include "dezero/variable.h"
#include "dezero/function.h"
#include "dezero/scope.h"
#include "dezero/math.h"
#include "dezero/shape.h"
#include "dezero/gradient_check.h"
#include "dezero/layer.h"
#include "dezero/sparse_grad.h"
#include "dezero/embedding.h"

#endif
