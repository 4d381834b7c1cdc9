// src/engine: the retry policy (see retry.hpp).
#include "engine/retry.hpp"

#include <algorithm>

namespace sv::engine {

std::chrono::milliseconds RetryPolicy::delay(std::uint32_t failures, std::mt19937_64& rng) const {
  const std::uint32_t doublings = std::min<std::uint32_t>(std::max<std::uint32_t>(failures, 1) - 1, 16);
  std::chrono::milliseconds d(base.count() * (std::int64_t{1} << doublings));
  d = std::min(d, max);
  // Full jitter on the upper half: spreads reconnects of many shards after a common outage.
  std::uniform_real_distribution<double> dist(0.5, 1.0);
  return std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(d.count()) * dist(rng)));
}

}  // namespace sv::engine
