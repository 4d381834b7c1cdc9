// src/engine: the one retry policy of the engine. Shard readers, the reshard follower and the
// position peeks all retry the same way: a transient error is retried after a backoff that
// doubles per failure up to a cap (full jitter on its upper half), until `max_retries` failures
// in a row without progress; progress (a committed chunk) starts the count over. Non-transient
// errors are not retried.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace sv::engine {

struct RetryPolicy {
  std::chrono::milliseconds base{500};    //!< first backoff
  std::chrono::milliseconds max{15'000};  //!< backoff cap (before jitter)
  std::uint32_t attempts = 1;             //!< failures in a row without progress allowed (>= 1)

  //! The wait after the `failures`-th failure in a row (1-based): base·2^(failures-1), capped,
  //! times a uniform factor in [0.5, 1) that spreads reconnects of many shards after an outage.
  std::chrono::milliseconds delay(std::uint32_t failures, std::mt19937_64& rng) const;
};

//! One retry loop's count of failures under a RetryPolicy.
class RetryBudget {
 public:
  explicit RetryBudget(const RetryPolicy& policy) : policy_(policy) {}

  //! Counts a failed attempt: the first failure after progress counts as 1, else one more.
  //! Returns the failures in a row (what delay() takes).
  std::uint32_t failed(bool progressed) {
    failures_ = progressed ? 1 : failures_ + 1;
    return failures_;
  }
  //! Whether the attempt just counted may be retried: its error was transient, and the budget of
  //! attempts without progress is not spent.
  bool may_retry(bool transient) const { return transient && failures_ < policy_.attempts; }
  std::uint32_t failures() const { return failures_; }
  std::uint32_t allowed() const { return policy_.attempts; }

 private:
  const RetryPolicy& policy_;
  std::uint32_t failures_ = 0;
};

}  // namespace sv::engine
