// tests/engine: the retry policy (engine/retry.hpp) — backoff growth, cap, jitter range, and the
// budget of attempts without progress.
#include <doctest/doctest.h>

#include <chrono>
#include <random>

#include "engine/retry.hpp"

using std::chrono::milliseconds;
using sv::engine::RetryBudget;
using sv::engine::RetryPolicy;

TEST_CASE("RetryPolicy::delay doubles per failure, is capped, and jitters within [half, full)") {
  const RetryPolicy policy{milliseconds(100), milliseconds(1000), 5};
  std::mt19937_64 rng(7);
  for (int round = 0; round < 50; ++round) {
    for (std::uint32_t failures : {1u, 2u, 3u, 4u, 5u, 40u}) {
      const std::int64_t full = std::min<std::int64_t>(100 * (std::int64_t{1} << std::min(failures - 1, 16u)), 1000);
      const auto d = policy.delay(failures, rng).count();
      CHECK(d >= full / 2);
      CHECK(d < full);
    }
  }
}

TEST_CASE("RetryPolicy::delay is reproducible from the seed") {
  const RetryPolicy policy{milliseconds(500), milliseconds(15'000), 3};
  std::mt19937_64 a(42), b(42);
  for (std::uint32_t f = 1; f <= 6; ++f) CHECK(policy.delay(f, a) == policy.delay(f, b));
}

TEST_CASE("RetryBudget allows `attempts` transient failures in a row; progress starts the count over") {
  const RetryPolicy policy{milliseconds(1), milliseconds(5), 3};
  RetryBudget budget(policy);
  CHECK(budget.failed(false) == 1);
  CHECK(budget.may_retry(true));
  CHECK_FALSE(budget.may_retry(false));  // a non-transient error is never retried
  CHECK(budget.failed(false) == 2);
  CHECK(budget.may_retry(true));
  CHECK(budget.failed(true) == 1);  // that attempt committed rows
  CHECK(budget.may_retry(true));
  CHECK(budget.failed(false) == 2);
  CHECK(budget.failed(false) == 3);
  CHECK_FALSE(budget.may_retry(true));
  CHECK(budget.allowed() == 3);
}

TEST_CASE("RetryBudget with one attempt retries nothing") {
  const RetryPolicy policy{milliseconds(1), milliseconds(5), 1};
  RetryBudget budget(policy);
  budget.failed(false);
  CHECK_FALSE(budget.may_retry(true));
}
