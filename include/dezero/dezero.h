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
#include "dezero/linalg.h"
#include "dezero/activation.h"
#include "dezero/compare.h"
#include "dezero/search.h"
#include "dezero/statistics.h"
#include "dezero/loss.h"
#include "dezero/getitem.h"
#include "dezero/graph.h"
#include "dezero/gradient_check.h"
#include "dezero/layer.h"
#include "dezero/layers.h"
#include "dezero/datasets.h"
#include "dezero/npz.h"
#include "dezero/optim.h"
#include "dezero/sparse_grad.h"
#include "dezero/embedding.h"
#include "dezero/conv.h"
#include "dezero/normalization.h"

#endif
