#include "router/metrics.h"

namespace mint::router {

LatencyHistogram::LatencyHistogram()
    : h_({0.5e-6, 1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4,
          1e-3,   2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1,  0.2,  0.5,  1.0}) {}

void LatencyHistogram::RecordNanos(int64_t nanos) {
  h_.Observe(static_cast<double>(nanos < 0 ? 0 : nanos) * 1e-9);
}

}  // namespace mint::router
